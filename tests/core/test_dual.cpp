#include <metarec/core/dual.hpp>
#include <metarec/core/parameters.hpp>

#include <catch.hpp>

#include <cmath>
#include <sstream>

using D = metarec::Dual<double>;
using metarec::Dual;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_dual {

TEST_CASE("Dual: arithmetic follows the product and quotient rules", "[core][dual]") {
  const D x(3.0, 1.0), y(2.0, 0.0);
  // d/dx (x·y + x/y − x) at x=3, y=2 = y + 1/y − 1 = 1.5
  const D f = x * y + x / y - x;
  CHECK(f.value() == Approx(6.0 + 1.5 - 3.0));
  CHECK(f.tangent() == Approx(1.5));
  // d/dx (1/x²) at 3 = −2/27
  const D g = 1.0 / (x * x);
  CHECK(g.tangent() == Approx(-2.0 / 27.0));
  // constants mix in both orders; compound assignment
  D h = 2.0 * x - 1.0;
  h *= x;  // (2x − 1)x, derivative 4x − 1 = 11
  CHECK(h.value() == Approx(15.0));
  CHECK(h.tangent() == Approx(11.0));
  h /= D(5.0, 0.0);
  CHECK(h.tangent() == Approx(11.0 / 5.0));
  CHECK((-x).tangent() == -1.0);
}

TEST_CASE("Dual: elementary functions against hand derivatives", "[core][dual]") {
  const double a = 0.7;
  const D x(a, 1.0);
  CHECK(exp(x).tangent() == Approx(std::exp(a)));
  CHECK(log(x).tangent() == Approx(1.0 / a));
  CHECK(log1p(x).tangent() == Approx(1.0 / (1.0 + a)));
  CHECK(expm1(x).tangent() == Approx(std::exp(a)));
  CHECK(sqrt(x).tangent() == Approx(0.5 / std::sqrt(a)));
  CHECK(tanh(x).tangent() == Approx(1.0 - std::tanh(a) * std::tanh(a)));
  CHECK(sin(x).tangent() == Approx(std::cos(a)));
  CHECK(cos(x).tangent() == Approx(-std::sin(a)));
  CHECK(pow(x, 3.0).tangent() == Approx(3.0 * a * a));
  const double s = 1.0 / (1.0 + std::exp(-a));
  CHECK(sigmoid(x).value() == Approx(s));
  CHECK(sigmoid(x).tangent() == Approx(s * (1.0 - s)));
  CHECK(softplus(x).value() == Approx(std::log(1.0 + std::exp(a))));
  CHECK(softplus(x).tangent() == Approx(s));
  CHECK(abs(D(-2.0, 1.0)).tangent() == -1.0);
  CHECK(abs(D(0.0, 1.0)).tangent() == 0.0);
  CHECK(max(D(1.0, 5.0), D(2.0, 7.0)).tangent() == 7.0);
  CHECK(min(D(1.0, 5.0), D(2.0, 7.0)).tangent() == 5.0);
  // A composition: f(x) = x·exp(x) + √x, f'(x) = (1 + x)eˣ + 1/(2√x), at x = 2.
  const D y(2.0, 1.0);
  const D f = y * exp(y) + sqrt(y);
  CHECK(f.tangent() == Approx(3.0 * std::exp(2.0) + 1.0 / (2.0 * std::sqrt(2.0))));
  // The chain rule through log and a product: d/dx log(1 + x²) = 2x / (1 + x²) = 4/5 at x = 2.
  CHECK(log(1.0 + y * y).tangent() == Approx(0.8));
}

TEST_CASE("Dual: stable sigmoid and softplus for plain scalars", "[core][dual]") {
  CHECK(metarec::sigmoid(0.0) == 0.5);
  CHECK(metarec::sigmoid(-800.0) >= 0.0);
  CHECK(metarec::sigmoid(800.0) == 1.0);
  CHECK(metarec::softplus(800.0) == Approx(800.0));
  CHECK(metarec::softplus(-800.0) >= 0.0);
  CHECK(metarec::softplus(0.0) == Approx(std::log(2.0)));
  CHECK(metarec::softplus(1.5f) == Approx(std::log1p(std::exp(1.5))).epsilon(1e-6));
}

TEST_CASE("Dual: comparisons use values; value_of and tangent_of read both types",
          "[core][dual]") {
  CHECK(D(1.0, 9.0) == D(1.0, -9.0));
  CHECK(D(1.0, 0.0) < D(2.0, 0.0));
  CHECK(D(3.0) > 2.0);
  CHECK(metarec::value_of(D(4.0, 5.0)) == 4.0);
  CHECK(metarec::tangent_of(D(4.0, 5.0)) == 5.0);
  CHECK(metarec::value_of(4.0f) == 4.0f);
  CHECK(metarec::tangent_of(4.0f) == 0.0f);
  CHECK(metarec::isfinite(D(1.0, 2.0)));
  CHECK_FALSE(metarec::isfinite(D(1.0, std::nan(""))));
  std::ostringstream os;
  os << D(1.5, -2.0);
  CHECK(os.str() == "1.5 - 2ε");
}

TEST_CASE("Dual: Eigen matrices of duals give directional derivatives", "[core][dual]") {
  // f(x) = ‖A x‖² with A = [[1, 2], [0, 3]], x = (1, −1), direction v = (0.5, 2):
  // ∇f = 2AᵀAx, AᵀA = [[1, 2], [2, 13]], AᵀAx = (−1, −11), ∇f·v = 2(−0.5 − 22) = −45.
  metarec::Matrix<D> A(2, 2);
  A << D(1.0), D(2.0), D(0.0), D(3.0);
  metarec::Vector<D> x(2);
  x << D(1.0, 0.5), D(-1.0, 2.0);
  metarec::Vector<D> y(2);
  y.noalias() = A * x;
  const D f = y.squaredNorm();
  CHECK(f.value() == Approx(1.0 + 9.0));
  CHECK(f.tangent() == Approx(-45.0));
  CHECK(y.dot(y).tangent() == Approx(-45.0));
  // ‖y‖ = √f: derivative f'/(2√f).
  CHECK(y.norm().tangent() == Approx(-45.0 / (2.0 * std::sqrt(10.0))));
  // Scaling by a plain scalar (mixed ScalarBinaryOpTraits) and element-wise exp.
  const metarec::Vector<D> z = 2.0 * x;
  CHECK(z[1].tangent() == 4.0);
  const metarec::Vector<D> w = x.array().exp().matrix();
  CHECK(w[0].tangent() == Approx(0.5 * std::exp(1.0)));
  CHECK(x.allFinite());
  // float duals compile and differentiate too.
  const Dual<float> xf(2.0f, 1.0f);
  CHECK((xf * xf).tangent() == Approx(4.0f));
}

TEST_CASE("log_sum_exp: value, stability for large logits, and its dual tangent softmax · v", "[core][dual]") {
  metarec::Vector<double> y(3);
  y << 1.0, 2.0, -0.5;
  const double naive = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(-0.5));
  CHECK(metarec::log_sum_exp(y) == Approx(naive).epsilon(1e-14));
  // Shifted by 1000: the naive sum overflows, the shifted one is exact.
  const metarec::Vector<double> big = (y.array() + 1000.0).matrix();
  CHECK(metarec::log_sum_exp(big) == Approx(naive + 1000.0).epsilon(1e-14));
  const metarec::Vector<float> yf = y.cast<float>();
  CHECK(metarec::log_sum_exp(yf) == Approx(naive).epsilon(1e-6));
  // d/dε log Σ e^{y + εv} = softmax(y) · v; a column block works as well as a vector.
  const double v[3] = {0.3, -1.0, 2.0};
  metarec::Vector<D> yd(3);
  double expected = 0.0;
  for (int j = 0; j < 3; ++j) {
    yd[j] = D(y[j] + 1000.0, v[j]);
    expected += std::exp(y[j] - naive) * v[j];
  }
  const D l = metarec::log_sum_exp(yd);
  CHECK(l.value() == Approx(naive + 1000.0).epsilon(1e-14));
  CHECK(l.tangent() == Approx(expected).epsilon(1e-12));
  metarec::Matrix<double> m(3, 2);
  m.col(0) = y;
  m.col(1) = big;
  CHECK(metarec::log_sum_exp(m.col(1)) == Approx(naive + 1000.0).epsilon(1e-14));
}

}  // namespace unity_test_dual
