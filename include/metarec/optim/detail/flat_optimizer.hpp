#pragma once
/// @file flat_optimizer.hpp
/// @brief The part every optimiser over a flat θ shares (`Sgd`, `Adagrad`, `Adam`): state
/// bookkeeping, dense and lazy sparse steps, the learning rate, and the saved state format.
///
/// The base owns K state vectors (`state_`, one entry per parameter each, in the saved order) and
/// the bookkeeping around them. A derived optimiser (CRTP, befriending this base) provides
/// - `static constexpr OptimizerId id{"Sgd", "metarec.Sgd", 1}`: its name, state tag and version;
/// - `template <class G> void update(VectorRef<S>& θ, const G& g, Eigen::Index off, Eigen::Index len)`:
///   the update of one segment;
/// and may hide
/// - `static double initial_state(const Options&)`: the state's starting value (default 0);
/// - `static bool keeps_state(const Options&)`: false when the options need no state (plain SGD);
///   the state vectors are then empty (default true);
/// - `void begin_step()`: per-step scalars (Adam's bias corrections; default nothing);
/// - `sparse_update` (Adam prefetches the next touched segments).

#include <metarec/core/detail/binary_io.hpp>
#include <metarec/core/error.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/optim/optimizer.hpp>

#include <array>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <utility>

namespace metarec::detail {

/// An optimiser's name (in messages), the tag of its saved state and the state format's version.
struct OptimizerId {
  const char* name;
  const char* tag;
  std::uint32_t version;
};

template <class Derived, class S, class OptionsT, std::size_t K>
class FlatOptimizer {
 public:
  using Scalar = S;
  using Options = OptionsT;

  explicit FlatOptimizer(Options options = {}) : opt_(options) {}

  /// (Re)creates the state for n parameters (zero, or the optimiser's initial value); step count 0.
  void reset(Eigen::Index n) {
    n_ = n;
    initialized_ = true;
    steps_ = 0;
    const bool keep = Derived::keeps_state(opt_);
    for (Vector<S>& v : state_)
      v = keep ? Vector<S>::Constant(n, static_cast<S>(Derived::initial_state(opt_))) : Vector<S>();
  }

  /// Dense step over all of θ.
  void step(VectorRef<S> theta, const ConstVectorRef<S>& grad) {
    prepare(false, theta.size(), grad.size());
    self().update(theta, grad, 0, theta.size());
  }

  /// Lazy step over the segments `grad` touched (other entries of θ and of the state untouched).
  void step(VectorRef<S> theta, const SparseGradient<S>& grad) {
    prepare(true, theta.size(), grad.size());
    self().sparse_update(theta, grad);
  }

  void set_lr(double lr) noexcept { opt_.lr = lr; }
  [[nodiscard]] double lr() const noexcept { return opt_.lr; }
  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  /// Number of steps taken since the last reset.
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }

  /// Writes options, step count and the state vectors.
  void save_state(std::ostream& out) const {
    write_state_header(out, Derived::id.tag, Derived::id.version, sizeof(S), n_);
    write_pod(out, opt_);
    write_pod(out, steps_);
    for (const Vector<S>& v : state_) write_vector(out, v);
  }

  /// Restores what `save_state` wrote (options included); commits only after everything was read.
  /// @throws format_error when the stream holds another optimiser, scalar type or size.
  void load_state(std::istream& in) {
    const std::string who = std::string(Derived::id.name) + "::load_state";
    const auto n =
        read_state_header(in, who.c_str(), Derived::id.tag, Derived::id.version, sizeof(S), n_);
    const auto o = read_pod<Options>(in, who.c_str());
    const auto steps = read_pod<std::int64_t>(in, who.c_str());
    std::array<Vector<S>, K> read;
    for (std::size_t k = 0; k < K; ++k) {
      read[k] = read_vector<S>(in, (who + " (state)").c_str(), -1);
      const Eigen::Index want = Derived::keeps_state(o) ? n : 0;
      if (read[k].size() != want)
        throw format_error(who + ": state vector " + std::to_string(k) + " has " +
                           std::to_string(read[k].size()) + " entries for " + std::to_string(n) +
                           " parameters (expected " + std::to_string(want) + ")");
    }
    opt_ = o;
    steps_ = steps;
    state_ = std::move(read);
    n_ = n;
    initialized_ = true;
  }

 protected:
  [[nodiscard]] Derived& self() noexcept { return static_cast<Derived&>(*this); }
  [[nodiscard]] const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }

  /// The default lazy step: `update` on every touched segment, in order.
  void sparse_update(VectorRef<S>& theta, const SparseGradient<S>& grad) {
    const Vector<S>& g = grad.dense();
    for (const Segment& s : grad.touched()) self().update(theta, g, s.offset, s.size);
  }
  /// Nothing per step by default.
  void begin_step() noexcept {}
  /// State starts at 0 and is kept by default.
  static double initial_state(const Options&) noexcept { return 0.0; }
  static bool keeps_state(const Options&) noexcept { return true; }

  Options opt_;
  std::array<Vector<S>, K> state_;

 private:
  void prepare(bool sparse, Eigen::Index theta_n, Eigen::Index grad_n) {
    if (!initialized_) reset(theta_n);
    if (theta_n != grad_n || n_ != theta_n) {  // the message is built only on failure
      const std::string who = std::string(Derived::id.name) + (sparse ? "::step (sparse)" : "::step");
      check_step_sizes(who.c_str(), n_, theta_n, grad_n);
    }
    ++steps_;
    self().begin_step();
  }

  Eigen::Index n_ = 0;
  bool initialized_ = false;
  std::int64_t steps_ = 0;
};

}  // namespace metarec::detail
