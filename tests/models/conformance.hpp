#pragma once
// The conformance suite every metarec model passes (docs/model_concept.md):
// gradient vs central differences, HVP vs differences of gradients, sparse == dense,
// a small step lowers the loss, the same seed gives the same θ, wrong sizes throw.

#include <metarec/core/concepts.hpp>
#include <metarec/core/rng.hpp>

#include <catch.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace metarec::test {

/// Finite-difference tolerances per scalar type: |fd − analytic| <= abs + rel·max(|fd|, |analytic|).
template <class S>
struct FdTolerance {
  double step = std::is_same_v<S, float> ? 2e-3 : 1e-6;
  double rel = std::is_same_v<S, float> ? 3e-2 : 1e-5;
  double abs = std::is_same_v<S, float> ? 2e-3 : 1e-7;
};

inline bool close(double a, double b, double rel, double abs) {
  return std::abs(a - b) <= abs + rel * std::max(std::abs(a), std::abs(b));
}

/// Random unit-scale direction with the model's θ size.
template <class S>
Vector<S> random_direction(Eigen::Index n, Rng& rng) {
  Vector<S> d(n);
  for (Eigen::Index k = 0; k < n; ++k) d[k] = static_cast<S>(rng.normal());
  return d;
}

/// Checks ∇L against central differences, coordinate-wise on up to `max_coords` coordinates with
/// the largest |gradient| plus random ones, and along random directions.
template <Model M>
void check_gradient(const M& model, const Vector<typename M::Scalar>& theta,
                    const typename M::Batch& batch, FdTolerance<typename M::Scalar> tol = {},
                    int max_coords = 60) {
  using S = typename M::Scalar;
  const Eigen::Index n = model.num_parameters();
  Vector<S> g(n);
  const S loss = model.loss_and_gradient(theta, batch, g);
  CHECK(close(loss, model.loss(theta, batch), 1e-5, 1e-6));
  REQUIRE(g.allFinite());
  REQUIRE(g.norm() > 0);
  Rng rng(99);
  std::vector<Eigen::Index> coords;
  if (n <= max_coords) {
    for (Eigen::Index k = 0; k < n; ++k) coords.push_back(k);
  } else {
    std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
    for (Eigen::Index k = 0; k < n; ++k) order[static_cast<std::size_t>(k)] = k;
    std::partial_sort(order.begin(), order.begin() + max_coords / 2, order.end(),
                      [&](auto a, auto b) { return std::abs(g[a]) > std::abs(g[b]); });
    coords.assign(order.begin(), order.begin() + max_coords / 2);
    for (int k = 0; k < max_coords / 2; ++k) coords.push_back(static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n))));
  }
  Vector<S> t = theta;
  const S h = static_cast<S>(tol.step);
  for (const Eigen::Index k : coords) {
    t[k] = theta[k] + h;
    const double lp = model.loss(t, batch);
    t[k] = theta[k] - h;
    const double lm = model.loss(t, batch);
    t[k] = theta[k];
    const double fd = (lp - lm) / (2.0 * static_cast<double>(h));
    INFO("coordinate " << k << ": analytic " << g[k] << ", central difference " << fd);
    CHECK(close(fd, g[k], tol.rel, tol.abs));
  }
  for (int trial = 0; trial < 3; ++trial) {
    Vector<S> d = random_direction<S>(n, rng);
    d /= d.norm();
    const double lp = model.loss((theta + h * d).eval(), batch);
    const double lm = model.loss((theta - h * d).eval(), batch);
    const double fd = (lp - lm) / (2.0 * static_cast<double>(h));
    const double an = static_cast<double>(g.dot(d));
    INFO("direction " << trial << ": analytic " << an << ", central difference " << fd);
    CHECK(close(fd, an, tol.rel, tol.abs));
  }
}

/// Checks H·v against central differences of gradients along random directions v.
template <HasHessianVectorProduct M>
void check_hessian_vector_product(const M& model, const Vector<typename M::Scalar>& theta,
                                  const typename M::Batch& batch,
                                  FdTolerance<typename M::Scalar> tol = {}) {
  using S = typename M::Scalar;
  const Eigen::Index n = model.num_parameters();
  Rng rng(7);
  for (int trial = 0; trial < 3; ++trial) {
    Vector<S> v = random_direction<S>(n, rng);
    v /= v.norm();
    Vector<S> hv(n), gp(n), gm(n);
    model.hessian_vector_product(theta, batch, v, hv);
    const S h = static_cast<S>(tol.step);
    (void)model.loss_and_gradient((theta + h * v).eval(), batch, gp);
    (void)model.loss_and_gradient((theta - h * v).eval(), batch, gm);
    const Vector<S> fd = (gp - gm) / (S(2) * h);
    REQUIRE(hv.allFinite());
    REQUIRE(hv.norm() > 0);
    const double err = static_cast<double>((fd - hv).norm());
    const double ref = static_cast<double>(std::max(fd.norm(), hv.norm()));
    INFO("trial " << trial << ": |Hv - fd| = " << err << ", |Hv| = " << hv.norm());
    CHECK(err <= tol.abs * std::sqrt(static_cast<double>(n)) + tol.rel * ref);
  }
}

/// Sparse gradient (and HVP) capabilities agree exactly with the dense versions.
template <Model M>
void check_sparse_matches_dense(const M& model, const Vector<typename M::Scalar>& theta,
                                const typename M::Batch& batch) {
  using S = typename M::Scalar;
  const Eigen::Index n = model.num_parameters();
  if constexpr (HasSparseGradient<M>) {
    Vector<S> dense(n);
    const S l1 = model.loss_and_gradient(theta, batch, dense);
    SparseGradient<S> sparse(n);
    // Dirty the sink first: clear() must restore zeros.
    (void)model.loss_and_gradient(theta, batch, sparse);
    sparse.clear();
    const S l2 = model.loss_and_gradient(theta, batch, sparse);
    CHECK(l1 == l2);
    CHECK((sparse.dense() - dense).cwiseAbs().maxCoeff() <= 1e-5 * (1 + dense.cwiseAbs().maxCoeff()));
    Eigen::Index touched = 0;
    for (const auto& s : sparse.touched()) touched += s.size;
    CHECK(touched <= n);
    if constexpr (HasSparseHessianVectorProduct<M>) {
      Rng rng(5);
      const Vector<S> v = random_direction<S>(n, rng);
      Vector<S> hv(n);
      model.hessian_vector_product(theta, batch, v, hv);
      sparse.clear();
      model.hessian_vector_product(theta, batch, v, sparse);
      CHECK((sparse.dense() - hv).cwiseAbs().maxCoeff() <= 1e-5 * (1 + hv.cwiseAbs().maxCoeff()));
    }
  }
}

/// A small gradient step lowers the loss (for models whose gradient is exact).
template <Model M>
void check_descent(const M& model, const Vector<typename M::Scalar>& theta,
                   const typename M::Batch& batch) {
  using S = typename M::Scalar;
  Vector<S> g(model.num_parameters());
  const S before = model.loss_and_gradient(theta, batch, g);
  const S lr = static_cast<S>(1e-2) / std::max<S>(S(1), g.norm());
  const S after = model.loss((theta - lr * g).eval(), batch);
  CHECK(after < before);
}

/// initialize() is a function of the seed; wrong sizes throw std::invalid_argument.
template <Model M>
void check_seed_and_sizes(const M& model, const typename M::Batch& batch) {
  using S = typename M::Scalar;
  const Eigen::Index n = model.num_parameters();
  REQUIRE(n > 0);
  Vector<S> a(n), b(n), c(n);
  Rng r1(11), r2(11), r3(12);
  model.initialize(a, r1);
  model.initialize(b, r2);
  model.initialize(c, r3);
  CHECK(a == b);
  CHECK(a != c);
  REQUIRE(a.allFinite());
  Vector<S> wrong(n + 1), g(n), out;
  CHECK_THROWS_AS(model.loss(wrong, batch), std::invalid_argument);
  CHECK_THROWS_AS(model.loss_and_gradient(wrong, batch, g), std::invalid_argument);
  Vector<S> g_wrong(n - 1);
  CHECK_THROWS_AS(model.loss_and_gradient(a, batch, g_wrong), std::invalid_argument);
}

/// What `run_conformance` did: the number of checks it ran, so that a test can assert that none was
/// skipped (a Catch2 SECTION in a helper called twice in one TEST_CASE runs only once; this suite
/// has no sections, and every test asserts the count).
struct ConformanceReport {
  int checks = 0;
};

/// How many checks `run_conformance` runs on a model of type M (by its capabilities).
template <Model M>
constexpr int conformance_checks() {
  int n = 2;  // seeding and sizes; sparse == dense (a no-op check without sparse gradients)
  if constexpr (has_exact_gradient<M>) n += 2;  // gradient, descent
  if constexpr (HasHessianVectorProduct<M>) n += 1;
  return n;
}

/// The whole suite on one model, θ drawn from initialize(seed) then perturbed so no entry is 0.
/// Every check runs, in order, on every call (no SECTIONs); returns how many ran.
template <Model M>
ConformanceReport run_conformance(const M& model, const typename M::Batch& batch,
                                  FdTolerance<typename M::Scalar> tol = {}) {
  using S = typename M::Scalar;
  static_assert(check_model<M>());
  ConformanceReport report;
  Vector<S> theta(model.num_parameters());
  Rng rng(2024);
  model.initialize(theta, rng);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] += static_cast<S>(0.05 * rng.normal());
  {
    INFO("initialisation is seeded; wrong sizes throw");
    check_seed_and_sizes(model, batch);
    ++report.checks;
  }
  if constexpr (has_exact_gradient<M>) {
    {
      INFO("gradient matches central differences");
      check_gradient(model, theta, batch, tol);
      ++report.checks;
    }
    {
      INFO("a small gradient step lowers the loss");
      check_descent(model, theta, batch);
      ++report.checks;
    }
  }
  if constexpr (HasHessianVectorProduct<M>) {
    INFO("Hessian-vector product matches differences of gradients");
    check_hessian_vector_product(model, theta, batch, tol);
    ++report.checks;
  }
  {
    INFO("sparse gradient and HVP equal the dense ones");
    check_sparse_matches_dense(model, theta, batch);
    ++report.checks;
  }
  return report;
}

/// `run_conformance` and a check that it ran every check this model type has.
template <Model M>
void conforms(const M& model, const typename M::Batch& batch, FdTolerance<typename M::Scalar> tol = {}) {
  const ConformanceReport r = run_conformance(model, batch, tol);
  CHECK(r.checks == conformance_checks<M>());
}

/// The suite for a model whose update is NOT a gradient (`exact_gradient = false`: an RBM's CD-k
/// direction): initialisation is seeded and wrong sizes throw, the direction is finite and not
/// zero, it is a function of (θ, batch) — the same batch seed gives a bitwise-identical direction,
/// another seed (other Gibbs samples) another — and the loss is finite. Returns how many checks ran.
template <Model M>
ConformanceReport run_direction_conformance(const M& model, const typename M::Batch& batch,
                                            const typename M::Batch& reseeded) {
  using S = typename M::Scalar;
  static_assert(!has_exact_gradient<M>, "use run_conformance for models with an exact gradient");
  ConformanceReport report;
  check_seed_and_sizes(model, batch);
  ++report.checks;
  Vector<S> theta(model.num_parameters());
  Rng rng(2024);
  model.initialize(theta, rng);
  Vector<S> a(theta.size()), b(theta.size()), c(theta.size());
  const S la = model.loss_and_gradient(theta, batch, a);
  const S lb = model.loss_and_gradient(theta, batch, b);
  const S lc = model.loss_and_gradient(theta, reseeded, c);
  CHECK(std::isfinite(static_cast<double>(la)));
  CHECK(std::isfinite(static_cast<double>(lc)));
  CHECK(a.allFinite());
  CHECK(a.norm() > 0);
  ++report.checks;
  CHECK(la == lb);
  CHECK(a == b);  // bitwise: the same seed draws the same samples
  CHECK(a != c);  // another seed, other samples
  ++report.checks;
  check_sparse_matches_dense(model, theta, batch);
  ++report.checks;
  return report;
}

}  // namespace metarec::test
