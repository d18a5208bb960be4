#pragma once
/// @file adam.hpp
/// @brief Adam / AdamW with a lazy sparse step for embedding tables.

#include <metarec/core/parameters.hpp>
#include <metarec/detail/binary_io.hpp>
#include <metarec/detail/prefetch.hpp>
#include <metarec/optim/optimizer.hpp>

#include <cmath>
#include <cstdint>
#include <istream>
#include <ostream>
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
class Adam {
 public:
  using Scalar = S;
  using Options = AdamOptions;

  explicit Adam(AdamOptions options = {}) : opt_(options) {}

  /// (Re)creates m and v for n parameters, zeroed; t = 0.
  void reset(Eigen::Index n) {
    n_ = n;
    initialized_ = true;
    steps_ = 0;
    m_ = Vector<S>::Zero(n);
    v_ = Vector<S>::Zero(n);
  }

  void step(VectorRef<S> theta, const ConstVectorRef<S>& grad) {
    prepare("Adam::step", theta.size(), grad.size());
    update(theta, grad, 0, theta.size());
  }

  void step(VectorRef<S> theta, const SparseGradient<S>& grad) {
    prepare("Adam::step (sparse)", theta.size(), grad.size());
    const Vector<S>& g = grad.dense();
    const std::vector<Segment>& touched = grad.touched();
    constexpr std::size_t ahead = detail::prefetch_distance;
    // The touched segments are scattered over θ (embedding columns of shuffled rows): prefetch
    // θ, m, v and g of the segment `ahead` places on, so that the misses overlap.
    for (std::size_t j = 0; j < touched.size(); ++j) {
      if (j + ahead < touched.size()) {
        const Segment& n = touched[j + ahead];
        detail::prefetch_range<true>(theta.data() + n.offset, n.size);
        detail::prefetch_range<true>(m_.data() + n.offset, n.size);
        detail::prefetch_range<true>(v_.data() + n.offset, n.size);
        detail::prefetch_range(g.data() + n.offset, n.size);
      }
      update(theta, g, touched[j].offset, touched[j].size);
    }
  }

  void set_lr(double lr) noexcept { opt_.lr = lr; }
  [[nodiscard]] double lr() const noexcept { return opt_.lr; }
  [[nodiscard]] const AdamOptions& options() const noexcept { return opt_; }
  /// Global step count t.
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }
  [[nodiscard]] const Vector<S>& first_moment() const noexcept { return m_; }
  [[nodiscard]] const Vector<S>& second_moment() const noexcept { return v_; }

  void save_state(std::ostream& out) const {
    detail::write_state_header(out, tag, version, sizeof(S), n_);
    detail::write_pod(out, opt_);
    detail::write_pod(out, steps_);
    detail::write_vector(out, m_);
    detail::write_vector(out, v_);
  }
  /// @throws format_error when the stream holds another optimiser, scalar type or size.
  void load_state(std::istream& in) {
    const auto n = detail::read_state_header(in, "Adam::load_state", tag, version, sizeof(S), n_);
    const auto o = detail::read_pod<AdamOptions>(in, "Adam::load_state");
    const auto steps = detail::read_pod<std::int64_t>(in, "Adam::load_state");
    auto m = detail::read_vector<S>(in, "Adam::load_state (m)", n);
    auto v = detail::read_vector<S>(in, "Adam::load_state (v)", n);
    opt_ = o;
    steps_ = steps;
    m_ = std::move(m);
    v_ = std::move(v);
    n_ = n;
    initialized_ = true;
  }

 private:
  static constexpr const char* tag = "metarec.Adam";
  static constexpr std::uint32_t version = 1;

  void prepare(const char* who, Eigen::Index theta_n, Eigen::Index grad_n) {
    if (!initialized_) reset(theta_n);
    detail::check_step_sizes(who, n_, theta_n, grad_n);
    ++steps_;
    const double t = static_cast<double>(steps_);
    bc1_ = 1.0 - std::pow(opt_.beta1, t);
    bc2_ = 1.0 - std::pow(opt_.beta2, t);
    step_size_ = static_cast<S>(opt_.lr / bc1_);
    inv_sqrt_bc2_ = static_cast<S>(1.0 / std::sqrt(bc2_));
  }

  template <class G>
  void update(VectorRef<S>& theta, const G& g, Eigen::Index off, Eigen::Index len) {
    const S b1 = static_cast<S>(opt_.beta1);
    const S b2 = static_cast<S>(opt_.beta2);
    const S eps = static_cast<S>(opt_.eps);
    // η m̂ / (√v̂ + ε) = (η / bc1) m / (√v / √bc2 + ε)
    const S step_size = step_size_;
    const S inv_sqrt_bc2 = inv_sqrt_bc2_;
    auto t = theta.segment(off, len).array();
    auto m = m_.segment(off, len).array();
    auto v = v_.segment(off, len).array();
    const auto gs = g.segment(off, len).array();
    if (opt_.weight_decay != 0.0 && !opt_.decoupled) {
      const S wd = static_cast<S>(opt_.weight_decay);
      m = b1 * m + (S(1) - b1) * (gs + wd * t);
      v = b2 * v + (S(1) - b2) * (gs + wd * t).square();
    } else {
      m = b1 * m + (S(1) - b1) * gs;
      v = b2 * v + (S(1) - b2) * gs.square();
    }
    if (opt_.weight_decay != 0.0 && opt_.decoupled)
      t *= static_cast<S>(1.0 - opt_.lr * opt_.weight_decay);
    t -= step_size * m / (v.sqrt() * inv_sqrt_bc2 + eps);
  }

  AdamOptions opt_;
  Eigen::Index n_ = 0;
  bool initialized_ = false;
  std::int64_t steps_ = 0;
  double bc1_ = 1.0, bc2_ = 1.0;
  S step_size_ = S(0), inv_sqrt_bc2_ = S(1);  // η / bc1 and 1 / √bc2 of the current step
  Vector<S> m_, v_;
};

}  // namespace metarec
