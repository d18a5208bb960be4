#pragma once
/// @file prefetch_row.hpp
/// @brief Cache hint for the data-set columns of one rating row: the training loops visit rows in
/// shuffled order, so each row's user, item and rating sit at random places in memory.

#include <metarec/data/dataset.hpp>
#include <metarec/core/detail/prefetch.hpp>

namespace metarec::detail {

/// Prefetches the user, item and rating of rating row `r` (a hint: no effect on results).
inline void prefetch_rating_row(const Dataset& d, RowIndex r) noexcept {
  prefetch(d.users().data() + r);
  prefetch(d.items().data() + r);
  prefetch(d.ratings().data() + r);
}

}  // namespace metarec::detail
