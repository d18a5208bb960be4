#pragma once
/// @file adagrad.hpp
/// @brief Adagrad: per-coordinate learning rates from accumulated squared gradients.

#include <metarec/core/parameters.hpp>
#include <metarec/optim/detail/flat_optimizer.hpp>
#include <metarec/optim/optimizer.hpp>

#include <array>
#include <cstdint>

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
class Adagrad : public detail::FlatOptimizer<Adagrad<S>, S, AdagradOptions> {
  using Base = detail::FlatOptimizer<Adagrad<S>, S, AdagradOptions>;
  friend Base;

 public:
  using Options = AdagradOptions;

  explicit Adagrad(AdagradOptions options = {}) : Base(options) {}

  /// Accumulated squared gradients G.
  [[nodiscard]] const Vector<S>& accumulator() const noexcept { return accumulator_; }

 private:
  static constexpr const char* name = "Adagrad";
  static constexpr const char* tag = "metarec.Adagrad";
  static constexpr std::uint32_t version = 1;

  // The accumulator starts at `initial_accumulator`.
  void reset_state(Eigen::Index n) {
    accumulator_ = Vector<S>::Constant(n, static_cast<S>(this->opt_.initial_accumulator));
  }
  std::array<Vector<S>*, 1> state() noexcept { return {&accumulator_}; }
  static Eigen::Index state_size(const AdagradOptions&, Eigen::Index n, std::size_t) noexcept { return n; }

  template <class G>
  void update(VectorRef<S>& theta, const G& g, Eigen::Index off, Eigen::Index len) {
    const S lr = static_cast<S>(this->opt_.lr);
    const S eps = static_cast<S>(this->opt_.eps);
    auto acc = accumulator_.segment(off, len).array();
    const auto gs = g.segment(off, len).array();
    acc += gs.square();
    theta.segment(off, len).array() -= lr * gs / (acc.sqrt() + eps);
  }

  Vector<S> accumulator_;
};

}  // namespace metarec
