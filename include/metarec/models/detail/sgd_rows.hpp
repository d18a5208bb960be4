#pragma once
// The whole-epoch loop shared by the models' `sgd_update_rows` (HasSgdUpdateRows, train/fused_sgd.hpp).
#include <metarec/data/dataset.hpp>
#include <metarec/models/detail/fixed_dims.hpp>
#include <metarec/core/detail/prefetch.hpp>
#include <metarec/data/detail/prefetch_row.hpp>

#include <cmath>
#include <cstddef>
#include <span>

namespace metarec::detail {

/// The observer of a whole-epoch fused loop when no callback watches single steps: never stops.
struct NoRowObserver {
  constexpr bool operator()(std::size_t /*position*/, double /*loss*/) const noexcept { return false; }
};

/// Rows ahead for the parameter prefetch of `sgd_rows` (twice that for the data columns, which
/// the parameter prefetch reads to find the row's user and item).
inline constexpr std::size_t sgd_rows_prefetch_distance = 4;

/// Calls `step(row)` (one fused SGD step returning that row's loss) for `rows` in order, adding
/// the losses to `loss_sum`. Stops at the first non-finite loss (not added) and returns its
/// position; else returns rows.size(). With cache hints for the random accesses of a shuffled epoch: the
/// data-set columns (user, item, rating) of the row 2·d ahead and, through `prefetch(row)` (the
/// model's hint for the parameters that row touches; it may read the row's user and item), the
/// row d ahead. Hints only: the same θ and losses as without them. After each finite step,
/// `observe(b, loss)` (train/fused_sgd.hpp's row observer); when it says true the loop stops and
/// returns b + 1.
template <class Step, class Prefetch, class Observe>
std::size_t sgd_rows(std::span<const RowIndex> rows, double& loss_sum, const Dataset& data, Step&& step,
                     Prefetch&& prefetch, Observe&& observe) {
  constexpr std::size_t d = sgd_rows_prefetch_distance;
  const std::size_t n = rows.size();
  auto columns = [&](RowIndex r) { prefetch_rating_row(data, r); };
  for (std::size_t b = 0; b < n && b < 2 * d; ++b) columns(rows[b]);
  double sum = 0.0;
  for (std::size_t b = 0; b < n; ++b) {
    if (b + 2 * d < n) columns(rows[b + 2 * d]);
    if (b + d < n) prefetch(rows[b + d]);
    const double loss = static_cast<double>(step(rows[b]));
    if (!std::isfinite(loss)) {
      loss_sum += sum;
      return b;
    }
    sum += loss;
    if (observe(b, loss)) {
      loss_sum += sum;
      return b + 1;
    }
  }
  loss_sum += sum;
  return n;
}

}  // namespace metarec::detail
