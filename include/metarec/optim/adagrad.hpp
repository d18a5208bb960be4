#pragma once
/// @file adagrad.hpp
/// @brief Adagrad: per-coordinate learning rates from accumulated squared gradients.

#include <metarec/core/parameters.hpp>
#include <metarec/optim/detail/flat_optimizer.hpp>
#include <metarec/optim/optimizer.hpp>


namespace metarec {

/// Options of `Adagrad`.
struct AdagradOptions {
  double lr = 0.01;                  ///< learning rate η
  double eps = 1e-10;                ///< ε added to √G
  double initial_accumulator = 0.0;  ///< G₀ (TensorFlow uses 0.1, PyTorch 0)
};

/// Adagrad (Duchi et al. 2011), per coordinate:
///
///     G ← G + g²;   θ ← θ − η g / (√G + ε)
///
/// The sparse step updates G and θ on the touched segments only. Because Adagrad has no decay, a
/// coordinate whose gradient is zero would not change either, so sparse and dense steps give the
/// same θ and G whenever the untouched entries of the dense gradient are zero.
/// @tparam S float or double
/// @code
/// metarec::Adagrad<double> opt{metarec::AdagradOptions{.lr = 0.1}};
/// opt.step(theta, grad);   // resets to theta.size() on first use
/// @endcode
template <class S>
class Adagrad : public detail::FlatOptimizer<Adagrad<S>, S, AdagradOptions, 1> {
 public:
  using detail::FlatOptimizer<Adagrad<S>, S, AdagradOptions, 1>::FlatOptimizer;

  /// Accumulated squared gradients G.
  [[nodiscard]] const Vector<S>& accumulator() const noexcept { return this->state_[0]; }

 private:
  static double initial_state(const AdagradOptions& o) noexcept { return o.initial_accumulator; }

  template <class G>
  void update(VectorRef<S>& theta, const G& g, Eigen::Index off, Eigen::Index len) {
    const S lr = static_cast<S>(this->opt_.lr);
    const S eps = static_cast<S>(this->opt_.eps);
    auto acc = this->state_[0].segment(off, len).array();
    const auto gs = g.segment(off, len).array();
    acc += gs.square();
    theta.segment(off, len).array() -= lr * gs / (acc.sqrt() + eps);
  }

  friend detail::FlatOptimizer<Adagrad<S>, S, AdagradOptions, 1>;
  static constexpr detail::OptimizerId id{"Adagrad", "metarec.Adagrad", 1};
};

}  // namespace metarec
