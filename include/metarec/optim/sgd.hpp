#pragma once
/// @file sgd.hpp
/// @brief Stochastic gradient descent with optional heavy-ball momentum and L2 weight decay.

#include <metarec/core/parameters.hpp>
#include <metarec/optim/detail/flat_optimizer.hpp>
#include <metarec/optim/optimizer.hpp>


namespace metarec {

/// Options of `Sgd`.
struct SgdOptions {
  double lr = 0.01;            ///< learning rate η
  double momentum = 0.0;       ///< heavy-ball coefficient μ (0: plain SGD, no velocity stored)
  double weight_decay = 0.0;   ///< L2 coefficient λ added to the gradient (coupled)
};

/// SGD over a flat θ (PyTorch convention, no dampening):
///
///     g' = g + λ θ;   v ← μ v + g';   θ ← θ − η v        (μ > 0)
///     θ ← θ − η g'                                       (μ = 0)
///
/// The sparse step applies the same formula to the touched segments only ("lazy"): untouched
/// entries of θ and of v are not changed, so with momentum a row keeps its velocity until it is
/// touched again (unlike the dense step, which keeps moving every row). With μ = 0 and λ = 0 a
/// sparse step equals the dense step on the same gradient exactly.
/// @tparam S float or double
/// @code
/// metarec::Sgd<float> opt{metarec::SgdOptions{.lr = 0.05, .momentum = 0.9}};
/// opt.reset(theta.size());
/// opt.step(theta, grad);
/// @endcode
template <class S>
class Sgd : public detail::FlatOptimizer<Sgd<S>, S, SgdOptions, 1> {
 public:
  using detail::FlatOptimizer<Sgd<S>, S, SgdOptions, 1>::FlatOptimizer;

  /// Velocity v (empty when momentum is 0).
  [[nodiscard]] const Vector<S>& velocity() const noexcept { return this->state_[0]; }

 private:
  static bool keeps_state(const SgdOptions& o) noexcept { return o.momentum != 0.0; }

  template <class G>
  void update(VectorRef<S>& theta, const G& g, Eigen::Index off, Eigen::Index len) {
    const SgdOptions& o = this->opt_;
    const S lr = static_cast<S>(o.lr);
    const S wd = static_cast<S>(o.weight_decay);
    auto t = theta.segment(off, len);
    const auto gs = g.segment(off, len);
    if (o.momentum != 0.0) {
      const S mu = static_cast<S>(o.momentum);
      auto v = this->state_[0].segment(off, len);
      if (wd != S(0))
        v = mu * v + gs + wd * t;
      else
        v = mu * v + gs;
      t -= lr * v;
    } else if (wd != S(0)) {
      t -= lr * (gs + wd * t);
    } else {
      t -= lr * gs;
    }
  }

  friend detail::FlatOptimizer<Sgd<S>, S, SgdOptions, 1>;
  static constexpr detail::OptimizerId id{"Sgd", "metarec.Sgd", 1};
};

}  // namespace metarec
