// Built with EIGEN_RUNTIME_NO_MALLOC: after one warm-up call per batch size, MeLU's loss, dense and
// sparse gradients and Hessian-vector products allocate nothing through Eigen.
#include "no_malloc.hpp"  // first: makes Eigen's malloc check live in every build type
#include "models/tiny_data.hpp"

#include <metarec/models/mlp/melu.hpp>

#include <catch.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_mlp_no_malloc {

// Once for the whole test_no_malloc executable (every allocation-free check of the library).
TEST_CASE("the malloc check is active in this build", "[alloc]") {
  CHECK(test::malloc_check_is_live());
}

TEST_CASE("Melu: steps do not allocate after warm-up", "[models][mlp][alloc]") {
  // With OpenMP, Eigen splits large enough products across threads outside a parallel region and
  // allocates the split's bookkeeping. metarec parallelises across tasks instead (inside a parallel
  // region Eigen stays sequential); single-threaded users set one Eigen thread, as here.
  Eigen::setNbThreads(1);
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const RatingBatch batch{&ds, rows, 3};
  const Melu<float> m(ds, {.dropout = 0.1});
  const Eigen::Index n = m.num_parameters();
  Vector<float> theta(n), g(n), hv(n), v = Vector<float>::Constant(n, 0.01f), pred(rows.size());
  Rng rng(1);
  m.initialize(theta, rng);
  SparseGradient<float> sg(n), sh(n);
  sg.reserve(1024);
  sh.reserve(1024);
  float total = 0;
  CHECK_FALSE(test::allocates([&] {  // the first call is the warm-up that sizes the workspace
    total += m.loss(theta, batch);
    total += m.loss_and_gradient(theta, batch, g);
    m.hessian_vector_product(theta, batch, v, hv);
    sg.clear();
    total += m.loss_and_gradient(theta, batch, sg);
    sh.clear();
    m.hessian_vector_product(theta, batch, v, sh);
    m.predict(theta, batch, pred);
  }));
  CHECK(std::isfinite(total));
  CHECK(g.allFinite());
  CHECK(hv.allFinite());
}

}  // namespace unity_test_mlp_no_malloc
