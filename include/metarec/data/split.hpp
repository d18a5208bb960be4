#pragma once
/// @file split.hpp
/// @brief Train/validation/test splits as row lists, deterministic from a seed, with a text
/// export/import that is robust to reordering of the data file.
///
/// Every split function takes the rows to split (strictly increasing rows of the `Dataset`, for
/// example the output of a filter) or, in the overload without rows, all rows. It returns a
/// `Split` whose row lists are ascending and pairwise disjoint and whose union is the input rows,
/// except the cold-start splits that use both users and items (see `cold_user_item_split`).
///
/// Determinism: the same (data, seed) gives the same split on every platform (only `Rng` and
/// `derive_seed` are used). Moreover the split does not depend on the order of the rows in the
/// data file: random draws are made over a canonical order (users by original id, each user's rows
/// by original item id), and per-user draws use a stream seeded from (seed, user's original id).
/// @code
/// metarec::Split s = metarec::random_ratio_split(ds, {.train = 0.8, .valid = 0.1, .test = 0.1}, 42);
/// metarec::export_split(s, ds, "out/split");            // text files, original ids
/// metarec::Split t = metarec::import_split("out/split", ds);
/// @endcode

#include <metarec/core/error.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/filter.hpp>
#include <metarec/core/detail/atomic_file.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace metarec {

/// A split of a data set's rows.
///
/// Invariants of every split made by metarec: each row list is ascending and without duplicates;
/// the lists are pairwise disjoint. The entity lists are dense indices, ascending; they are empty
/// unless the protocol partitions users (`warm_users`, `cold_users`) or items (`warm_items`,
/// `cold_items`); for cold-start splits, no row of `train` has a cold user or a cold item.
struct Split {
  std::vector<RowIndex> train;  ///< rows for training (meta-training for the MeLU presets)
  std::vector<RowIndex> valid;  ///< rows for validation / early stopping (may be empty)
  std::vector<RowIndex> test;   ///< rows for evaluation
  std::vector<std::uint32_t> warm_users;  ///< users seen in training (cold-start splits)
  std::vector<std::uint32_t> cold_users;  ///< users held out of training (cold-start splits)
  std::vector<std::uint32_t> warm_items;  ///< items seen in training (cold-start splits)
  std::vector<std::uint32_t> cold_items;  ///< items held out of training (cold-start splits)
  std::string protocol;  ///< how it was made, e.g. "per-user-random 0.8:0:0.2" or a preset name
  std::uint64_t seed = 0;  ///< the seed it was made with (0 for deterministic splits)

  friend bool operator==(const Split&, const Split&) = default;
};

/// Ratios of a split; they need not sum to 1 (`{8, 1, 1}` works like `{0.8, 0.1, 0.1}`).
/// Use with designated initializers: `{.train = 0.75, .test = 0.25}`.
struct SplitRatios {
  double train = 0.8;
  double valid = 0.0;
  double test = 0.2;
};

/// How leave-k-out chooses the held-out rows of each user.
enum class LeaveOutOrder {
  random,  ///< uniformly at random
  latest,  ///< the latest by time (needs times; ties broken by original item id)
};

/// Options of `leave_k_out_split`.
struct LeaveKOutOptions {
  std::uint32_t test = 1;   ///< rows per user held out for test
  std::uint32_t valid = 0;  ///< further rows per user held out for validation
  LeaveOutOrder order = LeaveOutOrder::random;
};

namespace detail {

// Stream tags, so that different split kinds with the same seed draw independent numbers.
inline constexpr std::uint64_t tag_random_ratio = 0x52524154ull;    // "RRAT"
inline constexpr std::uint64_t tag_per_user_ratio = 0x55524154ull;  // "URAT"
inline constexpr std::uint64_t tag_leave_out = 0x4C4F4F54ull;       // "LOOT"
inline constexpr std::uint64_t tag_k_fold = 0x4B464F4Cull;          // "KFOL"
inline constexpr std::uint64_t tag_cold_users = 0x43555352ull;      // "CUSR"

/// Rows of a subset grouped by user in canonical order: users ascending (dense = original id
/// order), each user's rows sorted by item (dense = original id order). CSR layout.
struct UserGroups {
  std::vector<std::uint32_t> users;    ///< users with at least one row, ascending
  std::vector<std::size_t> offsets;    ///< size users.size() + 1
  std::vector<RowIndex> rows;          ///< concatenated groups: the canonical order of the subset

  [[nodiscard]] std::span<RowIndex> group(std::size_t g) noexcept {
    return {rows.data() + offsets[g], rows.data() + offsets[g + 1]};
  }
};

[[nodiscard]] inline UserGroups group_by_user(const Dataset& ds, std::span<const RowIndex> rows) {
  const auto mask = row_mask(ds, rows);
  UserGroups g;
  g.rows.reserve(rows.size());
  g.offsets.push_back(0);
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    const std::size_t begin = g.rows.size();
    for (const RowIndex r : ds.by_user()[u])
      if (mask[r]) g.rows.push_back(r);
    if (g.rows.size() == begin) continue;
    std::sort(g.rows.begin() + static_cast<std::ptrdiff_t>(begin), g.rows.end(),
              [&](RowIndex a, RowIndex b) { return ds.item(a) < ds.item(b); });
    g.users.push_back(u);
    g.offsets.push_back(g.rows.size());
  }
  return g;
}

/// Validates ratios and returns them normalised.
inline std::array<double, 3> normalised(const SplitRatios& r, const char* caller) {
  const bool finite = std::isfinite(r.train) && std::isfinite(r.valid) && std::isfinite(r.test);
  const double sum = r.train + r.valid + r.test;
  if (!finite || r.train < 0 || r.valid < 0 || r.test < 0 || !(sum > 0) || !(r.train > 0))
    throw std::invalid_argument(std::string(caller) + ": invalid ratios (train " +
                                std::to_string(r.train) + ", valid " + std::to_string(r.valid) +
                                ", test " + std::to_string(r.test) +
                                "); use finite non-negative ratios with train > 0");
  return {r.train / sum, r.valid / sum, r.test / sum};
}

/// Part sizes of `n` items by cumulative rounding: each size is within 1 of `n * ratio`.
[[nodiscard]] inline std::array<std::size_t, 3> ratio_counts(std::size_t n,
                                                             const std::array<double, 3>& r) {
  const double dn = static_cast<double>(n);
  auto boundary = [&](double cum) {
    const auto b = static_cast<std::size_t>(std::llround(dn * cum));
    return std::min(b, n);
  };
  const std::size_t b1 = boundary(r[0]);
  const std::size_t b2 = std::max(b1, boundary(r[0] + r[1]));
  return {b1, b2 - b1, n - b2};
}

/// Appends a group's rows to train/valid/test by counts, in group order.
inline void deal(std::span<const RowIndex> group, const std::array<std::size_t, 3>& counts,
                 Split& s) {
  const std::size_t a = counts[0], b = counts[0] + counts[1];
  s.train.insert(s.train.end(), group.begin(), group.begin() + static_cast<std::ptrdiff_t>(a));
  s.valid.insert(s.valid.end(), group.begin() + static_cast<std::ptrdiff_t>(a),
                 group.begin() + static_cast<std::ptrdiff_t>(b));
  s.test.insert(s.test.end(), group.begin() + static_cast<std::ptrdiff_t>(b), group.end());
}

inline void sort_split(Split& s) {
  for (auto* v : {&s.train, &s.valid, &s.test}) std::sort(v->begin(), v->end());
  for (auto* v : {&s.warm_users, &s.cold_users, &s.warm_items, &s.cold_items})
    std::sort(v->begin(), v->end());
}

/// Every split's last step: its name and seed (0 for a deterministic split), parts sorted.
[[nodiscard]] inline Split finish_split(Split s, std::string protocol, std::uint64_t seed) {
  s.protocol = std::move(protocol);
  s.seed = seed;
  sort_split(s);
  return s;
}

/// A preset's split: `s` under the preset's name.
[[nodiscard]] inline Split renamed(Split s, std::string protocol) {
  s.protocol = std::move(protocol);
  return s;
}

inline std::string ratio_text(const std::array<double, 3>& r) {
  auto f = [](double x) {
    std::string t = std::to_string(x);
    while (t.size() > 1 && t.back() == '0') t.pop_back();
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
  };
  return f(r[0]) + ":" + f(r[1]) + ":" + f(r[2]);
}

/// Per-user random stream: independent of the other users and of the row order.
[[nodiscard]] inline Rng user_rng(const Dataset& ds, std::uint64_t seed, std::uint64_t tag,
                                  std::uint32_t user) {
  return Rng(derive_seed(seed, tag, static_cast<std::uint64_t>(ds.user_ids().original(user))));
}

/// For each user group of `g`: shuffle it with the user's own stream (tag) and deal it into
/// train/valid/test by `counts(group size)`.
template <class Groups, class Counts>
void shuffle_and_deal_per_user(const Dataset& ds, Groups& g, std::uint64_t seed, std::uint64_t tag,
                               Counts&& counts, Split& s) {
  for (std::size_t k = 0; k < g.users.size(); ++k) {
    auto group = g.group(k);
    Rng rng = user_rng(ds, seed, tag, g.users[k]);
    rng.shuffle(group);
    deal(group, counts(group.size()), s);
  }
}

/// Sorts a user's rows by (time, item).
inline void sort_by_time(const Dataset& ds, std::span<RowIndex> rows) {
  std::sort(rows.begin(), rows.end(), [&](RowIndex a, RowIndex b) {
    if (ds.time(a) != ds.time(b)) return ds.time(a) < ds.time(b);
    return ds.item(a) < ds.item(b);
  });
}

}  // namespace detail

/// Global random ratio split (RecBole `group_by: none`, `order: RO`, `split: RS`): the rows are
/// shuffled and cut by cumulative rounding, so each part has `n * ratio` rows within ±1.
/// @param rows strictly increasing rows of `ds` to split.
/// @throws std::invalid_argument on bad ratios or rows.
[[nodiscard]] inline Split random_ratio_split(const Dataset& ds, std::span<const RowIndex> rows,
                                              const SplitRatios& ratios, std::uint64_t seed) {
  detail::check_rows(ds, rows, "random_ratio_split", true);
  const auto r = detail::normalised(ratios, "random_ratio_split");
  auto g = detail::group_by_user(ds, rows);
  Rng rng(derive_seed(seed, detail::tag_random_ratio));
  rng.shuffle(std::span<RowIndex>(g.rows));
  Split s;
  detail::deal(g.rows, detail::ratio_counts(g.rows.size(), r), s);
  return detail::finish_split(std::move(s), "random-ratio " + detail::ratio_text(r), seed);
}
/// Global random ratio split of all rows.
[[nodiscard]] inline Split random_ratio_split(const Dataset& ds, const SplitRatios& ratios,
                                              std::uint64_t seed) {
  return random_ratio_split(ds, all_rows(ds), ratios, seed);
}

/// Per-user random ratio split (RecBole `group_by: user`, `order: RO`, `split: RS`): each user's
/// rows are shuffled and cut so each part has `n_u * ratio` rows within ±1 (cumulative rounding;
/// a user with one row keeps it in train when train's ratio is at least 1/2).
[[nodiscard]] inline Split per_user_random_split(const Dataset& ds, std::span<const RowIndex> rows,
                                                 const SplitRatios& ratios, std::uint64_t seed) {
  detail::check_rows(ds, rows, "per_user_random_split", true);
  const auto r = detail::normalised(ratios, "per_user_random_split");
  auto g = detail::group_by_user(ds, rows);
  Split s;
  detail::shuffle_and_deal_per_user(ds, g, seed, detail::tag_per_user_ratio,
                                    [&](std::size_t n) { return detail::ratio_counts(n, r); }, s);
  return detail::finish_split(std::move(s), "per-user-random " + detail::ratio_text(r), seed);
}
/// Per-user random ratio split of all rows.
[[nodiscard]] inline Split per_user_random_split(const Dataset& ds, const SplitRatios& ratios,
                                                 std::uint64_t seed) {
  return per_user_random_split(ds, all_rows(ds), ratios, seed);
}

/// Per-user temporal ratio split (RecBole `group_by: user`, `order: TO`, `split: RS`): each user's
/// rows sorted by (time, original item id); the earliest go to train, then valid, the latest to
/// test. Every test row of a user is at least as late as every train row of that user (strictly
/// later unless times tie across the boundary). Deterministic; `Split::seed` is 0.
/// @throws std::invalid_argument when the data set has no times.
[[nodiscard]] inline Split per_user_temporal_split(const Dataset& ds,
                                                   std::span<const RowIndex> rows,
                                                   const SplitRatios& ratios) {
  ds.require_times("per_user_temporal_split");
  detail::check_rows(ds, rows, "per_user_temporal_split", true);
  const auto r = detail::normalised(ratios, "per_user_temporal_split");
  auto g = detail::group_by_user(ds, rows);
  Split s;
  for (std::size_t k = 0; k < g.users.size(); ++k) {
    auto group = g.group(k);
    detail::sort_by_time(ds, group);
    detail::deal(group, detail::ratio_counts(group.size(), r), s);
  }
  return detail::finish_split(std::move(s), "per-user-temporal " + detail::ratio_text(r), 0);
}
/// Per-user temporal ratio split of all rows.
[[nodiscard]] inline Split per_user_temporal_split(const Dataset& ds, const SplitRatios& ratios) {
  ds.require_times("per_user_temporal_split");
  return per_user_temporal_split(ds, all_rows(ds), ratios);
}

/// Leave-k-out: for each user, `options.test` rows go to test and `options.valid` further rows to
/// valid, chosen at random or as the latest by time (then valid rows precede test rows in time).
/// A user with at most `test + valid` rows keeps all of them in train, so no user loses all its
/// training rows.
/// @throws std::invalid_argument when `options.test == 0`, or when `order == latest` and the data
/// set has no times.
[[nodiscard]] inline Split leave_k_out_split(const Dataset& ds, std::span<const RowIndex> rows,
                                             const LeaveKOutOptions& options, std::uint64_t seed) {
  if (options.order == LeaveOutOrder::latest) ds.require_times("leave_k_out_split");
  detail::check_rows(ds, rows, "leave_k_out_split", true);
  if (options.test == 0)
    throw std::invalid_argument(
        "leave_k_out_split: options.test is 0 (valid " + std::to_string(options.valid) +
        "); hold out at least one test row per user");
  auto g = detail::group_by_user(ds, rows);
  const std::size_t held = std::size_t{options.test} + options.valid;
  Split s;
  for (std::size_t k = 0; k < g.users.size(); ++k) {
    auto group = g.group(k);
    if (group.size() <= held) {
      s.train.insert(s.train.end(), group.begin(), group.end());
      continue;
    }
    if (options.order == LeaveOutOrder::latest) {
      detail::sort_by_time(ds, group);
    } else {
      Rng rng = detail::user_rng(ds, seed, detail::tag_leave_out, g.users[k]);
      rng.shuffle(group);
    }
    detail::deal(group, {group.size() - held, options.valid, options.test}, s);
  }
  const bool latest = options.order == LeaveOutOrder::latest;
  return detail::finish_split(std::move(s),
                              std::string("leave-k-out ") + (latest ? "latest " : "random ") +
                 std::to_string(options.test) + "+" + std::to_string(options.valid), latest ? 0 : seed);
}
/// Leave-k-out over all rows.
[[nodiscard]] inline Split leave_k_out_split(const Dataset& ds, const LeaveKOutOptions& options,
                                             std::uint64_t seed) {
  if (options.order == LeaveOutOrder::latest) ds.require_times("leave_k_out_split");
  return leave_k_out_split(ds, all_rows(ds), options, seed);
}

/// Fold `fold` of a `folds`-fold cross-validation over rows: the rows are shuffled once (the
/// permutation depends on the seed, not on `fold`) and cut into `folds` parts whose sizes differ by
/// at most one; part `fold` is the test set, the rest is train. For a fixed seed the test sets of
/// folds 0..folds-1 partition the rows.
/// @throws std::invalid_argument when `folds < 2` or `fold >= folds`.
[[nodiscard]] inline Split k_fold_split(const Dataset& ds, std::span<const RowIndex> rows,
                                        std::uint32_t folds, std::uint32_t fold,
                                        std::uint64_t seed) {
  detail::check_rows(ds, rows, "k_fold_split", true);
  if (folds < 2 || fold >= folds)
    throw std::invalid_argument("k_fold_split: bad fold (fold " + std::to_string(fold) + " of " +
                                std::to_string(folds) +
                                "); use folds >= 2 and 0 <= fold < folds");
  auto g = detail::group_by_user(ds, rows);
  Rng rng(derive_seed(seed, detail::tag_k_fold));
  rng.shuffle(std::span<RowIndex>(g.rows));
  const std::size_t n = g.rows.size();
  const std::size_t begin = n * fold / folds, end = n * (std::size_t{fold} + 1) / folds;
  Split s;
  detail::deal(std::span<const RowIndex>(g.rows).first(end), {begin, 0, end - begin}, s);
  s.train.insert(s.train.end(), g.rows.begin() + static_cast<std::ptrdiff_t>(end), g.rows.end());
  return detail::finish_split(
      std::move(s), "k-fold " + std::to_string(fold) + "/" + std::to_string(folds), seed);
}
/// k-fold over all rows.
[[nodiscard]] inline Split k_fold_split(const Dataset& ds, std::uint32_t folds, std::uint32_t fold,
                                        std::uint64_t seed) {
  return k_fold_split(ds, all_rows(ds), folds, fold, seed);
}

/// The four cold-start partitions of a row subset (see `cold_start_partition`).
struct ColdStartPartition {
  std::vector<RowIndex> warm;            ///< existing users x existing items
  std::vector<RowIndex> user_cold;       ///< new users x existing items
  std::vector<RowIndex> item_cold;       ///< existing users x new items
  std::vector<RowIndex> user_item_cold;  ///< new users x new items
  std::vector<std::uint32_t> warm_users, cold_users, warm_items, cold_items;  ///< ascending
};

/// Assigns users and items to existing/new and partitions the rows accordingly.
/// Users: among the users with a row in `rows` (ascending), a seeded shuffle makes the first
/// `llround(cold_user_fraction * n)` users new. Items: with a row in `rows`; an item is new when
/// its release year is later than `last_existing_year`; unknown years (0) count as existing.
/// Pass `cold_user_fraction = 0` to keep all users existing; pass `last_existing_year` larger than
/// every year to keep all items existing (then item years are not needed).
/// @throws std::invalid_argument when the fraction is outside [0, 1], or when items must be
/// classified by year and the data set has no item years.
[[nodiscard]] inline ColdStartPartition cold_start_partition(
    const Dataset& ds, std::span<const RowIndex> rows, double cold_user_fraction,
    std::int32_t last_existing_year, std::uint64_t seed, bool use_years = true) {
  detail::check_rows(ds, rows, "cold_start_partition", true);
  if (!(cold_user_fraction >= 0.0 && cold_user_fraction <= 1.0))
    throw std::invalid_argument("cold_start_partition: cold user fraction " +
                                std::to_string(cold_user_fraction) +
                                " is outside [0, 1]; pass e.g. 0.2 for 20% new users");
  if (use_years && ds.item_years().empty())
    throw std::invalid_argument("cold_start_partition: the data set '" + ds.name() + "' (" +
                                ds.source() +
                                ") has no item release years (needed to split items at " +
                                std::to_string(last_existing_year) +
                                "); load movies with years or use a user-only cold split");
  std::vector<std::uint8_t> has_user(ds.num_users(), 0), has_item(ds.num_items(), 0);
  for (const RowIndex r : rows) has_user[ds.user(r)] = 1, has_item[ds.item(r)] = 1;
  std::vector<std::uint32_t> users;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u)
    if (has_user[u]) users.push_back(u);
  Rng rng(derive_seed(seed, detail::tag_cold_users));
  rng.shuffle(std::span<std::uint32_t>(users));
  const auto n_cold = std::min(
      users.size(),
      static_cast<std::size_t>(std::llround(cold_user_fraction * static_cast<double>(users.size()))));
  std::vector<std::uint8_t> cold_user(ds.num_users(), 0), cold_item(ds.num_items(), 0);
  ColdStartPartition p;
  for (std::size_t k = 0; k < users.size(); ++k) {
    if (k < n_cold) cold_user[users[k]] = 1, p.cold_users.push_back(users[k]);
    else p.warm_users.push_back(users[k]);
  }
  for (std::uint32_t i = 0; i < ds.num_items(); ++i) {
    if (!has_item[i]) continue;
    const bool is_new = use_years && ds.item_years()[i] > last_existing_year;
    cold_item[i] = is_new ? 1 : 0;
    (is_new ? p.cold_items : p.warm_items).push_back(i);
  }
  for (const RowIndex r : rows) {
    const bool cu = cold_user[ds.user(r)] != 0, ci = cold_item[ds.item(r)] != 0;
    (cu ? (ci ? p.user_item_cold : p.user_cold) : (ci ? p.item_cold : p.warm)).push_back(r);
  }
  std::sort(p.warm_users.begin(), p.warm_users.end());
  std::sort(p.cold_users.begin(), p.cold_users.end());
  return p;
}

/// Cold-user split: a random `cold_fraction` of the users are new; all their rows go to test, all
/// rows of the other users to train. Users are disjoint between train and test.
[[nodiscard]] inline Split cold_user_split(const Dataset& ds, std::span<const RowIndex> rows,
                                           double cold_fraction, std::uint64_t seed) {
  auto p = cold_start_partition(ds, rows, cold_fraction, 0, seed, /*use_years=*/false);
  Split s;
  s.train = std::move(p.warm);
  s.test = std::move(p.user_cold);
  s.warm_users = std::move(p.warm_users);
  s.cold_users = std::move(p.cold_users);
  return detail::finish_split(std::move(s), "cold-user " + std::to_string(cold_fraction), seed);
}
/// Cold-user split of all rows.
[[nodiscard]] inline Split cold_user_split(const Dataset& ds, double cold_fraction,
                                           std::uint64_t seed) {
  return cold_user_split(ds, all_rows(ds), cold_fraction, seed);
}

/// Cold-item split by release year: items released up to `last_existing_year` (or of unknown
/// year) are existing and their rows go to train; later items are new and their rows go to test.
/// Deterministic; `Split::seed` is 0.
/// @throws std::invalid_argument when the data set has no item years.
[[nodiscard]] inline Split cold_item_split(const Dataset& ds, std::span<const RowIndex> rows,
                                           std::int32_t last_existing_year) {
  auto p = cold_start_partition(ds, rows, 0.0, last_existing_year, 0);
  Split s;
  s.train = std::move(p.warm);
  s.test = std::move(p.item_cold);
  s.warm_items = std::move(p.warm_items);
  s.cold_items = std::move(p.cold_items);
  return detail::finish_split(std::move(s), "cold-item " + std::to_string(last_existing_year), 0);
}
/// Cold-item split of all rows.
[[nodiscard]] inline Split cold_item_split(const Dataset& ds, std::int32_t last_existing_year) {
  return cold_item_split(ds, all_rows(ds), last_existing_year);
}

/// Cold user-and-item split: train = existing users x existing items, test = new users x new
/// items. The mixed rows (new users x existing items, existing users x new items) are in neither
/// set: they are not kept (use `cold_start_partition` to get all four partitions).
[[nodiscard]] inline Split cold_user_item_split(const Dataset& ds, std::span<const RowIndex> rows,
                                                double cold_user_fraction,
                                                std::int32_t last_existing_year,
                                                std::uint64_t seed) {
  auto p = cold_start_partition(ds, rows, cold_user_fraction, last_existing_year, seed);
  Split s;
  s.train = std::move(p.warm);
  s.test = std::move(p.user_item_cold);
  s.warm_users = std::move(p.warm_users);
  s.cold_users = std::move(p.cold_users);
  s.warm_items = std::move(p.warm_items);
  s.cold_items = std::move(p.cold_items);
  return detail::finish_split(std::move(s), "cold-user-item " + std::to_string(cold_user_fraction) + " " +
                 std::to_string(last_existing_year), seed);
}
/// Cold user-and-item split of all rows.
[[nodiscard]] inline Split cold_user_item_split(const Dataset& ds, double cold_user_fraction,
                                                std::int32_t last_existing_year,
                                                std::uint64_t seed) {
  return cold_user_item_split(ds, all_rows(ds), cold_user_fraction, last_existing_year, seed);
}

// ------------------------------------------------------------------------------------------------
// Export / import
// ------------------------------------------------------------------------------------------------

/// Identity of a data set's ratings, independent of the row order: the number of ratings and the
/// wrapping sum over rows of a 64-bit hash of (original user id, original item id, rating bits).
struct DataFingerprint {
  std::size_t ratings = 0;
  std::uint64_t hash = 0;
  friend bool operator==(const DataFingerprint&, const DataFingerprint&) = default;
};

/// Computes the fingerprint of a data set (see `DataFingerprint`).
[[nodiscard]] inline DataFingerprint data_fingerprint(const Dataset& ds) {
  DataFingerprint f;
  f.ratings = ds.num_ratings();
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) {
    const float rating = ds.rating(r) == 0.0f ? 0.0f : ds.rating(r);  // -0 and +0 hash alike
    f.hash += derive_seed(0x6D657461726563ull,  // "metarec"
                          static_cast<std::uint64_t>(ds.user_ids().original(ds.user(r))),
                          static_cast<std::uint64_t>(ds.item_ids().original(ds.item(r))),
                          std::bit_cast<std::uint32_t>(rating));
  }
  return f;
}

namespace detail {

inline constexpr std::string_view split_magic = "# metarec-split 1";

/// Names of the files of an exported split, in this order: the row sets, then the entity lists.
inline constexpr std::array<std::string_view, 7> split_files = {
    "train.txt",      "valid.txt",      "test.txt",      "warm_users.txt",
    "cold_users.txt", "warm_items.txt", "cold_items.txt"};

inline std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int k = 15; k >= 0; --k, v >>= 4) s[static_cast<std::size_t>(k)] = digits[v & 0xF];
  return s;
}

}  // namespace detail

/// Writes a split to `dir` (created if missing) as seven text files: `train.txt`, `valid.txt`,
/// `test.txt` with one `user item` pair of ORIGINAL ids per line (sorted by user then item), and
/// `warm_users.txt`, `cold_users.txt`, `warm_items.txt`, `cold_items.txt` with one original id per
/// line. Each file starts with a header:
/// @code
/// # metarec-split 1
/// # protocol recbole
/// # seed 42
/// # set train
/// # data ratings 1000209 fingerprint 0123456789abcdef
/// # count 800167
/// @endcode
/// Each file is written atomically (temporary file, then rename). Because rows are named by
/// original ids, the files stay valid when the data file is reordered; the fingerprint makes
/// importing onto another data set fail.
/// @throws std::runtime_error when a file cannot be written; std::invalid_argument when the split
/// has rows or entities outside `ds`.
inline void export_split(const Split& split, const Dataset& ds, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const DataFingerprint fp = data_fingerprint(ds);
  std::string protocol = split.protocol;
  std::replace(protocol.begin(), protocol.end(), '\n', ' ');
  std::replace(protocol.begin(), protocol.end(), '\r', ' ');
  const std::array<const std::vector<RowIndex>*, 3> row_sets = {&split.train, &split.valid,
                                                                &split.test};
  const std::array<const std::vector<std::uint32_t>*, 4> entity_sets = {
      &split.warm_users, &split.cold_users, &split.warm_items, &split.cold_items};
  for (std::size_t f = 0; f < detail::split_files.size(); ++f) {
    const std::string_view file = detail::split_files[f];
    const std::string set(file.substr(0, file.size() - 4));
    std::string out;
    out += detail::split_magic;
    out += "\n# protocol " + protocol + "\n# seed " + std::to_string(split.seed) + "\n# set " +
           set + "\n# data ratings " + std::to_string(fp.ratings) + " fingerprint " +
           detail::hex64(fp.hash) + "\n";
    if (f < 3) {
      const auto& rows = *row_sets[f];
      std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
      pairs.reserve(rows.size());
      for (const RowIndex r : rows) {
        if (r >= ds.num_ratings())
          throw std::invalid_argument("export_split: " + set + " row " + std::to_string(r) +
                                      " is out of range (" + std::to_string(ds.num_ratings()) +
                                      " ratings); export a split of this data set");
        pairs.emplace_back(ds.user_ids().original(ds.user(r)), ds.item_ids().original(ds.item(r)));
      }
      std::sort(pairs.begin(), pairs.end());
      out += "# count " + std::to_string(pairs.size()) + "\n";
      for (const auto& [u, i] : pairs) out += std::to_string(u) + ' ' + std::to_string(i) + '\n';
    } else {
      const bool users = f < 5;
      const IdMap& ids = users ? ds.user_ids() : ds.item_ids();
      std::vector<std::int64_t> originals;
      for (const auto e : *entity_sets[f - 3]) {
        if (e >= ids.size())
          throw std::invalid_argument("export_split: " + set + " entry " + std::to_string(e) +
                                      " is out of range (" + std::to_string(ids.size()) +
                                      "); export a split of this data set");
        originals.push_back(ids.original(e));
      }
      std::sort(originals.begin(), originals.end());
      out += "# count " + std::to_string(originals.size()) + "\n";
      for (const auto id : originals) out += std::to_string(id) + '\n';
    }
    detail::write_file_atomically(dir / std::string(file), out, "export_split");
  }
}

/// Reads a split written by `export_split` and maps it onto `ds`.
/// @return the split, with ascending row and entity lists (equal to the exported split when `ds`
/// holds the same ratings, in any row order).
/// @throws metarec::data_error (`path:line:column: message`) when a file is missing or malformed,
/// when the split was made for other data (ratings count or fingerprint differ), when an id or a
/// (user, item) pair is not in `ds`, or when a row appears twice.
[[nodiscard]] inline Split import_split(const std::filesystem::path& dir, const Dataset& ds) {
  const DataFingerprint fp = data_fingerprint(ds);
  std::unordered_map<std::uint64_t, RowIndex> row_of;
  row_of.reserve(ds.num_ratings());
  for (RowIndex r = 0; r < ds.num_ratings(); ++r)
    row_of.emplace((std::uint64_t{ds.user(r)} << 32) | ds.item(r), r);
  std::vector<std::uint8_t> used(ds.num_ratings(), 0);

  Split split;
  std::array<std::vector<RowIndex>*, 3> row_sets = {&split.train, &split.valid, &split.test};
  std::array<std::vector<std::uint32_t>*, 4> entity_sets = {&split.warm_users, &split.cold_users,
                                                            &split.warm_items, &split.cold_items};
  for (std::size_t f = 0; f < detail::split_files.size(); ++f) {
    const std::filesystem::path path = dir / std::string(detail::split_files[f]);
    const std::string p = path.string();
    const std::string set(detail::split_files[f].substr(0, detail::split_files[f].size() - 4));
    std::ifstream in(path, std::ios::binary);
    if (!in) throw data_error(p, 0, 0, "cannot open split file; export the split with export_split");
    std::string line;
    std::size_t line_no = 0;
    auto next_line = [&]() -> bool {
      if (!std::getline(in, line)) return false;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return true;
    };
    auto header = [&](std::string_view key) -> std::string {
      if (!next_line())
        throw data_error(p, line_no + 1, 0, "file ends inside the header (expected '# " +
                                                std::string(key) + " ...')");
      const std::string prefix = "# " + std::string(key) + " ";
      if (line.rfind(prefix, 0) != 0)
        throw data_error(p, line_no, 1, "expected '" + prefix + "...', found '" + line + "'");
      return line.substr(prefix.size());
    };
    auto parse_int = [&](std::string_view text, std::size_t column,
                         const char* what) -> std::int64_t {
      std::int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty())
        throw data_error(p, line_no, column,
                         std::string("expected ") + what + ", found '" + std::string(text) + "'");
      return v;
    };
    if (!next_line() || line != detail::split_magic)
      throw data_error(p, line_no == 0 ? 1 : line_no, 1,
                       "not a metarec split file (first line must be '" +
                           std::string(detail::split_magic) + "')");
    std::string protocol = header("protocol");
    const std::string seed_text = header("seed");
    std::uint64_t seed = 0;
    {
      const auto [ptr, ec] =
          std::from_chars(seed_text.data(), seed_text.data() + seed_text.size(), seed);
      if (ec != std::errc{} || ptr != seed_text.data() + seed_text.size() || seed_text.empty())
        throw data_error(p, line_no, 8, "expected an unsigned seed, found '" + seed_text + "'");
    }
    if (const std::string s = header("set"); s != set)
      throw data_error(p, line_no, 7, "file holds set '" + s + "', expected '" + set + "'");
    const std::string data = header("data");
    const std::string expected_data = "ratings " + std::to_string(fp.ratings) + " fingerprint " +
                                      detail::hex64(fp.hash);
    if (data != expected_data)
      throw data_error(p, line_no, 8,
                       "split was made for other data ('" + data + "'); this data set '" +
                           ds.name() + "' has '" + expected_data +
                           "'; re-create the split on this data set");
    const std::int64_t count = parse_int(header("count"), 9, "a count");
    if (f == 0) {
      split.protocol = protocol;
      split.seed = seed;
    } else if (protocol != split.protocol || seed != split.seed) {
      throw data_error(p, 2, 1, "protocol/seed ('" + protocol + "', " + std::to_string(seed) +
                                    ") differ from train.txt ('" + split.protocol + "', " +
                                    std::to_string(split.seed) + "); files of different splits");
    }
    std::int64_t seen = 0;
    while (next_line()) {
      if (line.empty()) continue;
      ++seen;
      if (f < 3) {
        const auto space = line.find(' ');
        if (space == std::string::npos)
          throw data_error(p, line_no, 1, "expected 'user item', found '" + line + "'");
        const std::int64_t u = parse_int(std::string_view(line).substr(0, space), 1, "a user id");
        const std::int64_t i =
            parse_int(std::string_view(line).substr(space + 1), space + 2, "an item id");
        const auto du = ds.user_ids().find(u);
        const auto di = ds.item_ids().find(i);
        if (!du) throw data_error(p, line_no, 1, "user " + std::to_string(u) + " is not in the data set");
        if (!di)
          throw data_error(p, line_no, space + 2,
                           "item " + std::to_string(i) + " is not in the data set");
        const auto it = row_of.find((std::uint64_t{*du} << 32) | *di);
        if (it == row_of.end())
          throw data_error(p, line_no, 1, "user " + std::to_string(u) + " has no rating of item " +
                                              std::to_string(i) + " in the data set");
        if (used[it->second])
          throw data_error(p, line_no, 1, "rating (" + std::to_string(u) + ", " +
                                              std::to_string(i) + ") appears twice in the split");
        used[it->second] = 1;
        row_sets[f]->push_back(it->second);
      } else {
        const std::int64_t id = parse_int(line, 1, "an id");
        const auto dense = f < 5 ? ds.user_ids().find(id) : ds.item_ids().find(id);
        if (!dense)
          throw data_error(p, line_no, 1, std::string(f < 5 ? "user " : "item ") +
                                              std::to_string(id) + " is not in the data set");
        entity_sets[f - 3]->push_back(*dense);
      }
    }
    if (seen != count)
      throw data_error(p, line_no, 0, "header announces " + std::to_string(count) +
                                          " entries but the file has " + std::to_string(seen) +
                                          " (truncated file?)");
  }
  detail::sort_split(split);
  return split;
}

}  // namespace metarec
