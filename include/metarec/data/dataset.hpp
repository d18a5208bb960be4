#pragma once
/// @file dataset.hpp
/// @brief The in-memory rating data set every other part of metarec reads.
///
/// Storage is column-wise and compact: 32-bit dense user and item indices, float ratings and
/// (optionally) 64-bit Unix times, one entry per rating ("row"). Two indexes are built once:
/// CSR by user (the rows of each user) and CSC by item (the rows of each item), each list sorted by
/// row number. Splits, tasks and batches refer to rows by their 32-bit row number, so no part of
/// metarec copies the ratings to make a split.
///
/// Dense indices are 0-based and assigned in increasing order of the original id, so they do not
/// depend on the order of the file. The original ids are kept both ways in `IdMap`.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace metarec {

/// Row number of a rating inside a `Dataset`.
using RowIndex = std::uint32_t;

/// Bidirectional map between original ids (as written in the files) and dense 0-based indices.
class IdMap {
 public:
  IdMap() = default;

  /// Builds the map from a list of original ids (duplicates allowed); dense indices follow
  /// increasing original id.
  static IdMap from_ids(std::vector<std::int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    IdMap map;
    map.to_original_ = std::move(ids);
    map.to_dense_.reserve(map.to_original_.size());
    for (std::size_t i = 0; i < map.to_original_.size(); ++i)
      map.to_dense_.emplace(map.to_original_[i], static_cast<std::uint32_t>(i));
    return map;
  }

  [[nodiscard]] std::uint32_t size() const noexcept {
    return static_cast<std::uint32_t>(to_original_.size());
  }
  [[nodiscard]] bool empty() const noexcept { return to_original_.empty(); }

  /// Original id of a dense index. Requires `dense < size()`.
  [[nodiscard]] std::int64_t original(std::uint32_t dense) const { return to_original_[dense]; }

  /// Dense index of an original id, or nothing when the id is unknown.
  [[nodiscard]] std::optional<std::uint32_t> find(std::int64_t original) const {
    const auto it = to_dense_.find(original);
    if (it == to_dense_.end()) return std::nullopt;
    return it->second;
  }

  /// All original ids, by dense index.
  [[nodiscard]] std::span<const std::int64_t> originals() const noexcept { return to_original_; }

 private:
  std::vector<std::int64_t> to_original_;
  std::unordered_map<std::int64_t, std::uint32_t> to_dense_;
};

/// Compressed index: for entity `e`, `rows_[offsets_[e] .. offsets_[e+1])` are its rating rows,
/// in increasing row order.
class CompressedIndex {
 public:
  CompressedIndex() = default;

  /// Builds the index of `keys` (one key per row, each `< num_keys`) with a counting sort.
  CompressedIndex(std::span<const std::uint32_t> keys, std::uint32_t num_keys) {
    std::vector<RowIndex> all(keys.size());
    std::iota(all.begin(), all.end(), RowIndex{0});
    *this = group(all, num_keys, [&](RowIndex r) { return keys[r]; });
  }

  /// Groups a subset of rows by `key(row)` (each `< num_keys`): entity e's list holds the rows r
  /// of `rows` with key(r) == e, in their order in `rows`. Counting sort, O(rows + keys). This is
  /// the one CSR builder of metarec: per-user and per-item lists of a split, whole-row batches,
  /// SVD++'s implicit sets and the full-ranking masks are all built with it.
  /// @code
  /// const auto by_user = metarec::CompressedIndex::group(split.train, ds.num_users(),
  ///                                                      [&](metarec::RowIndex r) { return ds.user(r); });
  /// @endcode
  template <class KeyFn>
  [[nodiscard]] static CompressedIndex group(std::span<const RowIndex> rows, std::uint32_t num_keys,
                                             KeyFn&& key) {
    CompressedIndex index;
    index.offsets_.assign(static_cast<std::size_t>(num_keys) + 1, 0);
    index.rows_.resize(rows.size());
    for (const RowIndex r : rows) ++index.offsets_[static_cast<std::size_t>(key(r)) + 1];
    std::partial_sum(index.offsets_.begin(), index.offsets_.end(), index.offsets_.begin());
    std::vector<std::uint32_t> next(index.offsets_.begin(), index.offsets_.end() - 1);
    for (const RowIndex r : rows) index.rows_[next[key(r)]++] = r;
    return index;
  }

  /// Rows of entity `e`.
  [[nodiscard]] std::span<const RowIndex> operator[](std::uint32_t e) const noexcept {
    return {rows_.data() + offsets_[e], rows_.data() + offsets_[static_cast<std::size_t>(e) + 1]};
  }
  /// Number of rows of entity `e`.
  [[nodiscard]] std::uint32_t count(std::uint32_t e) const noexcept {
    return offsets_[static_cast<std::size_t>(e) + 1] - offsets_[e];
  }
  [[nodiscard]] std::uint32_t num_keys() const noexcept {
    return offsets_.empty() ? 0u : static_cast<std::uint32_t>(offsets_.size() - 1);
  }
  [[nodiscard]] std::span<const std::uint32_t> offsets() const noexcept { return offsets_; }
  [[nodiscard]] std::span<const RowIndex> rows() const noexcept { return rows_; }

 private:
  std::vector<std::uint32_t> offsets_;
  std::vector<RowIndex> rows_;
};

/// One categorical side-feature field (for example "occupation" or the multi-hot "genre").
/// For entity `e` (a user or an item), its category values are
/// `values[offsets[e] .. offsets[e+1])`: one value for single-valued fields, several for
/// multi-hot fields, none when the value is unknown.
struct CategoricalField {
  std::string name;                   ///< field name, e.g. "gender"
  std::vector<std::string> labels;    ///< label of each category value; cardinality = labels.size()
  std::vector<std::uint32_t> offsets; ///< size = entities + 1
  std::vector<std::uint32_t> values;  ///< category indices, each < labels.size()

  [[nodiscard]] std::uint32_t cardinality() const noexcept {
    return static_cast<std::uint32_t>(labels.size());
  }
  [[nodiscard]] std::span<const std::uint32_t> of(std::uint32_t entity) const noexcept {
    return {values.data() + offsets[entity],
            values.data() + offsets[static_cast<std::size_t>(entity) + 1]};
  }
  /// Builds a single-valued field; `value[e] < 0` means unknown (no value).
  static CategoricalField single(std::string name, std::vector<std::string> labels,
                                 std::span<const std::int32_t> value) {
    CategoricalField f{std::move(name), std::move(labels), {}, {}};
    f.offsets.reserve(value.size() + 1);
    f.offsets.push_back(0);
    for (const std::int32_t v : value) {
      if (v >= 0) f.values.push_back(static_cast<std::uint32_t>(v));
      f.offsets.push_back(static_cast<std::uint32_t>(f.values.size()));
    }
    return f;
  }
};

/// The side-feature fields of users or of items.
struct FeatureTable {
  std::vector<CategoricalField> fields;

  /// Field by name, or nullptr.
  [[nodiscard]] const CategoricalField* find(std::string_view name) const noexcept {
    for (const auto& f : fields)
      if (f.name == name) return &f;
    return nullptr;
  }
  /// Sum of the cardinalities of all fields (the width of a one-hot encoding of the table).
  [[nodiscard]] std::uint32_t total_cardinality() const noexcept {
    std::uint32_t n = 0;
    for (const auto& f : fields) n += f.cardinality();
    return n;
  }
  [[nodiscard]] bool empty() const noexcept { return fields.empty(); }
};

/// The rating scale of a data set (ML-1M: 1 to 5 in steps of 1; ML-20M: 0.5 to 5 in steps of 0.5).
struct RatingScale {
  float min = 1.0f;
  float max = 5.0f;
  float step = 1.0f;
};

/// Everything a loader produces; moved into a `Dataset`, which validates it and builds the indexes.
struct DatasetParts {
  std::string name;                  ///< "ml-1m", "ml-100k", "synthetic", ...
  std::string source;                ///< where it was read from (a directory), for messages
  std::vector<std::uint32_t> user;   ///< dense user index per row
  std::vector<std::uint32_t> item;   ///< dense item index per row
  std::vector<float> rating;         ///< rating per row
  std::vector<std::int64_t> time;    ///< Unix time per row, or empty when the data has no times
  IdMap users;
  IdMap items;
  FeatureTable user_features;        ///< one entry per dense user (may have no fields)
  FeatureTable item_features;        ///< one entry per dense item (may have no fields)
  std::vector<std::string> item_titles;  ///< UTF-8, per dense item, or empty
  std::vector<std::int32_t> item_years;  ///< release year per dense item, 0 when unknown, or empty
  RatingScale scale;
};

/// An immutable rating data set with CSR-by-user and CSC-by-item indexes.
/// @code
/// metarec::Dataset ds = metarec::load_movielens("data/sample");
/// for (metarec::RowIndex r : ds.by_user()[0])
///   std::cout << ds.item(r) << ' ' << ds.rating(r) << '\n';
/// @endcode
class Dataset {
 public:
  Dataset() = default;

  /// Validates the parts (column sizes agree, indices in range, no duplicate (user, item) pair)
  /// and builds the indexes.
  /// @throws std::invalid_argument when the parts are inconsistent.
  explicit Dataset(DatasetParts parts) : p_(std::move(parts)) {
    const std::size_t n = p_.user.size();
    auto fail = [](const std::string& what) {
      throw std::invalid_argument("Dataset: " + what);
    };
    if (p_.item.size() != n || p_.rating.size() != n)
      fail("column sizes differ (user " + std::to_string(n) + ", item " +
           std::to_string(p_.item.size()) + ", rating " + std::to_string(p_.rating.size()) + ")");
    if (!p_.time.empty() && p_.time.size() != n)
      fail("time column has " + std::to_string(p_.time.size()) + " entries for " +
           std::to_string(n) + " ratings; it must be empty or one per rating");
    if (n > std::numeric_limits<RowIndex>::max())
      fail("more than 2^32-1 ratings (" + std::to_string(n) + ")");
    const std::uint32_t nu = p_.users.size();
    const std::uint32_t ni = p_.items.size();
    for (std::size_t r = 0; r < n; ++r) {
      if (p_.user[r] >= nu || p_.item[r] >= ni)
        fail("row " + std::to_string(r) + " has user " + std::to_string(p_.user[r]) + " / item " +
             std::to_string(p_.item[r]) + " outside the id maps (" + std::to_string(nu) +
             " users, " + std::to_string(ni) + " items)");
    }
    check_table(p_.user_features, nu, "user_features");
    check_table(p_.item_features, ni, "item_features");
    if (!p_.item_titles.empty() && p_.item_titles.size() != ni) fail("item_titles size mismatch");
    if (!p_.item_years.empty() && p_.item_years.size() != ni) fail("item_years size mismatch");
    by_user_ = CompressedIndex(p_.user, nu);
    by_item_ = CompressedIndex(p_.item, ni);
    std::vector<std::uint32_t> seen;
    for (std::uint32_t u = 0; u < nu; ++u) {
      const auto rows = by_user_[u];
      seen.resize(rows.size());
      for (std::size_t k = 0; k < rows.size(); ++k) seen[k] = p_.item[rows[k]];
      std::sort(seen.begin(), seen.end());
      const auto dup = std::adjacent_find(seen.begin(), seen.end());
      if (dup != seen.end())
        fail("user " + std::to_string(p_.users.original(u)) + " rates item " +
             std::to_string(p_.items.original(*dup)) + " more than once");
    }
  }

  // --- sizes -----------------------------------------------------------------------------------
  [[nodiscard]] std::size_t num_ratings() const noexcept { return p_.user.size(); }
  [[nodiscard]] std::uint32_t num_users() const noexcept { return p_.users.size(); }
  [[nodiscard]] std::uint32_t num_items() const noexcept { return p_.items.size(); }
  [[nodiscard]] bool has_times() const noexcept { return !p_.time.empty(); }
  [[nodiscard]] double density() const noexcept {
    const double cells = static_cast<double>(num_users()) * static_cast<double>(num_items());
    return cells > 0 ? static_cast<double>(num_ratings()) / cells : 0.0;
  }

  // --- one row ---------------------------------------------------------------------------------
  [[nodiscard]] std::uint32_t user(RowIndex r) const noexcept { return p_.user[r]; }
  [[nodiscard]] std::uint32_t item(RowIndex r) const noexcept { return p_.item[r]; }
  [[nodiscard]] float rating(RowIndex r) const noexcept { return p_.rating[r]; }
  /// Time of a row. Requires `has_times()`; use `require_times()` at public boundaries.
  [[nodiscard]] std::int64_t time(RowIndex r) const noexcept { return p_.time[r]; }
  /// The (time, row) order: row a before row b when it is older, or as old and earlier in the file.
  /// A strict weak order for sorting a user's rows by time with ties broken reproducibly (SVAE's
  /// sequences and its protocol's 80/20 split). Requires `has_times()`.
  [[nodiscard]] bool earlier(RowIndex a, RowIndex b) const noexcept {
    return p_.time[a] != p_.time[b] ? p_.time[a] < p_.time[b] : a < b;
  }

  // --- columns ---------------------------------------------------------------------------------
  [[nodiscard]] std::span<const std::uint32_t> users() const noexcept { return p_.user; }
  [[nodiscard]] std::span<const std::uint32_t> items() const noexcept { return p_.item; }
  [[nodiscard]] std::span<const float> ratings() const noexcept { return p_.rating; }
  [[nodiscard]] std::span<const std::int64_t> times() const noexcept { return p_.time; }

  // --- indexes ---------------------------------------------------------------------------------
  /// CSR by user: `by_user()[u]` are the rows of user u.
  [[nodiscard]] const CompressedIndex& by_user() const noexcept { return by_user_; }
  /// CSC by item: `by_item()[i]` are the rows of item i.
  [[nodiscard]] const CompressedIndex& by_item() const noexcept { return by_item_; }

  // --- ids and side information ----------------------------------------------------------------
  [[nodiscard]] const IdMap& user_ids() const noexcept { return p_.users; }
  [[nodiscard]] const IdMap& item_ids() const noexcept { return p_.items; }
  [[nodiscard]] const FeatureTable& user_features() const noexcept { return p_.user_features; }
  [[nodiscard]] const FeatureTable& item_features() const noexcept { return p_.item_features; }
  [[nodiscard]] std::span<const std::string> item_titles() const noexcept { return p_.item_titles; }
  /// Release year per item (0 = unknown), or empty when the data set has none.
  [[nodiscard]] std::span<const std::int32_t> item_years() const noexcept { return p_.item_years; }
  [[nodiscard]] const RatingScale& scale() const noexcept { return p_.scale; }
  [[nodiscard]] const std::string& name() const noexcept { return p_.name; }
  [[nodiscard]] const std::string& source() const noexcept { return p_.source; }

  /// Throws a clear `std::invalid_argument` naming `caller` when the data set has no times.
  void require_times(const char* caller) const {
    if (!has_times())
      throw std::invalid_argument(
          std::string(caller) + ": the data set '" + p_.name + "' (" + p_.source +
          ") has no timestamps; this needs rating times. Use a copy with the timestamp column "
          "(e.g. ML-100K, or synthetic data) or a protocol that does not use time");
  }

  /// Mean rating over the given rows (all rows when empty).
  [[nodiscard]] double mean_rating(std::span<const RowIndex> rows = {}) const noexcept {
    double s = 0.0;
    if (rows.empty()) {
      for (const float v : p_.rating) s += v;
      return p_.rating.empty() ? 0.0 : s / static_cast<double>(p_.rating.size());
    }
    for (const RowIndex r : rows) s += p_.rating[r];
    return s / static_cast<double>(rows.size());
  }

 private:
  static void check_table(const FeatureTable& t, std::uint32_t entities, const char* which) {
    for (const auto& f : t.fields) {
      if (f.offsets.size() != static_cast<std::size_t>(entities) + 1 ||
          f.offsets.back() != f.values.size())
        throw std::invalid_argument(std::string("Dataset: ") + which + " field '" + f.name +
                                    "' has " + std::to_string(f.offsets.size()) +
                                    " offsets for " + std::to_string(entities) + " entities");
      for (const auto v : f.values)
        if (v >= f.cardinality())
          throw std::invalid_argument(std::string("Dataset: ") + which + " field '" + f.name +
                                      "' has value " + std::to_string(v) + " >= cardinality " +
                                      std::to_string(f.cardinality()));
    }
  }

  DatasetParts p_;
  CompressedIndex by_user_;
  CompressedIndex by_item_;
};

namespace detail {

/// The one row check of metarec's public boundaries: throws `std::invalid_argument` unless every
/// row is a row of `ds` and, with `increasing`, the rows are strictly increasing (a row subset in
/// canonical order). Messages: "<caller>: <which> <row> is out of range (data set has N ratings);
/// pass rows of this data set" and "<caller>: rows must be strictly increasing (...)".
inline void check_rows(const Dataset& ds, std::span<const RowIndex> rows, const char* caller,
                       bool increasing = false, const char* which = "row") {
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] >= ds.num_ratings())
      throw std::invalid_argument(std::string(caller) + ": " + which + " " + std::to_string(rows[k]) +
                                  " (position " + std::to_string(k) + ") is out of range (data set has " +
                                  std::to_string(ds.num_ratings()) +
                                  " ratings); pass rows of this data set");
    if (increasing && k > 0 && rows[k] <= rows[k - 1])
      throw std::invalid_argument(std::string(caller) + ": rows must be strictly increasing (row " +
                                  std::to_string(rows[k]) + " follows " +
                                  std::to_string(rows[k - 1]) + " at position " +
                                  std::to_string(k) + "); sort and deduplicate them first");
  }
}

}  // namespace detail

/// A data set with the same users, items, side features, titles, years and scale as `ds` whose
/// rows are the given (user, item, rating) triples (dense indices of `ds`): training rows with
/// sampled negatives, or (user, item) pairs to score with a model that reads rows of a data set.
/// @throws std::invalid_argument as `Dataset`'s constructor (sizes differ, an index is out of
///         range, a (user, item) pair repeats).
[[nodiscard]] inline Dataset with_same_entities(const Dataset& ds, std::vector<std::uint32_t> user,
                                                std::vector<std::uint32_t> item,
                                                std::vector<float> rating) {
  DatasetParts p;
  p.name = ds.name();
  p.source = ds.source();
  p.user = std::move(user);
  p.item = std::move(item);
  p.rating = std::move(rating);
  p.users = ds.user_ids();
  p.items = ds.item_ids();
  p.user_features = ds.user_features();
  p.item_features = ds.item_features();
  p.item_titles.assign(ds.item_titles().begin(), ds.item_titles().end());
  p.item_years.assign(ds.item_years().begin(), ds.item_years().end());
  p.scale = ds.scale();
  return Dataset(std::move(p));
}

}  // namespace metarec
