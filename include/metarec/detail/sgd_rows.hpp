#pragma once
// The whole-epoch loop shared by the models' `sgd_update_rows` (HasSgdUpdateRows, trainer.hpp).
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

}  // namespace metarec::detail
