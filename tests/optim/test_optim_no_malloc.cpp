// Built with EIGEN_RUNTIME_NO_MALLOC: a dense or sparse step allocates nothing once reset.
#include "no_malloc.hpp"  // first: makes Eigen's malloc check live in every build type
#include <metarec/optim.hpp>

#include <catch.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_optim_no_malloc {

template <class O>
void run_without_malloc(O opt) {
  const Eigen::Index n = 64;
  Vector<float> theta = Vector<float>::Ones(n), g = Vector<float>::Constant(n, 0.5f);
  SparseGradient<float> sg(n);
  sg.reserve(8);
  opt.reset(n);
  sg.segment(8, 8).setConstant(1.0f);
  sg.segment(32, 8).setConstant(-1.0f);
  {
    const test::MallocForbidden forbidden;
    for (int s = 0; s < 10; ++s) {
      opt.step(theta, g);
      opt.step(theta, sg);
    }
  }
  CHECK(theta.allFinite());
}

TEST_CASE("optimiser steps do not allocate", "[optim][alloc]") {
  run_without_malloc(Sgd<float>{SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 0.1}});
  run_without_malloc(Adagrad<float>{});
  run_without_malloc(Adam<float>{AdamOptions{.weight_decay = 0.01}});
  run_without_malloc(Adam<float>{AdamOptions{.weight_decay = 0.01, .decoupled = false}});
}

}  // namespace unity_test_optim_no_malloc
