// Built with EIGEN_RUNTIME_NO_MALLOC: after one warm-up call per batch size, MeLU's loss, dense and
// sparse gradients and Hessian-vector products allocate nothing through Eigen.
// Release builds define NDEBUG, which silences eigen_assert (and with it Eigen's malloc check):
// make it throw instead, before Eigen is included, so the check is active in every build type.
#include <stdexcept>
#define eigen_assert(x) \
  if (!(x)) throw std::runtime_error("Eigen assertion failed: " #x)
#include "models/tiny_data.hpp"

#include <metarec/models/mlp/melu.hpp>

#include <catch.hpp>

using namespace metarec;

TEST_CASE("the malloc check is active in this build", "[models][mlp][alloc]") {
  Eigen::internal::set_is_malloc_allowed(false);
  bool threw = false;
  try {
    Vector<float> x(100);
    x.setZero();
  } catch (const std::runtime_error&) {
    threw = true;
  }
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(threw);
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
  // Warm-up: sizes the per-thread workspace.
  (void)m.loss_and_gradient(theta, batch, g);
  m.hessian_vector_product(theta, batch, v, hv);
  Eigen::internal::set_is_malloc_allowed(false);
  float total = 0;
  bool threw = false;
  try {
  for (int s = 0; s < 3; ++s) {
    total += m.loss(theta, batch);
    total += m.loss_and_gradient(theta, batch, g);
    m.hessian_vector_product(theta, batch, v, hv);
    sg.clear();
    total += m.loss_and_gradient(theta, batch, sg);
    sh.clear();
    m.hessian_vector_product(theta, batch, v, sh);
    m.predict(theta, batch, pred);
  }
  } catch (const std::runtime_error&) {
    threw = true;
  }
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK_FALSE(threw);
  CHECK(std::isfinite(total));
  CHECK(g.allFinite());
  CHECK(hv.allFinite());
}
