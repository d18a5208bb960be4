#pragma once
/// @file adam.hpp
/// @brief Adam / AdamW with a lazy sparse step for embedding tables.

#include <metarec/core/parameters.hpp>
#include <metarec/core/detail/prefetch.hpp>
#include <metarec/optim/detail/flat_optimizer.hpp>
#include <metarec/optim/optimizer.hpp>

#include <cmath>
#include <vector>

namespace metarec {

/// Options of `Adam`.
struct AdamOptions {
  double lr = 1e-3;            ///< learning rate η
  double beta1 = 0.9;          ///< decay of the first moment m
  double beta2 = 0.999;        ///< decay of the second moment v
  double eps = 1e-8;           ///< ε added to √v̂
  double weight_decay = 0.0;   ///< λ: decoupled (AdamW) when `decoupled`, else added to g
  bool decoupled = true;       ///< true: AdamW (Loshchilov & Hutter); false: L2 in the gradient
};

/// Adam (Kingma & Ba 2015) and AdamW. With t the global step count (incremented by every `step`):
///
///     g' = g + λ θ                       (only when !decoupled)
///     m ← β₁ m + (1−β₁) g';   v ← β₂ v + (1−β₂) g'²
///     m̂ = m / (1−β₁ᵗ);  v̂ = v / (1−β₂ᵗ)
///     θ ← θ − η λ θ                      (only when decoupled; PyTorch AdamW order: decay first)
///     θ ← θ − η m̂ / (√v̂ + ε)
///
/// **Lazy sparse step** (as TensorFlow's `LazyAdamOptimizer` / PyTorch `SparseAdam`): a sparse step
/// increments the *global* t, and updates m, v and θ on the touched segments only, with the
/// bias correction of the global t. Untouched rows keep their moments (they are not decayed) and
/// their θ (no momentum drift, no weight decay). This is not the same as a dense step with a gradient
/// that is zero off the touched rows — that would decay every moment and move every row — but it is
/// identical on the touched rows at the first step, and costs O(touched) instead of O(n).
/// @tparam S float or double
/// @code
/// metarec::Adam<float> opt{metarec::AdamOptions{.lr = 1e-3, .weight_decay = 1e-4}};
/// opt.reset(theta.size());
/// opt.step(theta, sparse_grad);
/// @endcode
template <class S>
class Adam : public detail::FlatOptimizer<Adam<S>, S, AdamOptions, 2> {
 public:
  using detail::FlatOptimizer<Adam<S>, S, AdamOptions, 2>::FlatOptimizer;

  /// First moment m and second moment v.
  [[nodiscard]] const Vector<S>& first_moment() const noexcept { return this->state_[0]; }
  [[nodiscard]] const Vector<S>& second_moment() const noexcept { return this->state_[1]; }

 private:

  // The bias corrections of step t, once per step.
  void begin_step() noexcept {
    const AdamOptions& o = this->opt_;
    const double t = static_cast<double>(this->steps());
    const double bc1 = 1.0 - std::pow(o.beta1, t);
    const double bc2 = 1.0 - std::pow(o.beta2, t);
    step_size_ = static_cast<S>(o.lr / bc1);
    inv_sqrt_bc2_ = static_cast<S>(1.0 / std::sqrt(bc2));
  }

  // The touched segments are scattered over θ (embedding columns of shuffled rows): prefetch θ,
  // m, v and g of the segment `ahead` places on, so that the misses overlap.
  void sparse_update(VectorRef<S>& theta, const SparseGradient<S>& grad) {
    const Vector<S>& g = grad.dense();
    const std::vector<Segment>& touched = grad.touched();
    constexpr std::size_t ahead = detail::prefetch_distance;
    for (std::size_t j = 0; j < touched.size(); ++j) {
      if (j + ahead < touched.size()) {
        const Segment& n = touched[j + ahead];
        detail::prefetch_range<true>(theta.data() + n.offset, n.size);
        detail::prefetch_range<true>(this->state_[0].data() + n.offset, n.size);
        detail::prefetch_range<true>(this->state_[1].data() + n.offset, n.size);
        detail::prefetch_range(g.data() + n.offset, n.size);
      }
      update(theta, g, touched[j].offset, touched[j].size);
    }
  }

  template <class G>
  void update(VectorRef<S>& theta, const G& g, Eigen::Index off, Eigen::Index len) {
    const AdamOptions& o = this->opt_;
    const S b1 = static_cast<S>(o.beta1);
    const S b2 = static_cast<S>(o.beta2);
    const S eps = static_cast<S>(o.eps);
    // η m̂ / (√v̂ + ε) = (η / bc1) m / (√v / √bc2 + ε)
    const S step_size = step_size_;
    const S inv_sqrt_bc2 = inv_sqrt_bc2_;
    auto t = theta.segment(off, len).array();
    auto m = this->state_[0].segment(off, len).array();
    auto v = this->state_[1].segment(off, len).array();
    const auto gs = g.segment(off, len).array();
    if (o.weight_decay != 0.0 && !o.decoupled) {
      const S wd = static_cast<S>(o.weight_decay);
      m = b1 * m + (S(1) - b1) * (gs + wd * t);
      v = b2 * v + (S(1) - b2) * (gs + wd * t).square();
    } else {
      m = b1 * m + (S(1) - b1) * gs;
      v = b2 * v + (S(1) - b2) * gs.square();
    }
    if (o.weight_decay != 0.0 && o.decoupled)
      t *= static_cast<S>(1.0 - o.lr * o.weight_decay);
    t -= step_size * m / (v.sqrt() * inv_sqrt_bc2 + eps);
  }

  S step_size_ = S(0), inv_sqrt_bc2_ = S(1);  // η / bc1 and 1 / √bc2 of the current step

  friend detail::FlatOptimizer<Adam<S>, S, AdamOptions, 2>;
  static constexpr detail::OptimizerId id{"Adam", "metarec.Adam", 1};
};

}  // namespace metarec
