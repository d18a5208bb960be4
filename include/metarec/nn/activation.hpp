#pragma once
/// @file activation.hpp
/// @brief Element-wise activations with their first and second derivatives, batched.
///
/// For a = f(z) the backward pass needs f'(z) and the R-operator pass needs f''(z):
/// R{a} = f'(z)∘R{z}, and R{∂L/∂z} = f''(z)∘R{z}∘∂L/∂a + f'(z)∘R{∂L/∂a}.
/// The kind is switched on once per call (outside the element loops), never per element.

#include <metarec/nn/common.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace metarec::nn {

/// The activations of metarec's networks.
enum class Activation { identity, relu, selu, tanh, sigmoid };

/// Name of an activation (for messages and docs).
[[nodiscard]] inline const char* to_string(Activation a) noexcept {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::selu: return "selu";
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
  }
  return "?";
}

namespace detail {
inline constexpr double selu_lambda = 1.0507009873554804934193349852946;
inline constexpr double selu_alpha = 1.6732632423543772848170429916717;

/// Logistic function computed without overflow for large |z|.
template <class S>
[[nodiscard]] inline S stable_sigmoid(S z) noexcept {
  if (z >= S(0)) return S(1) / (S(1) + std::exp(-z));
  const S e = std::exp(z);
  return e / (S(1) + e);
}
}  // namespace detail

/// a = f(z) and d1 = f'(z), element-wise. `a` and `d1` must have z's shape and must not alias z.
/// @param act the activation
/// @param z pre-activations (units × batch)
/// @param a OVERWRITTEN with f(z)
/// @param d1 OVERWRITTEN with f'(z) (ReLU: 1 where z > 0, else 0)
template <class S>
void activation_forward(Activation act, const ConstMatRef<S>& z, MatRef<S> a, MatRef<S> d1) {
  eigen_assert(a.rows() == z.rows() && a.cols() == z.cols());
  switch (act) {
    case Activation::identity:
      a = z;
      d1.setOnes();
      break;
    case Activation::relu:
      a = z.cwiseMax(S(0));
      d1 = (z.array() > S(0)).template cast<S>().matrix();
      break;
    case Activation::selu: {
      const S lam = static_cast<S>(detail::selu_lambda);
      const S la = static_cast<S>(detail::selu_lambda * detail::selu_alpha);
      a = z.unaryExpr([=](S x) { return x > S(0) ? lam * x : la * (std::exp(x) - S(1)); });
      d1 = z.unaryExpr([=](S x) { return x > S(0) ? lam : la * std::exp(x); });
      break;
    }
    case Activation::tanh:
      a = z.array().tanh().matrix();
      d1 = (S(1) - a.array().square()).matrix();
      break;
    case Activation::sigmoid:
      a = z.unaryExpr([](S x) { return detail::stable_sigmoid(x); });
      d1 = (a.array() * (S(1) - a.array())).matrix();
      break;
  }
}

/// d2 = f''(z), element-wise.
/// @param d2 OVERWRITTEN with f''(z) (0 for identity and ReLU)
template <class S>
void activation_second(Activation act, const ConstMatRef<S>& z, MatRef<S> d2) {
  switch (act) {
    case Activation::identity:
    case Activation::relu:
      d2.setZero();
      break;
    case Activation::selu: {
      const S la = static_cast<S>(detail::selu_lambda * detail::selu_alpha);
      d2 = z.unaryExpr([=](S x) { return x > S(0) ? S(0) : la * std::exp(x); });
      break;
    }
    case Activation::tanh:
      d2 = z.unaryExpr([](S x) {
        const S t = std::tanh(x);
        return S(-2) * t * (S(1) - t * t);
      });
      break;
    case Activation::sigmoid:
      d2 = z.unaryExpr([](S x) {
        const S s = detail::stable_sigmoid(x);
        return s * (S(1) - s) * (S(1) - S(2) * s);
      });
      break;
  }
}

/// Whether f'' is identically zero (identity, ReLU): the R-backward pass then skips a term.
[[nodiscard]] inline bool has_zero_curvature(Activation act) noexcept {
  return act == Activation::identity || act == Activation::relu;
}

}  // namespace metarec::nn
