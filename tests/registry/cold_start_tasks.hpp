#pragma once
// What the registry's cold-start tests share.

#include <metarec/data/dataset.hpp>
#include <metarec/data/tasks.hpp>

#include <utility>
#include <vector>

namespace metarec::test {

/// One task per row of `fresh` (a new item's rating): its user's `warm` rows as the support set,
/// that row as the query.
inline std::vector<Task> new_item_tasks(const Dataset& ds, const std::vector<RowIndex>& warm,
                                        const std::vector<RowIndex>& fresh) {
  std::vector<Task> tasks;
  for (const RowIndex q : fresh) {
    Task t{ds.user(q), {}, {q}};
    for (const RowIndex row : warm)
      if (ds.user(row) == t.user) t.support.push_back(row);
    tasks.push_back(std::move(t));
  }
  return tasks;
}

}  // namespace metarec::test
