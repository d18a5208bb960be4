#pragma once
/// @file filter.hpp
/// @brief Row filters: implicit-feedback thresholds, iterative k-core, and materialising a compact
/// `Dataset` from a row subset.
///
/// Filters return row lists (`std::vector<RowIndex>`, ascending, no duplicates) that refer to the
/// rows of the input `Dataset`; they never copy the ratings. `materialize` is the one exception, for
/// the protocols that need dense re-indexing after filtering (k-core); it keeps the original ids.
/// @code
/// auto kept = metarec::threshold_rows(ds, 3.0f);          // ratings >= 3
/// kept = metarec::k_core_rows(ds, kept, 10, 10);          // 10-core of those rows
/// metarec::Dataset compact = metarec::materialize(ds, kept);
/// @endcode

#include <metarec/data/dataset.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metarec {

/// All rows of a data set, `0 .. num_ratings()-1`.
[[nodiscard]] inline std::vector<RowIndex> all_rows(const Dataset& ds) {
  std::vector<RowIndex> rows(ds.num_ratings());
  std::iota(rows.begin(), rows.end(), RowIndex{0});
  return rows;
}

namespace detail {


/// Membership mask of a row subset (1 = in the subset).
[[nodiscard]] inline std::vector<std::uint8_t> row_mask(const Dataset& ds,
                                                        std::span<const RowIndex> rows) {
  std::vector<std::uint8_t> mask(ds.num_ratings(), 0);
  for (const RowIndex r : rows) mask[r] = 1;
  return mask;
}

}  // namespace detail

/// How a rating is compared with an implicit-feedback threshold.
enum class ThresholdKind {
  at_least,  ///< positive when rating >= threshold (RecBole's `threshold`, `val_interval`)
  above,     ///< positive when rating >  threshold (the MLP table of MetaRec: rating > 3)
};

/// True when `rating` is positive under (threshold, kind).
[[nodiscard]] constexpr bool is_positive(float rating, float threshold,
                                         ThresholdKind kind = ThresholdKind::at_least) noexcept {
  return kind == ThresholdKind::at_least ? rating >= threshold : rating > threshold;
}

/// Rows of `rows` whose rating passes the threshold (ascending).
/// @param rows strictly increasing rows of `ds`.
/// @throws std::invalid_argument when `rows` is not a strictly increasing list of rows of `ds`.
[[nodiscard]] inline std::vector<RowIndex> threshold_rows(
    const Dataset& ds, std::span<const RowIndex> rows, float threshold,
    ThresholdKind kind = ThresholdKind::at_least) {
  detail::check_rows(ds, rows, "threshold_rows", true);
  std::vector<RowIndex> out;
  out.reserve(rows.size());
  for (const RowIndex r : rows)
    if (is_positive(ds.rating(r), threshold, kind)) out.push_back(r);
  return out;
}

/// Rows of the whole data set whose rating passes the threshold (ascending).
[[nodiscard]] inline std::vector<RowIndex> threshold_rows(
    const Dataset& ds, float threshold, ThresholdKind kind = ThresholdKind::at_least) {
  std::vector<RowIndex> out;
  out.reserve(ds.num_ratings());
  for (RowIndex r = 0; r < ds.num_ratings(); ++r)
    if (is_positive(ds.rating(r), threshold, kind)) out.push_back(r);
  return out;
}

/// 0/1 labels of the given rows (label[k] belongs to rows[k]), for point-wise implicit models.
/// `rows` may be in any order here.
[[nodiscard]] inline std::vector<float> implicit_labels(
    const Dataset& ds, std::span<const RowIndex> rows, float threshold,
    ThresholdKind kind = ThresholdKind::at_least) {
  std::vector<float> labels(rows.size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] >= ds.num_ratings())
      throw std::invalid_argument("implicit_labels: row " + std::to_string(rows[k]) +
                                  " is out of range (" + std::to_string(ds.num_ratings()) +
                                  " ratings); pass rows of this data set");
    labels[k] = is_positive(ds.rating(rows[k]), threshold, kind) ? 1.0f : 0.0f;
  }
  return labels;
}

/// Iterative k-core of a row subset: removes users with fewer than `min_user_rows` rows and items
/// with fewer than `min_item_rows` rows, repeatedly, until every remaining user and item meets its
/// bound (the fixed point; RecBole's `user_inter_num_interval` / `item_inter_num_interval` lower
/// bounds behave the same way). The result is the largest such subset, so it does not depend on
/// the removal order. A bound of 0 or 1 never removes anything on its own.
/// @param rows strictly increasing rows of `ds`.
/// @return the kept rows, ascending (possibly empty).
/// @throws std::invalid_argument when `rows` is not a strictly increasing list of rows of `ds`.
[[nodiscard]] inline std::vector<RowIndex> k_core_rows(const Dataset& ds,
                                                       std::span<const RowIndex> rows,
                                                       std::uint32_t min_user_rows,
                                                       std::uint32_t min_item_rows) {
  detail::check_rows(ds, rows, "k_core_rows", true);
  std::vector<std::uint8_t> alive = detail::row_mask(ds, rows);
  std::vector<std::uint32_t> ucount(ds.num_users(), 0), icount(ds.num_items(), 0);
  for (const RowIndex r : rows) {
    ++ucount[ds.user(r)];
    ++icount[ds.item(r)];
  }
  // Work list of entities below their bound: users as u, items as num_users + i.
  const std::uint32_t nu = ds.num_users();
  std::vector<std::uint32_t> stack;
  std::vector<std::uint8_t> removed(static_cast<std::size_t>(nu) + ds.num_items(), 0);
  for (std::uint32_t u = 0; u < nu; ++u)
    if (ucount[u] > 0 && ucount[u] < min_user_rows) stack.push_back(u), removed[u] = 1;
  for (std::uint32_t i = 0; i < ds.num_items(); ++i)
    if (icount[i] > 0 && icount[i] < min_item_rows) stack.push_back(nu + i), removed[nu + i] = 1;
  while (!stack.empty()) {
    const std::uint32_t e = stack.back();
    stack.pop_back();
    const bool is_user = e < nu;
    const auto entity_rows = is_user ? ds.by_user()[e] : ds.by_item()[e - nu];
    for (const RowIndex r : entity_rows) {
      if (!alive[r]) continue;
      alive[r] = 0;
      if (is_user) {
        const std::uint32_t i = ds.item(r);
        if (--icount[i] < min_item_rows && !removed[nu + i]) stack.push_back(nu + i), removed[nu + i] = 1;
      } else {
        const std::uint32_t u = ds.user(r);
        if (--ucount[u] < min_user_rows && !removed[u]) stack.push_back(u), removed[u] = 1;
      }
    }
  }
  std::vector<RowIndex> out;
  out.reserve(rows.size());
  for (const RowIndex r : rows)
    if (alive[r]) out.push_back(r);
  return out;
}

/// Iterative k-core over all rows of `ds`.
[[nodiscard]] inline std::vector<RowIndex> k_core_rows(const Dataset& ds,
                                                       std::uint32_t min_user_rows,
                                                       std::uint32_t min_item_rows) {
  const auto rows = all_rows(ds);
  return k_core_rows(ds, rows, min_user_rows, min_item_rows);
}

/// Builds a new, compact `Dataset` holding only `rows` of `ds`: users and items without a kept row
/// are dropped, dense indices are reassigned (still in increasing order of the original id), the
/// original ids, side features, titles, years, name, source and scale are kept. Row `k` of the
/// result is row `rows[k]` of `ds`.
/// @param rows strictly increasing rows of `ds`.
/// @throws std::invalid_argument when `rows` is not a strictly increasing list of rows of `ds`.
[[nodiscard]] inline Dataset materialize(const Dataset& ds, std::span<const RowIndex> rows) {
  detail::check_rows(ds, rows, "materialize", true);
  constexpr std::uint32_t none = ~std::uint32_t{0};
  std::vector<std::uint32_t> new_user(ds.num_users(), none), new_item(ds.num_items(), none);
  for (const RowIndex r : rows) new_user[ds.user(r)] = 0, new_item[ds.item(r)] = 0;
  std::vector<std::uint32_t> kept_users, kept_items;  // old dense indices, ascending
  for (std::uint32_t u = 0; u < ds.num_users(); ++u)
    if (new_user[u] == 0) new_user[u] = static_cast<std::uint32_t>(kept_users.size()), kept_users.push_back(u);
  for (std::uint32_t i = 0; i < ds.num_items(); ++i)
    if (new_item[i] == 0) new_item[i] = static_cast<std::uint32_t>(kept_items.size()), kept_items.push_back(i);

  DatasetParts p;
  p.name = ds.name();
  p.source = ds.source();
  p.scale = ds.scale();
  p.user.reserve(rows.size());
  p.item.reserve(rows.size());
  p.rating.reserve(rows.size());
  if (ds.has_times()) p.time.reserve(rows.size());
  for (const RowIndex r : rows) {
    p.user.push_back(new_user[ds.user(r)]);
    p.item.push_back(new_item[ds.item(r)]);
    p.rating.push_back(ds.rating(r));
    if (ds.has_times()) p.time.push_back(ds.time(r));
  }
  // Original ids of kept entities are already ascending, so from_ids keeps this dense order.
  std::vector<std::int64_t> uids, iids;
  uids.reserve(kept_users.size());
  iids.reserve(kept_items.size());
  for (const auto u : kept_users) uids.push_back(ds.user_ids().original(u));
  for (const auto i : kept_items) iids.push_back(ds.item_ids().original(i));
  p.users = IdMap::from_ids(std::move(uids));
  p.items = IdMap::from_ids(std::move(iids));

  auto subset_table = [](const FeatureTable& t, const std::vector<std::uint32_t>& kept) {
    FeatureTable out;
    for (const auto& f : t.fields) {
      CategoricalField g{f.name, f.labels, {}, {}};
      g.offsets.reserve(kept.size() + 1);
      g.offsets.push_back(0);
      for (const auto e : kept) {
        for (const auto v : f.of(e)) g.values.push_back(v);
        g.offsets.push_back(static_cast<std::uint32_t>(g.values.size()));
      }
      out.fields.push_back(std::move(g));
    }
    return out;
  };
  p.user_features = subset_table(ds.user_features(), kept_users);
  p.item_features = subset_table(ds.item_features(), kept_items);
  if (!ds.item_titles().empty())
    for (const auto i : kept_items) p.item_titles.push_back(ds.item_titles()[i]);
  if (!ds.item_years().empty())
    for (const auto i : kept_items) p.item_years.push_back(ds.item_years()[i]);
  return Dataset(std::move(p));
}

}  // namespace metarec
