#pragma once
/// @file sgd.hpp
/// @brief Stochastic gradient descent with optional heavy-ball momentum and L2 weight decay.

#include <metarec/core/parameters.hpp>
#include <metarec/detail/binary_io.hpp>
#include <metarec/optim/optimizer.hpp>

#include <cstdint>
#include <istream>
#include <ostream>

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
class Sgd {
 public:
  using Scalar = S;
  using Options = SgdOptions;

  explicit Sgd(SgdOptions options = {}) : opt_(options) {}

  /// (Re)creates the state for n parameters, zeroed.
  void reset(Eigen::Index n) {
    n_ = n;
    initialized_ = true;
    steps_ = 0;
    if (opt_.momentum != 0.0)
      velocity_ = Vector<S>::Zero(n);
    else
      velocity_.resize(0);
  }

  /// Dense step over all of θ.
  void step(VectorRef<S> theta, const ConstVectorRef<S>& grad) {
    prepare("Sgd::step", theta.size(), grad.size());
    update(theta, grad, 0, theta.size());
  }

  /// Lazy step over the segments `grad` touched.
  void step(VectorRef<S> theta, const SparseGradient<S>& grad) {
    prepare("Sgd::step (sparse)", theta.size(), grad.size());
    const Vector<S>& g = grad.dense();
    for (const Segment& s : grad.touched()) update(theta, g, s.offset, s.size);
  }

  void set_lr(double lr) noexcept { opt_.lr = lr; }
  [[nodiscard]] double lr() const noexcept { return opt_.lr; }
  [[nodiscard]] const SgdOptions& options() const noexcept { return opt_; }
  /// Number of steps taken since the last reset.
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }
  /// Velocity v (empty when momentum is 0).
  [[nodiscard]] const Vector<S>& velocity() const noexcept { return velocity_; }

  /// Writes options, step count and velocity.
  void save_state(std::ostream& out) const {
    detail::write_state_header(out, tag, version, sizeof(S), n_);
    detail::write_pod(out, opt_);
    detail::write_pod(out, steps_);
    detail::write_vector(out, velocity_);
  }
  /// Restores what `save_state` wrote (options included).
  /// @throws format_error when the stream holds another optimiser, scalar type or size.
  void load_state(std::istream& in) {
    const auto n = detail::read_state_header(in, "Sgd::load_state", tag, version, sizeof(S), n_);
    const auto o = detail::read_pod<SgdOptions>(in, "Sgd::load_state");
    const auto steps = detail::read_pod<std::int64_t>(in, "Sgd::load_state");
    auto v = detail::read_vector<S>(in, "Sgd::load_state (velocity)", -1);
    if (v.size() != (o.momentum != 0.0 ? n : 0))
      throw format_error("Sgd::load_state: velocity has " + std::to_string(v.size()) +
                         " entries for " + std::to_string(n) + " parameters");
    opt_ = o;
    steps_ = steps;
    velocity_ = std::move(v);
    n_ = n;
    initialized_ = true;
  }

 private:
  static constexpr const char* tag = "metarec.Sgd";
  static constexpr std::uint32_t version = 1;

  void prepare(const char* who, Eigen::Index theta_n, Eigen::Index grad_n) {
    if (!initialized_) reset(theta_n);
    detail::check_step_sizes(who, n_, theta_n, grad_n);
    ++steps_;
  }

  template <class G>
  void update(VectorRef<S>& theta, const G& g, Eigen::Index off, Eigen::Index len) {
    const S lr = static_cast<S>(opt_.lr);
    const S wd = static_cast<S>(opt_.weight_decay);
    auto t = theta.segment(off, len);
    const auto gs = g.segment(off, len);
    if (opt_.momentum != 0.0) {
      const S mu = static_cast<S>(opt_.momentum);
      auto v = velocity_.segment(off, len);
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

  SgdOptions opt_;
  Eigen::Index n_ = 0;
  bool initialized_ = false;
  std::int64_t steps_ = 0;
  Vector<S> velocity_;
};

}  // namespace metarec
