#pragma once
/// @file evaluate.hpp
/// @brief Rating-prediction errors of a model on rows of a data set, and a validation callable
/// for `fit` built on them.

#include <metarec/data/batch.hpp>
#include <metarec/core/concepts.hpp>
#include <metarec/data/dataset.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>

namespace metarec {

/// Squared and absolute errors of a model's predictions on some rows.
struct RatingErrors {
  double mse = std::numeric_limits<double>::quiet_NaN();   ///< mean squared error (NaN: no rows)
  double rmse = std::numeric_limits<double>::quiet_NaN();  ///< √mse
  double mae = std::numeric_limits<double>::quiet_NaN();   ///< mean absolute error
  std::size_t count = 0;                                   ///< number of rows
};

/// Running sums of squared and absolute errors (in double), in the order rows are added.
struct ErrorSums {
  double se = 0.0, ae = 0.0;
  std::size_t count = 0;
  /// Adds the errors of predictions `p` (one per row of `rows`, in order) against the ratings.
  template <class P>
  void add(const P& p, const Dataset& data, std::span<const RowIndex> rows) {
    for (std::size_t k = 0; k < rows.size(); ++k)
      add_error(static_cast<double>(p[static_cast<Eigen::Index>(k)]) - static_cast<double>(data.rating(rows[k])));
  }
  /// Adds one prediction error (prediction minus truth).
  void add_error(double e) noexcept {
    se += e * e;
    ae += std::abs(e);
    ++count;
  }
  /// MSE, RMSE and MAE of what was added (NaN with no rows).
  [[nodiscard]] RatingErrors errors() const {
    RatingErrors out;
    out.count = count;
    if (count == 0) return out;
    const double n = static_cast<double>(count);
    out.mse = se / n;
    out.rmse = std::sqrt(out.mse);
    out.mae = ae / n;
    return out;
  }
};

/// Predicts every row in chunks of `chunk` rows and accumulates the errors in double.
/// Predictions are used as the model returns them (no clipping to the rating scale).
/// @code
/// metarec::RatingErrors e = metarec::rating_errors(mf, theta, ds, split.test);
/// @endcode
template <Model M>
[[nodiscard]] RatingErrors rating_errors(const M& model, const ConstVectorRef<typename M::Scalar>& theta,
                                         const Dataset& data, std::span<const RowIndex> rows,
                                         std::size_t chunk = 4096)
  requires std::same_as<typename M::Batch, RatingBatch>
{
  using S = typename M::Scalar;
  if (rows.empty()) return RatingErrors{};
  chunk = std::max<std::size_t>(chunk, 1);
  Vector<S> pred(static_cast<Eigen::Index>(std::min(chunk, rows.size())));
  ErrorSums sums;
  for (std::size_t start = 0; start < rows.size(); start += chunk) {
    const std::size_t len = std::min(chunk, rows.size() - start);
    const RatingBatch batch{&data, rows.subspan(start, len), 0};
    auto head = pred.head(static_cast<Eigen::Index>(len));
    model.predict(theta, batch, head);
    sums.add(head, data, batch.rows);
  }
  return sums.errors();
}

/// Validation callable for `fit`: RMSE of the model on fixed rows (lower is better).
/// @code
/// metarec::fit(mf, theta, opt, ds, split.train, options, metarec::RmseOn{mf, ds, split.valid});
/// @endcode
template <Model M>
struct RmseOn {
  const M& model;
  const Dataset& data;
  std::span<const RowIndex> rows;

  [[nodiscard]] double operator()(const ConstVectorRef<typename M::Scalar>& theta) const {
    return rating_errors(model, theta, data, rows).rmse;
  }
};
template <class M>
RmseOn(const M&, const Dataset&, std::span<const RowIndex>) -> RmseOn<M>;

}  // namespace metarec
