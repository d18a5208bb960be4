#pragma once
/// @file median_calibration.hpp
/// @brief The MAE-optimal monotone recalibration of predicted ratings (isotonic regression under
/// the absolute error).
///
/// A model trained on squared error predicts (an estimate of) the conditional MEAN rating; the
/// point prediction that minimises the absolute error is the conditional MEDIAN. For ratings on
/// a 1..5 scale the two differ by up to half a star (a user whose ratings given a prediction of
/// 3.7 are mostly 4s), so MAE reported for an MSE-trained model is not its best MAE. This header
/// fits, on held-out (prediction, truth) pairs, the non-decreasing step function f minimising
/// Σ |truth_i − f(prediction_i)| (pool-adjacent-violators with block medians), and applies it.
/// It lowers MAE and raises RMSE; report which predictions a figure uses.
///
/// Conventions: truth first (as every metric here); equal predictions always share one value;
/// the median of an even number of values is the midpoint of the two middle ones (any value
/// between them minimises the absolute error); a prediction between two fitted blocks takes the
/// value of the nearer block (the lower one on a tie), below the first or above the last block
/// the value of that block.
/// Cost: O(n log n + n·V) for n pairs with V distinct true values (5 for star ratings).

#include <metarec/metrics/detail/metrics_common.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::metrics {

/// A fitted non-decreasing step function from predicted to calibrated rating.
/// @code
/// auto cal = metarec::metrics::MedianCalibration::fit(validation_truth, validation_predicted);
/// float r = cal(model_prediction);   // the MAE-optimal rating for that prediction
/// @endcode
class MedianCalibration {
 public:
  /// Fits the calibration on pairs (truth_i, predicted_i).
  /// @throws std::invalid_argument when the sizes differ, the inputs are empty, or a value is
  ///         not finite
  [[nodiscard]] static MedianCalibration fit(std::span<const double> truth,
                                             std::span<const double> predicted) {
    return fit_impl(truth, predicted);
  }
  /// @copydoc fit(std::span<const double>, std::span<const double>)
  [[nodiscard]] static MedianCalibration fit(std::span<const float> truth,
                                             std::span<const float> predicted) {
    return fit_impl(truth, predicted);
  }

  /// The calibrated rating for a prediction.
  [[nodiscard]] double operator()(double prediction) const {
    if (value_.empty()) throw std::logic_error("MedianCalibration: not fitted");
    // First block whose upper end is >= prediction.
    const auto it = std::lower_bound(hi_.begin(), hi_.end(), prediction);
    if (it == hi_.end()) return value_.back();
    const auto b = static_cast<std::size_t>(it - hi_.begin());
    if (prediction >= lo_[b] || b == 0) return value_[b];
    // In the gap between block b-1 and block b: the nearer one, the lower on a tie.
    return prediction - hi_[b - 1] <= lo_[b] - prediction ? value_[b - 1] : value_[b];
  }

  /// Number of steps (blocks) of the fitted function.
  [[nodiscard]] std::size_t steps() const noexcept { return value_.size(); }
  /// Lower / upper prediction covered by step b, and its value.
  [[nodiscard]] double lower(std::size_t b) const { return lo_.at(b); }
  [[nodiscard]] double upper(std::size_t b) const { return hi_.at(b); }
  [[nodiscard]] double value(std::size_t b) const { return value_.at(b); }

 private:
  std::vector<double> lo_, hi_, value_;

  template <class T>
  static MedianCalibration fit_impl(std::span<const T> truth, std::span<const T> predicted) {
    detail::require_same_size("MedianCalibration::fit", "truth", truth.size(), "predicted",
                              predicted.size());
    if (truth.empty()) throw std::invalid_argument("MedianCalibration::fit: no pairs to fit on");
    const std::size_t n = truth.size();
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(static_cast<double>(truth[i])) || !std::isfinite(static_cast<double>(predicted[i])))
        throw std::invalid_argument("MedianCalibration::fit: pair " + std::to_string(i) +
                                    " is not finite");
    // Distinct true values; each pair's index among them.
    std::vector<double> values(n);
    for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<double>(truth[i]);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    const std::size_t v = values.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return predicted[a] < predicted[b];
    });
    // Pool adjacent violators: a stack of blocks, each with the histogram of its true values.
    struct Block {
      double lo, hi;        // range of the predictions it covers
      std::size_t count;    // pairs in the block
      double median;
    };
    std::vector<Block> blocks;
    std::vector<std::size_t> hist;  // blocks.size() × v counts, block-major
    auto median_of = [&](std::size_t b, std::size_t count) {
      const std::size_t* h = hist.data() + b * v;
      // Values at (0-based) positions (count-1)/2 and count/2 of the sorted block.
      const std::size_t a = (count - 1) / 2, c = count / 2;
      double va = 0, vc = 0;
      std::size_t seen = 0;
      bool got_a = false;
      for (std::size_t k = 0; k < v; ++k) {
        seen += h[k];
        if (!got_a && seen > a) va = values[k], got_a = true;
        if (seen > c) {
          vc = values[k];
          break;
        }
      }
      return 0.5 * (va + vc);
    };
    for (std::size_t i = 0; i < n;) {
      // One new block per run of equal predictions.
      const double p = static_cast<double>(predicted[order[i]]);
      blocks.push_back({p, p, 0, 0.0});
      hist.resize(blocks.size() * v, 0);
      std::size_t* h = hist.data() + (blocks.size() - 1) * v;
      for (; i < n && static_cast<double>(predicted[order[i]]) == p; ++i) {
        const double t = static_cast<double>(truth[order[i]]);
        ++h[static_cast<std::size_t>(std::lower_bound(values.begin(), values.end(), t) - values.begin())];
        ++blocks.back().count;
      }
      blocks.back().median = median_of(blocks.size() - 1, blocks.back().count);
      // Merge while the previous block's value exceeds this one's.
      while (blocks.size() > 1 && blocks[blocks.size() - 2].median > blocks.back().median) {
        const std::size_t b = blocks.size() - 1;
        for (std::size_t k = 0; k < v; ++k) hist[(b - 1) * v + k] += hist[b * v + k];
        blocks[b - 1].hi = blocks[b].hi;
        blocks[b - 1].count += blocks[b].count;
        blocks.pop_back();
        hist.resize(blocks.size() * v);
        blocks.back().median = median_of(blocks.size() - 1, blocks.back().count);
      }
    }
    MedianCalibration c;
    for (const Block& b : blocks) {
      c.lo_.push_back(b.lo);
      c.hi_.push_back(b.hi);
      c.value_.push_back(b.median);
    }
    return c;
  }
};

}  // namespace metarec::metrics
