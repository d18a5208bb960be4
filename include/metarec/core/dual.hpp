#pragma once
/// @file dual.hpp
/// @brief Forward-mode dual numbers `Dual<S>` (value + tangent) for exact directional derivatives,
/// usable as an Eigen scalar.
///
/// A dual number x = a + b·ε with ε² = 0 carries a value a and a tangent b. Evaluating any
/// composition of the operations below on duals whose tangents are the direction v gives, in the
/// tangents of the outputs, the exact directional derivative (Jacobian times v) — to rounding, with
/// no step size.
///
/// The models use this for exact Hessian-vector products: a model writes its (hand-derived) gradient
/// code once as a template over its arithmetic type T; run with T = S it is the gradient, run with
/// T = Dual<S> on θ lifted to Dual(θ_k, v_k) it returns, in the tangents, d/dε ∇L(θ + εv) = H·v.
/// The cost is a small constant times one gradient (not benchmarked), as for the R-operator (Pearlmutter
/// 1994), of which this is the mechanical form.
///
/// Conventions:
/// - Comparisons (`<`, `==`, ...) compare values only (branches follow the value, as in every
///   forward-mode AD tool); the derivative of `max`/`min`/`abs` at a tie or at 0 takes the branch
///   the value comparison picks (`abs`: sign(0) = 0).
/// - `sigmoid` and `softplus` are also defined for plain `float`/`double`, numerically stable, so
///   that templated model code calls the same names for T = S and T = Dual<S>.
/// - `value_of(x)` / `tangent_of(x)` read either type (a plain scalar has tangent 0).
/// - `Eigen::NumTraits<Dual<S>>` and the mixed `ScalarBinaryOpTraits` (Dual with S) are
///   specialised, so `Eigen::Matrix<Dual<S>, ...>`, products, `dot`, `squaredNorm`, `norm`,
///   `array().exp()` and scaling by a plain S work. Eigen does not vectorise duals (no packet type).

#include <Eigen/Core>

#include <cmath>
#include <compare>
#include <concepts>
#include <ostream>
#include <type_traits>

namespace metarec {

/// Dual number value + tangent·ε (ε² = 0): forward-mode automatic differentiation.
/// @tparam S float or double
/// @code
/// using D = metarec::Dual<double>;
/// const D x(2.0, 1.0);                  // x = 2, dx = 1
/// const D y = x * exp(x) + sqrt(x);     // y = 2e² + √2
/// double dy = y.tangent();              // dy/dx = 3e² + 1/(2√2)
/// @endcode
template <std::floating_point S>
class Dual {
 public:
  using value_type = S;

  /// Zero value and zero tangent.
  constexpr Dual() noexcept = default;
  /// A constant (tangent 0) or, with `tangent`, a variable seeded along a direction. Implicit from
  /// a value, so that plain constants mix freely with duals in model code.
  constexpr Dual(S value, S tangent = S(0)) noexcept : v_(value), d_(tangent) {}  // NOLINT

  [[nodiscard]] constexpr S value() const noexcept { return v_; }
  [[nodiscard]] constexpr S tangent() const noexcept { return d_; }

  constexpr Dual& operator+=(const Dual& o) noexcept {
    v_ += o.v_;
    d_ += o.d_;
    return *this;
  }
  constexpr Dual& operator-=(const Dual& o) noexcept {
    v_ -= o.v_;
    d_ -= o.d_;
    return *this;
  }
  constexpr Dual& operator*=(const Dual& o) noexcept {
    d_ = d_ * o.v_ + v_ * o.d_;
    v_ *= o.v_;
    return *this;
  }
  constexpr Dual& operator/=(const Dual& o) noexcept {
    const S inv = S(1) / o.v_;
    v_ *= inv;
    d_ = (d_ - v_ * o.d_) * inv;
    return *this;
  }

  friend constexpr Dual operator+(const Dual& a) noexcept { return a; }
  friend constexpr Dual operator-(const Dual& a) noexcept { return Dual(-a.v_, -a.d_); }
  friend constexpr Dual operator+(Dual a, const Dual& b) noexcept { return a += b; }
  friend constexpr Dual operator-(Dual a, const Dual& b) noexcept { return a -= b; }
  friend constexpr Dual operator*(Dual a, const Dual& b) noexcept { return a *= b; }
  friend constexpr Dual operator/(Dual a, const Dual& b) noexcept { return a /= b; }

  /// Value-only comparisons (see the file comment).
  friend constexpr bool operator==(const Dual& a, const Dual& b) noexcept { return a.v_ == b.v_; }
  friend constexpr std::partial_ordering operator<=>(const Dual& a, const Dual& b) noexcept {
    return a.v_ <=> b.v_;
  }

  friend std::ostream& operator<<(std::ostream& os, const Dual& a) {
    return os << a.v_ << (a.d_ < S(0) ? " - " : " + ") << std::abs(a.d_) << "ε";
  }

 private:
  S v_ = S(0);
  S d_ = S(0);
};

// --- reading either a plain scalar or a dual ------------------------------------------------------

/// Value of a plain scalar (itself).
template <std::floating_point S>
[[nodiscard]] constexpr S value_of(S x) noexcept {
  return x;
}
/// Value of a dual.
template <class S>
[[nodiscard]] constexpr S value_of(const Dual<S>& x) noexcept {
  return x.value();
}
/// Tangent of a plain scalar (0).
template <std::floating_point S>
[[nodiscard]] constexpr S tangent_of(S) noexcept {
  return S(0);
}
/// Tangent of a dual.
template <class S>
[[nodiscard]] constexpr S tangent_of(const Dual<S>& x) noexcept {
  return x.tangent();
}

// --- smooth functions for plain scalars (stable forms shared with the dual overloads) -------------

/// Logistic sigmoid 1/(1+e^{−x}), stable for large |x|.
template <std::floating_point S>
[[nodiscard]] S sigmoid(S x) noexcept {
  if (x >= S(0)) return S(1) / (S(1) + std::exp(-x));
  const S e = std::exp(x);
  return e / (S(1) + e);
}
/// softplus(x) = log(1 + e^x), stable for large |x|; its derivative is sigmoid(x).
template <std::floating_point S>
[[nodiscard]] S softplus(S x) noexcept {
  return (x > S(0) ? x : S(0)) + std::log1p(std::exp(-std::abs(x)));
}

// --- elementary functions of duals (found by ADL, also from inside Eigen) -------------------------

template <class S>
[[nodiscard]] Dual<S> exp(const Dual<S>& x) noexcept {
  const S e = std::exp(x.value());
  return {e, e * x.tangent()};
}
template <class S>
[[nodiscard]] Dual<S> log(const Dual<S>& x) noexcept {
  return {std::log(x.value()), x.tangent() / x.value()};
}
template <class S>
[[nodiscard]] Dual<S> log1p(const Dual<S>& x) noexcept {
  return {std::log1p(x.value()), x.tangent() / (S(1) + x.value())};
}
template <class S>
[[nodiscard]] Dual<S> expm1(const Dual<S>& x) noexcept {
  return {std::expm1(x.value()), std::exp(x.value()) * x.tangent()};
}
template <class S>
[[nodiscard]] Dual<S> sqrt(const Dual<S>& x) noexcept {
  const S r = std::sqrt(x.value());
  return {r, x.tangent() / (S(2) * r)};
}
template <class S>
[[nodiscard]] Dual<S> tanh(const Dual<S>& x) noexcept {
  const S t = std::tanh(x.value());
  return {t, (S(1) - t * t) * x.tangent()};
}
template <class S>
[[nodiscard]] Dual<S> sin(const Dual<S>& x) noexcept {
  return {std::sin(x.value()), std::cos(x.value()) * x.tangent()};
}
template <class S>
[[nodiscard]] Dual<S> cos(const Dual<S>& x) noexcept {
  return {std::cos(x.value()), -std::sin(x.value()) * x.tangent()};
}
/// x^p for a constant exponent p (x > 0, or any x for integral p).
template <class S>
[[nodiscard]] Dual<S> pow(const Dual<S>& x, S p) noexcept {
  const S y = std::pow(x.value(), p);
  return {y, p * std::pow(x.value(), p - S(1)) * x.tangent()};
}
/// |x|, with derivative sign(x) (0 at 0).
template <class S>
[[nodiscard]] Dual<S> abs(const Dual<S>& x) noexcept {
  const S s = x.value() > S(0) ? S(1) : (x.value() < S(0) ? S(-1) : S(0));
  return {std::abs(x.value()), s * x.tangent()};
}
/// The larger argument by value (the first one at a tie), tangent included.
template <class S>
[[nodiscard]] Dual<S> max(const Dual<S>& a, const Dual<S>& b) noexcept {
  return a.value() >= b.value() ? a : b;
}
/// The smaller argument by value (the first one at a tie), tangent included.
template <class S>
[[nodiscard]] Dual<S> min(const Dual<S>& a, const Dual<S>& b) noexcept {
  return a.value() <= b.value() ? a : b;
}
template <class S>
[[nodiscard]] Dual<S> sigmoid(const Dual<S>& x) noexcept {
  const S s = sigmoid(x.value());
  return {s, s * (S(1) - s) * x.tangent()};
}
template <class S>
[[nodiscard]] Dual<S> softplus(const Dual<S>& x) noexcept {
  return {softplus(x.value()), sigmoid(x.value()) * x.tangent()};
}
template <class S>
[[nodiscard]] bool isfinite(const Dual<S>& x) noexcept {
  return std::isfinite(x.value()) && std::isfinite(x.tangent());
}
template <class S>
[[nodiscard]] bool isnan(const Dual<S>& x) noexcept {
  return std::isnan(x.value()) || std::isnan(x.tangent());
}
template <class S>
[[nodiscard]] bool isinf(const Dual<S>& x) noexcept {
  return std::isinf(x.value()) || std::isinf(x.tangent());
}

/// log Σ_j e^{y_j} of a non-empty Eigen vector of S or Dual<S>, shifted by the largest value (stable);
/// vectorised for a plain S. The softmax / multinomial heads (autoencoders, SVAE) share it.
template <class Derived>
[[nodiscard]] typename Derived::Scalar log_sum_exp(const Eigen::DenseBase<Derived>& y) {
  using T = typename Derived::Scalar;
  if constexpr (std::is_floating_point_v<T>) {
    const T mx = y.maxCoeff();
    return T(mx + std::log((y.derived().array() - mx).exp().sum()));
  } else {
    using std::exp;
    using std::log;
    T mx = y[0];
    for (Eigen::Index j = 1; j < y.size(); ++j)
      if (y[j] > mx) mx = y[j];
    T sum{};
    for (Eigen::Index j = 0; j < y.size(); ++j) sum += exp(T(y[j] - mx));
    return T(mx + log(sum));
  }
}

}  // namespace metarec

namespace Eigen {

/// Eigen scalar traits of `metarec::Dual<S>` (see Eigen's "Using custom scalar types").
template <class S>
struct NumTraits<metarec::Dual<S>> : NumTraits<S> {
  using Real = metarec::Dual<S>;
  using NonInteger = metarec::Dual<S>;
  using Nested = metarec::Dual<S>;
  using Literal = metarec::Dual<S>;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 2 * NumTraits<S>::ReadCost,
    AddCost = 2 * NumTraits<S>::AddCost,
    MulCost = 3 * NumTraits<S>::MulCost + NumTraits<S>::AddCost
  };
  static inline Real epsilon() { return Real(NumTraits<S>::epsilon()); }
  static inline Real dummy_precision() { return Real(NumTraits<S>::dummy_precision()); }
  static inline Real highest() { return Real(NumTraits<S>::highest()); }
  static inline Real lowest() { return Real(NumTraits<S>::lowest()); }
  static inline Real infinity() { return Real(NumTraits<S>::infinity()); }
  static inline Real quiet_NaN() { return Real(NumTraits<S>::quiet_NaN()); }
};

/// Mixing a dual with a plain scalar (scaling a dual matrix by an S, or the reverse) gives a dual.
template <class S, class BinaryOp>
struct ScalarBinaryOpTraits<metarec::Dual<S>, S, BinaryOp> {
  using ReturnType = metarec::Dual<S>;
};
template <class S, class BinaryOp>
struct ScalarBinaryOpTraits<S, metarec::Dual<S>, BinaryOp> {
  using ReturnType = metarec::Dual<S>;
};

}  // namespace Eigen
