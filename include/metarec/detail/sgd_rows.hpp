#pragma once
// The whole-epoch loop shared by the models' `sgd_update_rows` (HasSgdUpdateRows, trainer.hpp).
#include <metarec/data/dataset.hpp>

#include <cmath>
#include <cstddef>
#include <span>

namespace metarec::detail {

/// Calls `step(row)` (one fused SGD step returning that row's loss) for `rows` in order, adding
/// the losses to `loss_sum`. Stops at the first non-finite loss (not added) and returns its
/// position; else returns rows.size().
template <class Row, class Step>
std::size_t sgd_rows(std::span<const Row> rows, double& loss_sum, Step&& step) {
  double sum = 0.0;
  for (std::size_t b = 0; b < rows.size(); ++b) {
    const double loss = static_cast<double>(step(rows[b]));
    if (!std::isfinite(loss)) {
      loss_sum += sum;
      return b;
    }
    sum += loss;
  }
  loss_sum += sum;
  return rows.size();
}

/// Rows ahead for the parameter prefetch of `sgd_rows` (twice that for the data columns, which
/// the parameter prefetch reads to find the row's user and item).
inline constexpr std::size_t sgd_rows_prefetch_distance = 4;

/// Read hint for the cache line holding `p` (no effect on results).
inline void prefetch_line(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

/// Read hint for every 64-byte line of the `n` values from `p`.
template <class T>
inline void prefetch_lines(const T* p, std::ptrdiff_t n) noexcept {
  if (n <= 0) return;
  const char* first = reinterpret_cast<const char*>(p);
  const char* last = reinterpret_cast<const char*>(p + (n - 1));
  for (const char* c = first; c < last; c += 64) prefetch_line(c);
  prefetch_line(last);
}

/// As above over rows of `data`, with cache hints for the random accesses of a shuffled epoch: the
/// data-set columns (user, item, rating) of the row 2·d ahead and, through `prefetch(row)` (the
/// model's hint for the parameters that row touches; it may read the row's user and item), the
/// row d ahead. Hints only: the same θ and losses as without them.
template <class Step, class Prefetch>
std::size_t sgd_rows(std::span<const RowIndex> rows, double& loss_sum, const Dataset& data, Step&& step,
                     Prefetch&& prefetch) {
  constexpr std::size_t d = sgd_rows_prefetch_distance;
  const std::size_t n = rows.size();
  auto columns = [&](RowIndex r) {
    prefetch_line(data.users().data() + r);
    prefetch_line(data.items().data() + r);
    prefetch_line(data.ratings().data() + r);
  };
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
  }
  loss_sum += sum;
  return n;
}

}  // namespace metarec::detail
