// Built with EIGEN_RUNTIME_NO_MALLOC: after one warm-up call per batch, the RBMs' CD-k directions
// (dense and sparse), losses and predictions and CF-NADE's gradients and Hessian-vector products
// (dense and sparse) allocate nothing through Eigen.
#include "no_malloc.hpp"  // first: makes Eigen's malloc check live in every build type
#include "models/tiny_data.hpp"

#include <metarec/data/row_batch.hpp>
#include <metarec/models/boltzmann/bernoulli_rbm.hpp>
#include <metarec/models/boltzmann/cf_nade.hpp>
#include <metarec/models/boltzmann/rbm_cf.hpp>

#include <catch.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_boltzmann_no_malloc {

using namespace metarec;

namespace {

// The cases run on the calling thread here: a worker thread's scratch is warmed up by the case it
// happens to draw, and an Eigen assertion must not be thrown inside a parallel region.
void one_thread() {
  Eigen::setNbThreads(1);
#if defined(_OPENMP)
  omp_set_num_threads(1);
#endif
}

using test::allocates;

}  // namespace

// The malloc check of the whole test_no_malloc executable: tests/models/mlp/test_mlp_no_malloc.cpp.

TEST_CASE("RBMs: CD-k steps, losses and predictions do not allocate after warm-up", "[models][boltzmann][alloc]") {
  one_thread();
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user);
  std::vector<RowIndex> first, second;
  for (const RowIndex r : rows) (r % 3 ? first : second).push_back(r);
  const WholeRows fold(ds, first, second, RowSide::user);
  auto check = [&](const auto& m) {
    const Eigen::Index n = m.num_parameters();
    Vector<float> theta(n), g(n), pred(static_cast<Eigen::Index>(fold.batch().num_targets()));
    Rng rng(1);
    m.initialize(theta, rng);
    SparseGradient<float> sg(n);
    sg.reserve(4096);
    float total = 0;
    CHECK_FALSE(allocates([&] {
      for (std::uint64_t seed = 1; seed <= 2; ++seed) {
        total += m.loss_and_gradient(theta, users.batch(seed), g);
        sg.clear();
        total += m.loss_and_gradient(theta, fold.batch(seed), sg);
      }
      total += m.loss(theta, users.batch());
      m.predict(theta, fold.batch(), pred);
    }));
    CHECK(std::isfinite(total));
  };
  check(RbmCf<float>(ds.num_items(), {.hidden = 8, .cd_steps = 3, .init_std = 0.3}));
  check(RbmCf<float>(ds.num_items(), {.hidden = 8, .cd_steps = 2, .init_std = 0.3, .mean_field_negative = true}));
  check(BernoulliRbm<float>(ds.num_items(), {.hidden = 8, .cd_steps = 2, .init_std = 0.3}));
}

TEST_CASE("CF-NADE: gradients and Hessian-vector products do not allocate after warm-up", "[models][boltzmann][alloc]") {
  one_thread();
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows items(ds, rows, RowSide::item);
  for (const std::vector<int>& hidden : {std::vector<int>{6}, std::vector<int>{6, 5}}) {
    const CfNade<float> m(ds.num_users(), {.hidden = hidden, .reg = 0.01}, RowSide::item);
    const Eigen::Index n = m.num_parameters();
    Vector<float> theta(n), g(n), hv(n), v = Vector<float>::Constant(n, 0.01f),
                                      pred(static_cast<Eigen::Index>(items.batch().num_targets()));
    Rng rng(2);
    m.initialize(theta, rng);
    SparseGradient<float> sg(n), sh(n);
    sg.reserve(4096);
    sh.reserve(4096);
    float total = 0;
    CHECK_FALSE(allocates([&] {
      for (std::uint64_t seed = 1; seed <= 2; ++seed) {
        total += m.loss_and_gradient(theta, items.batch(seed), g);
        m.hessian_vector_product(theta, items.batch(seed), v, hv);
        sg.clear();
        total += m.loss_and_gradient(theta, items.batch(seed), sg);
        sh.clear();
        m.hessian_vector_product(theta, items.batch(seed), v, sh);
      }
      total += m.loss(theta, items.batch(3));
      m.predict(theta, items.batch(), pred);
    }));
    CHECK(std::isfinite(total));
    CHECK(hv.allFinite());
  }
}

}  // namespace unity_test_boltzmann_no_malloc
