#pragma once
// Helpers shared by the split/filter/task/protocol tests: small Datasets built from DatasetParts
// (no loader) and split invariants.

#include <metarec/data/dataset.hpp>
#include <metarec/data/split.hpp>
#include <metarec/data/synthetic.hpp>

#include <catch.hpp>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

namespace metarec::test {

/// One rating of a hand-written fixture, with original ids.
struct Triple {
  std::int64_t user, item;
  float rating;
  std::int64_t time;
};

/// Builds a Dataset from triples (original ids), with optional times and item years
/// (`years[k]` is the year of the k-th smallest item id).
inline Dataset make_dataset(const std::vector<Triple>& triples, bool with_times = true,
                            std::vector<std::int32_t> years = {}) {
  std::vector<std::int64_t> uids, iids;
  for (const auto& t : triples) uids.push_back(t.user), iids.push_back(t.item);
  DatasetParts p;
  p.name = "fixture";
  p.source = "tests/split";
  p.users = IdMap::from_ids(uids);
  p.items = IdMap::from_ids(iids);
  for (const auto& t : triples) {
    p.user.push_back(*p.users.find(t.user));
    p.item.push_back(*p.items.find(t.item));
    p.rating.push_back(t.rating);
    if (with_times) p.time.push_back(t.time);
  }
  p.item_years = std::move(years);
  return Dataset(std::move(p));
}

/// A small synthetic data set (made in memory, not loaded) with times, years and features.
inline const SyntheticData& small_synthetic() {
  static const SyntheticData data = make_synthetic(
      {.users = 120, .items = 80, .min_ratings_per_user = 5, .max_ratings_per_user = 60,
       .seed = 11});
  return data;
}

/// The default synthetic data set (identical to data/sample).
inline const SyntheticData& sample_synthetic() {
  static const SyntheticData data = make_synthetic({});
  return data;
}

/// Copy of a data set with its rows in another order (same ratings, same ids): the "reordered data
/// file" of the robustness tests.
inline Dataset reordered(const Dataset& ds, std::uint64_t seed) {
  std::vector<RowIndex> perm(ds.num_ratings());
  for (RowIndex r = 0; r < perm.size(); ++r) perm[r] = r;
  Rng rng(seed);
  rng.shuffle(std::span<RowIndex>(perm));
  DatasetParts p;
  p.name = ds.name();
  p.source = ds.source();
  p.users = IdMap::from_ids({ds.user_ids().originals().begin(), ds.user_ids().originals().end()});
  p.items = IdMap::from_ids({ds.item_ids().originals().begin(), ds.item_ids().originals().end()});
  for (const RowIndex r : perm) {
    p.user.push_back(ds.user(r));
    p.item.push_back(ds.item(r));
    p.rating.push_back(ds.rating(r));
    if (ds.has_times()) p.time.push_back(ds.time(r));
  }
  p.item_years.assign(ds.item_years().begin(), ds.item_years().end());
  return Dataset(std::move(p));
}

/// Rows as sorted (original user, original item) pairs: comparable across row orders.
inline std::vector<std::pair<std::int64_t, std::int64_t>> pairs_of(
    const Dataset& ds, const std::vector<RowIndex>& rows) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const RowIndex r : rows)
    out.emplace_back(ds.user_ids().original(ds.user(r)), ds.item_ids().original(ds.item(r)));
  std::sort(out.begin(), out.end());
  return out;
}

/// Checks the split invariants: each list ascending without duplicates, lists pairwise disjoint,
/// union equal to `kept` (ascending).
inline void require_partition(const Split& s, const std::vector<RowIndex>& kept) {
  for (const auto* v : {&s.train, &s.valid, &s.test})
    REQUIRE(std::adjacent_find(v->begin(), v->end(), std::greater_equal<>()) == v->end());
  std::vector<RowIndex> all;
  all.insert(all.end(), s.train.begin(), s.train.end());
  all.insert(all.end(), s.valid.begin(), s.valid.end());
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  REQUIRE(std::adjacent_find(all.begin(), all.end()) == all.end());  // pairwise disjoint
  REQUIRE(all == kept);                                              // complete
}

}  // namespace metarec::test
