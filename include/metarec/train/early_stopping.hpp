#pragma once
/// @file early_stopping.hpp
/// @brief `EarlyStopping`: the one record of "best validation metric so far, and how long ago"
/// that `fit` and `Maml::train` both keep.
///
/// Each validation calls `update(metric, epoch)`. The first metric is always the best; a later one
/// is an improvement when it beats the best by more than `min_delta` (lower is better unless
/// `higher_is_better`). After `patience` validations in a row without improvement, `should_stop()`
/// is true (never with patience 0). The caller keeps whatever it restores (θ, Meta-SGD's α) when
/// `update` returns true.
/// @code
/// metarec::EarlyStopping stop({.patience = 3});
/// for (int e = 0; e < epochs && !stop.should_stop(); ++e) {
///   train_one_epoch();
///   if (stop.update(validation_rmse(), e)) best_theta = theta;
/// }
/// @endcode

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace metarec {

/// Options of `EarlyStopping`.
struct EarlyStoppingOptions {
  int patience = 0;               ///< stop after this many validations without improvement (0: never)
  double min_delta = 0.0;         ///< an improvement must beat the best by more than this
  bool higher_is_better = false;  ///< false for losses and errors, true for AUC, NDCG and the like
};

/// The best validation metric so far and the validations since (see the file comment).
class EarlyStopping {
 public:
  /// @throws std::invalid_argument on a negative patience or min_delta.
  explicit EarlyStopping(EarlyStoppingOptions options = {}) : opt_(options) {
    if (options.patience < 0 || !(options.min_delta >= 0.0))
      throw std::invalid_argument("EarlyStopping: patience and min_delta must be >= 0 (patience " +
                                  std::to_string(options.patience) + ", min_delta " +
                                  std::to_string(options.min_delta) + ")");
  }

  /// Records the metric of a validation after `epoch`; true when it is the new best.
  bool update(double metric, std::uint64_t epoch) noexcept {
    const bool improved =
        !has_best_ || (opt_.higher_is_better ? metric > best_ + opt_.min_delta
                                             : metric < best_ - opt_.min_delta);
    if (improved) {
      has_best_ = true;
      best_ = metric;
      best_epoch_ = epoch;
      bad_ = 0;
    } else {
      ++bad_;
    }
    return improved;
  }

  /// True after `patience` validations in a row without improvement (never with patience 0).
  [[nodiscard]] bool should_stop() const noexcept { return opt_.patience > 0 && bad_ >= opt_.patience; }
  [[nodiscard]] bool has_best() const noexcept { return has_best_; }
  /// The best metric (NaN before the first `update`).
  [[nodiscard]] double best() const noexcept {
    return has_best_ ? best_ : std::numeric_limits<double>::quiet_NaN();
  }
  [[nodiscard]] std::uint64_t best_epoch() const noexcept { return best_epoch_; }
  /// Validations since the best one.
  [[nodiscard]] int bad_epochs() const noexcept { return bad_; }
  [[nodiscard]] const EarlyStoppingOptions& options() const noexcept { return opt_; }

  /// Sets the record (as read from a checkpoint).
  void restore(bool has_best, double best, std::uint64_t best_epoch, int bad_epochs) noexcept {
    has_best_ = has_best;
    best_ = has_best ? best : std::numeric_limits<double>::infinity();
    best_epoch_ = best_epoch;
    bad_ = bad_epochs;
  }

 private:
  EarlyStoppingOptions opt_;
  bool has_best_ = false;
  double best_ = std::numeric_limits<double>::infinity();
  std::uint64_t best_epoch_ = 0;
  int bad_ = 0;
};

}  // namespace metarec
