#pragma once
/// @file loss.hpp
/// @brief Per-example losses on a scalar output ŷ with their first and second derivatives.
///
/// | kind | target | ℓ(ŷ) | ℓ' | ℓ'' | prediction |
/// |---|---|---|---|---|---|
/// | squared_error | the rating r | (ŷ − r)² | 2(ŷ − r) | 2 | ŷ |
/// | bce | y = [r > threshold] | log(1 + e^ŷ) − y ŷ (ŷ a logit) | σ(ŷ) − y | σ(ŷ)(1 − σ(ŷ)) | σ(ŷ) |

#include <metarec/nn/activation.hpp>

#include <algorithm>
#include <cmath>

namespace metarec::nn {

/// The loss a rating model minimises.
enum class LossKind { squared_error, bce };

/// Value and derivatives of one example's loss.
template <class S>
struct LossTerms {
  double value;  ///< ℓ (accumulated in double)
  S d1;          ///< ℓ'
  S d2;          ///< ℓ''
};

/// The target of a rating for a loss: the rating itself, or the 0/1 label [r > threshold].
[[nodiscard]] inline double loss_target(LossKind kind, double rating, double threshold) noexcept {
  return kind == LossKind::bce ? (rating > threshold ? 1.0 : 0.0) : rating;
}

/// ℓ, ℓ', ℓ'' at output `y_hat` for target `t` (see the table above).
template <class S>
[[nodiscard]] inline LossTerms<S> loss_terms(LossKind kind, S y_hat, double t) noexcept {
  if (kind == LossKind::squared_error) {
    const S e = y_hat - static_cast<S>(t);
    return {static_cast<double>(e) * static_cast<double>(e), S(2) * e, S(2)};
  }
  const double z = static_cast<double>(y_hat);
  // softplus(z) = max(z, 0) + log1p(exp(−|z|)), stable for any z.
  const double value = std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))) - t * z;
  const S s = detail::stable_sigmoid(y_hat);
  return {value, s - static_cast<S>(t), s * (S(1) - s)};
}

/// The model's prediction for output `y_hat`: ŷ (squared error) or σ(ŷ) (BCE).
template <class S>
[[nodiscard]] inline S loss_prediction(LossKind kind, S y_hat) noexcept {
  return kind == LossKind::bce ? detail::stable_sigmoid(y_hat) : y_hat;
}

}  // namespace metarec::nn
