#pragma once
/// @file adagrad.hpp
/// @brief Adagrad: per-coordinate learning rates from accumulated squared gradients.

#include <metarec/core/parameters.hpp>
#include <metarec/detail/binary_io.hpp>
#include <metarec/optim/optimizer.hpp>

#include <cstdint>
#include <istream>
#include <ostream>

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
class Adagrad {
 public:
  using Scalar = S;
  using Options = AdagradOptions;

  explicit Adagrad(AdagradOptions options = {}) : opt_(options) {}

  /// (Re)creates the accumulator for n parameters, filled with `initial_accumulator`.
  void reset(Eigen::Index n) {
    n_ = n;
    initialized_ = true;
    steps_ = 0;
    accumulator_ = Vector<S>::Constant(n, static_cast<S>(opt_.initial_accumulator));
  }

  void step(VectorRef<S> theta, const ConstVectorRef<S>& grad) {
    prepare("Adagrad::step", theta.size(), grad.size());
    update(theta, grad, 0, theta.size());
  }

  void step(VectorRef<S> theta, const SparseGradient<S>& grad) {
    prepare("Adagrad::step (sparse)", theta.size(), grad.size());
    const Vector<S>& g = grad.dense();
    for (const Segment& s : grad.touched()) update(theta, g, s.offset, s.size);
  }

  void set_lr(double lr) noexcept { opt_.lr = lr; }
  [[nodiscard]] double lr() const noexcept { return opt_.lr; }
  [[nodiscard]] const AdagradOptions& options() const noexcept { return opt_; }
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }
  /// Accumulated squared gradients G.
  [[nodiscard]] const Vector<S>& accumulator() const noexcept { return accumulator_; }

  void save_state(std::ostream& out) const {
    detail::write_state_header(out, tag, version, sizeof(S), n_);
    detail::write_pod(out, opt_);
    detail::write_pod(out, steps_);
    detail::write_vector(out, accumulator_);
  }
  /// @throws format_error when the stream holds another optimiser, scalar type or size.
  void load_state(std::istream& in) {
    const auto n =
        detail::read_state_header(in, "Adagrad::load_state", tag, version, sizeof(S), n_);
    const auto o = detail::read_pod<AdagradOptions>(in, "Adagrad::load_state");
    const auto steps = detail::read_pod<std::int64_t>(in, "Adagrad::load_state");
    auto acc = detail::read_vector<S>(in, "Adagrad::load_state (accumulator)", n);
    opt_ = o;
    steps_ = steps;
    accumulator_ = std::move(acc);
    n_ = n;
    initialized_ = true;
  }

 private:
  static constexpr const char* tag = "metarec.Adagrad";
  static constexpr std::uint32_t version = 1;

  void prepare(const char* who, Eigen::Index theta_n, Eigen::Index grad_n) {
    if (!initialized_) reset(theta_n);
    detail::check_step_sizes(who, n_, theta_n, grad_n);
    ++steps_;
  }

  template <class G>
  void update(VectorRef<S>& theta, const G& g, Eigen::Index off, Eigen::Index len) {
    const S lr = static_cast<S>(opt_.lr);
    const S eps = static_cast<S>(opt_.eps);
    auto acc = accumulator_.segment(off, len).array();
    const auto gs = g.segment(off, len).array();
    acc += gs.square();
    theta.segment(off, len).array() -= lr * gs / (acc.sqrt() + eps);
  }

  AdagradOptions opt_;
  Eigen::Index n_ = 0;
  bool initialized_ = false;
  std::int64_t steps_ = 0;
  Vector<S> accumulator_;
};

}  // namespace metarec
