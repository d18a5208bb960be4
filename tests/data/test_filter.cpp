#include <metarec/data/filter.hpp>

#include "split_test_utils.hpp"

#include <catch.hpp>

#include <algorithm>
#include <vector>

using namespace metarec;
using metarec::test::make_dataset;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_filter {

TEST_CASE("filter: threshold keeps ratings >= t (or > t) and labels match", "[split][filter]") {
  const Dataset ds = make_dataset({{1, 1, 1, 0}, {1, 2, 3, 1}, {2, 1, 4, 2}, {2, 3, 5, 3}, {3, 2, 3.5f, 4}});
  CHECK(threshold_rows(ds, 3.0f) == std::vector<RowIndex>{1, 2, 3, 4});
  CHECK(threshold_rows(ds, 3.0f, ThresholdKind::above) == std::vector<RowIndex>{2, 3, 4});
  const std::vector<RowIndex> sub{0, 1, 3};
  CHECK(threshold_rows(ds, sub, 3.0f) == std::vector<RowIndex>{1, 3});
  const std::vector<RowIndex> any_order{3, 0, 1};
  CHECK(implicit_labels(ds, any_order, 3.0f, ThresholdKind::above) ==
        std::vector<float>{1.0f, 0.0f, 0.0f});
  CHECK(implicit_labels(ds, any_order, 3.0f) == std::vector<float>{1.0f, 0.0f, 1.0f});
  const std::vector<RowIndex> unsorted{1, 0};
  CHECK_THROWS_AS(threshold_rows(ds, unsorted, 3.0f), std::invalid_argument);
  const std::vector<RowIndex> out_of_range{7};
  CHECK_THROWS_WITH(threshold_rows(ds, out_of_range, 3.0f),
                    Catch::Contains("threshold_rows") && Catch::Contains("out of range"));
}

TEST_CASE("filter: k-core removes a cascade until the fixed point", "[split][filter]") {
  // Users 1,2 rate items 10,11 (a 2-core); user 3 rates 10 and 12; item 12 has one rating, so
  // removing it leaves user 3 with one rating, which removes user 3 too.
  const Dataset ds = make_dataset(
      {{1, 10, 5, 0}, {1, 11, 4, 0}, {2, 10, 3, 0}, {2, 11, 2, 0}, {3, 10, 1, 0}, {3, 12, 5, 0}});
  CHECK(k_core_rows(ds, 2, 2) == std::vector<RowIndex>{0, 1, 2, 3});
  CHECK(k_core_rows(ds, 1, 1).size() == 6);
  CHECK(k_core_rows(ds, 3, 1).empty());
}

namespace {
// Naive k-core: repeat full passes until nothing changes.
std::vector<RowIndex> naive_k_core(const Dataset& ds, std::vector<RowIndex> rows, std::uint32_t ku,
                                   std::uint32_t ki) {
  for (bool changed = true; changed;) {
    std::vector<std::uint32_t> cu(ds.num_users(), 0), ci(ds.num_items(), 0);
    for (const auto r : rows) ++cu[ds.user(r)], ++ci[ds.item(r)];
    std::vector<RowIndex> next;
    for (const auto r : rows)
      if (cu[ds.user(r)] >= ku && ci[ds.item(r)] >= ki) next.push_back(r);
    changed = next.size() != rows.size();
    rows = std::move(next);
  }
  return rows;
}
}  // namespace

TEST_CASE("filter: k-core is the fixed point (every user and item >= k, idempotent, maximal)",
          "[split][filter]") {
  const Dataset& ds = test::small_synthetic().dataset;
  for (const auto& [ku, ki] : {std::pair{8u, 8u}, std::pair{10u, 20u}, std::pair{25u, 3u}}) {
    const auto kept = k_core_rows(ds, ku, ki);
    REQUIRE(!kept.empty());
    REQUIRE(kept.size() < ds.num_ratings());
    std::vector<std::uint32_t> cu(ds.num_users(), 0), ci(ds.num_items(), 0);
    for (const auto r : kept) ++cu[ds.user(r)], ++ci[ds.item(r)];
    for (const auto c : cu) CHECK((c == 0 || c >= ku));
    for (const auto c : ci) CHECK((c == 0 || c >= ki));
    CHECK(k_core_rows(ds, kept, ku, ki) == kept);              // fixed point
    CHECK(kept == naive_k_core(ds, all_rows(ds), ku, ki));     // the maximal k-core
  }
}

TEST_CASE("filter: materialize re-indexes a row subset and keeps original ids and sides",
          "[split][filter]") {
  const auto& syn = test::small_synthetic();
  const Dataset& ds = syn.dataset;
  const auto kept = k_core_rows(ds, 20, 20);
  const Dataset sub = materialize(ds, kept);
  REQUIRE(sub.num_ratings() == kept.size());
  REQUIRE(sub.num_users() < ds.num_users());
  for (RowIndex k = 0; k < kept.size(); ++k) {
    const RowIndex r = kept[k];
    REQUIRE(sub.user_ids().original(sub.user(k)) == ds.user_ids().original(ds.user(r)));
    REQUIRE(sub.item_ids().original(sub.item(k)) == ds.item_ids().original(ds.item(r)));
    REQUIRE(sub.rating(k) == ds.rating(r));
    REQUIRE(sub.time(k) == ds.time(r));
  }
  for (std::uint32_t i = 0; i < sub.num_items(); ++i) {
    const auto old = *ds.item_ids().find(sub.item_ids().original(i));
    CHECK(sub.item_years()[i] == ds.item_years()[old]);
    CHECK(sub.item_titles()[i] == ds.item_titles()[old]);
    const auto* g_new = sub.item_features().find("genre");
    const auto* g_old = ds.item_features().find("genre");
    REQUIRE(g_new != nullptr);
    CHECK(std::equal(g_new->of(i).begin(), g_new->of(i).end(), g_old->of(old).begin(),
                     g_old->of(old).end()));
  }
  for (std::uint32_t u = 0; u < sub.num_users(); ++u) {
    const auto old = *ds.user_ids().find(sub.user_ids().original(u));
    CHECK(sub.user_features().find("age")->of(u)[0] == ds.user_features().find("age")->of(old)[0]);
    CHECK(sub.by_user().count(u) >= 20);
  }
}

}  // namespace unity_test_filter
