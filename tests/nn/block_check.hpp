#pragma once
// Finite-difference checks of one building block of metarec/nn (shared by the tests in tests/nn):
// the block is wrapped into the scalar L(θ) = Σ C∘Y + ½‖Y‖² of its output Y (C fixed and random),
// so ∂L/∂Y = C + Y and R{∂L/∂Y} = R{Y}; the gradient is compared with central differences and the
// R-operator H·v with differences of gradients, in double.
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>

#include <catch.hpp>

#include <cmath>
#include <cstdint>

namespace metarec::test {

inline Matrix<double> random_matrix(Eigen::Index r, Eigen::Index c, Rng& rng) {
  Matrix<double> m(r, c);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = rng.normal();
  return m;
}
inline Vector<double> random_vector(Eigen::Index n, Rng& rng) {
  Vector<double> v(n);
  for (Eigen::Index k = 0; k < n; ++k) v[k] = rng.normal();
  return v;
}

// P provides: n(), forward(θ) -> Matrix Y, backward(θ, G, grad) (grad accumulated),
// hvp(θ, v, G, RG-callback) via r_forward(θ, v) -> RY and r_backward(θ, v, G, RG, out).
template <class P>
struct Harness {
  P& p;
  Matrix<double> C;
  explicit Harness(P& probe, Rng& rng) : p(probe) {
    Vector<double> t = random_vector(p.n(), rng);
    const Matrix<double> y = p.forward(t);
    C = random_matrix(y.rows(), y.cols(), rng);
  }
  double loss(const Vector<double>& t) {
    const Matrix<double> y = p.forward(t);
    return C.cwiseProduct(y).sum() + 0.5 * y.squaredNorm();
  }
  Vector<double> grad(const Vector<double>& t) {
    const Matrix<double> y = p.forward(t);
    const Matrix<double> G = C + y;
    Vector<double> g = Vector<double>::Zero(p.n());
    p.backward(t, G, g);
    return g;
  }
  Vector<double> hvp(const Vector<double>& t, const Vector<double>& v) {
    const Matrix<double> y = p.forward(t);
    const Matrix<double> G = C + y;
    Vector<double> scratch = Vector<double>::Zero(p.n());
    p.backward(t, G, scratch);  // leaves the intermediate deltas in the probe's workspace
    const Matrix<double> RY = p.r_forward(t, v);
    Vector<double> hv = Vector<double>::Zero(p.n());
    p.r_backward(t, v, G, RY, hv);
    return hv;
  }
};

template <class P>
void check_block(P& probe, std::uint64_t seed = 1) {
  Rng rng(seed);
  Harness<P> h(probe, rng);
  const Vector<double> t = 0.7 * random_vector(probe.n(), rng);
  const Vector<double> g = h.grad(t);
  REQUIRE(g.norm() > 0);
  const double step = 1e-6;
  for (Eigen::Index k = 0; k < t.size(); ++k) {
    Vector<double> tp = t, tm = t;
    tp[k] += step;
    tm[k] -= step;
    const double fd = (h.loss(tp) - h.loss(tm)) / (2 * step);
    INFO("coordinate " << k << ": analytic " << g[k] << ", central difference " << fd);
    CHECK(std::abs(fd - g[k]) <= 1e-6 + 1e-5 * std::abs(fd));
  }
  for (int trial = 0; trial < 3; ++trial) {
    const Vector<double> v = random_vector(probe.n(), rng);
    const Vector<double> hv = h.hvp(t, v);
    const Vector<double> fd = (h.grad(t + step * v) - h.grad(t - step * v)) / (2 * step);
    REQUIRE(hv.norm() > 0);
    INFO("trial " << trial << ": |Hv - fd| = " << (hv - fd).norm() << ", |Hv| = " << hv.norm());
    CHECK((hv - fd).norm() <= 1e-6 * std::sqrt(double(t.size())) + 1e-5 * hv.norm());
  }
}

}  // namespace metarec::test
