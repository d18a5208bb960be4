#pragma once
/// @file optimizer.hpp
/// @brief The `Optimizer<O, S>` concept: first-order optimisers over one flat parameter vector θ.
///
/// An optimiser owns its state (momentum, accumulators, moments, step count) and nothing else; the
/// trainer owns θ. Members (S = float or double):
///
/// | member | requires / ensures |
/// |---|---|
/// | `void reset(Eigen::Index n)` | (re)creates the state for n parameters, all zero (step count 0) |
/// | `void step(VectorRef<S> theta, const ConstVectorRef<S>& grad)` | dense update of all of θ; `grad.size() == theta.size() == n` |
/// | `void step(VectorRef<S> theta, const SparseGradient<S>& grad)` | lazy update of `grad.touched()` segments only; other entries of θ and of the state are not read or written |
/// | `void set_lr(double)`, `double lr() const` | the learning rate (schedules call `set_lr`) |
/// | `void save_state(std::ostream&) const` | writes options, step count and state vectors |
/// | `void load_state(std::istream&)` | restores them; throws `format_error` on another optimiser, scalar type, size or a truncated stream |
///
/// A `step` on an optimiser that was never `reset` resets it to θ's size first; a `step` with a θ of
/// another size than the last `reset` throws `std::invalid_argument`.
///
/// Sub-concepts name the missing piece when a type fails: `DenseOptimizer`, `SparseOptimizer`,
/// `CheckpointableOptimizer`. See docs/training.md.

#include <metarec/core/parameters.hpp>

#include <concepts>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>

namespace metarec {

/// O can be reset to a size and takes dense steps, with a settable learning rate.
template <class O, class S>
concept DenseOptimizer =
    std::floating_point<S> &&
    requires(O& o, const O& co, Vector<S>& theta, const Vector<S>& grad, Eigen::Index n, double lr) {
      o.reset(n);
      o.step(VectorRef<S>(theta), ConstVectorRef<S>(grad));
      o.set_lr(lr);
      { co.lr() } -> std::convertible_to<double>;
    };

/// O takes lazy steps from a `SparseGradient` (touched segments only).
template <class O, class S>
concept SparseOptimizer = DenseOptimizer<O, S> &&
                          requires(O& o, Vector<S>& theta, const SparseGradient<S>& grad) {
                            o.step(VectorRef<S>(theta), grad);
                          };

/// O saves and restores its complete state to and from a byte stream.
template <class O>
concept CheckpointableOptimizer = requires(O& o, const O& co, std::ostream& os, std::istream& is) {
  co.save_state(os);
  o.load_state(is);
};

/// The optimiser contract of metarec (Sgd, Adagrad, Adam all satisfy it).
template <class O, class S>
concept Optimizer = DenseOptimizer<O, S> && SparseOptimizer<O, S> && CheckpointableOptimizer<O>;

namespace detail {

/// Boundary checks shared by the optimisers; O(1), so they stay in `step`.
inline void check_step_sizes(const char* who, Eigen::Index state_n, Eigen::Index theta_n,
                             Eigen::Index grad_n) {
  if (theta_n != grad_n)
    throw std::invalid_argument(std::string(who) + ": theta has " + std::to_string(theta_n) +
                                " entries, the gradient " + std::to_string(grad_n) +
                                "; they must have the same size");
  if (state_n != theta_n)
    throw std::invalid_argument(std::string(who) + ": optimiser state is for " +
                                std::to_string(state_n) + " parameters, theta has " +
                                std::to_string(theta_n) + "; call reset(theta.size())");
}

}  // namespace detail
}  // namespace metarec
