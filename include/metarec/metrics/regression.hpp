#pragma once
/// @file regression.hpp
/// @brief Rating-prediction errors: MSE, RMSE, MAE.
///
/// Conventions shared by every metric in metarec::metrics:
/// - arguments are `std::span<const T>` (std::vector, std::array and C arrays convert implicitly;
///   pass an Eigen vector as `std::span<const float>(v.data(), v.size())`), truth first;
/// - sums are accumulated in double whatever `T` is;
/// - inputs of different lengths throw `std::invalid_argument`;
/// - a value that is undefined on its input (here: no rows) is a quiet NaN, never an exception.

#include <metarec/metrics/detail/metrics_common.hpp>

#include <cmath>
#include <cstddef>
#include <span>

namespace metarec::detail {
template <class T>
double mean_error(const char* function, std::span<const T> truth, std::span<const T> predicted,
                  bool squared) {
  require_same_size(function, "truth", truth.size(), "predicted", predicted.size());
  if (truth.empty()) return metric_nan;
  double sum = 0.0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double d = static_cast<double>(predicted[i]) - static_cast<double>(truth[i]);
    sum += squared ? d * d : std::abs(d);
  }
  return sum / static_cast<double>(truth.size());
}
}  // namespace metarec::detail

namespace metarec::metrics {

/// Mean squared error \f$\frac1n\sum_i(\hat y_i - y_i)^2\f$, accumulated in double.
/// @param truth      true values (ratings)
/// @param predicted  predictions, one per truth value
/// @return the MSE, or NaN when both inputs are empty
/// @throws std::invalid_argument when the sizes differ
/// @code
/// std::vector<double> y{1, 2, 3}, p{1, 2, 5};
/// double e = metarec::metrics::mse(y, p);  // (0 + 0 + 4) / 3
/// @endcode
[[nodiscard]] inline double mse(std::span<const double> truth, std::span<const double> predicted) {
  return detail::mean_error("metrics::mse", truth, predicted, true);
}
/// @copydoc mse(std::span<const double>, std::span<const double>)
[[nodiscard]] inline double mse(std::span<const float> truth, std::span<const float> predicted) {
  return detail::mean_error("metrics::mse", truth, predicted, true);
}

/// Root mean squared error \f$\sqrt{\frac1n\sum_i(\hat y_i - y_i)^2}\f$, accumulated in double.
/// @param truth      true values (ratings)
/// @param predicted  predictions, one per truth value
/// @return the RMSE, or NaN when both inputs are empty
/// @throws std::invalid_argument when the sizes differ
/// @code
/// std::vector<float> y{4, 2}, p{3, 2};
/// double e = metarec::metrics::rmse(y, p);  // sqrt((1 + 0) / 2)
/// @endcode
[[nodiscard]] inline double rmse(std::span<const double> truth, std::span<const double> predicted) {
  return std::sqrt(detail::mean_error("metrics::rmse", truth, predicted, true));
}
/// @copydoc rmse(std::span<const double>, std::span<const double>)
[[nodiscard]] inline double rmse(std::span<const float> truth, std::span<const float> predicted) {
  return std::sqrt(detail::mean_error("metrics::rmse", truth, predicted, true));
}

/// Mean absolute error \f$\frac1n\sum_i|\hat y_i - y_i|\f$, accumulated in double.
/// @param truth      true values (ratings)
/// @param predicted  predictions, one per truth value
/// @return the MAE, or NaN when both inputs are empty
/// @throws std::invalid_argument when the sizes differ
/// @code
/// std::vector<double> y{1, 2, 3}, p{2, 2, 1};
/// double e = metarec::metrics::mae(y, p);  // (1 + 0 + 2) / 3
/// @endcode
[[nodiscard]] inline double mae(std::span<const double> truth, std::span<const double> predicted) {
  return detail::mean_error("metrics::mae", truth, predicted, false);
}
/// @copydoc mae(std::span<const double>, std::span<const double>)
[[nodiscard]] inline double mae(std::span<const float> truth, std::span<const float> predicted) {
  return detail::mean_error("metrics::mae", truth, predicted, false);
}

}  // namespace metarec::metrics
