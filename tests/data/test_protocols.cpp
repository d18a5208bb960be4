#include <metarec/data/protocols.hpp>

#include "split_test_utils.hpp"

#include <catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_protocols {

namespace {
const Dataset& sample() { return test::sample_synthetic().dataset; }

/// The rows each preset keeps, computed independently of the preset code.
std::vector<RowIndex> expected_kept(std::string_view name, const Dataset& ds, const Split& s) {
  if (name == "recbole") {
    // ratings >= 3 then the 10-core, recomputed by naive passes
    std::vector<RowIndex> rows;
    for (RowIndex r = 0; r < ds.num_ratings(); ++r)
      if (ds.rating(r) >= 3.0f) rows.push_back(r);
    for (bool changed = true; changed;) {
      std::vector<std::uint32_t> cu(ds.num_users(), 0), ci(ds.num_items(), 0);
      for (const auto r : rows) ++cu[ds.user(r)], ++ci[ds.item(r)];
      std::vector<RowIndex> next;
      for (const auto r : rows)
        if (cu[ds.user(r)] >= 10 && ci[ds.item(r)] >= 10) next.push_back(r);
      changed = next.size() != rows.size();
      rows = std::move(next);
    }
    return rows;
  }
  if (name.starts_with("melu-") && name != "melu-warm") {
    std::set<std::uint32_t> cold_u(s.cold_users.begin(), s.cold_users.end());
    std::vector<RowIndex> rows;
    for (RowIndex r = 0; r < ds.num_ratings(); ++r) {
      const bool cu = cold_u.count(ds.user(r)) > 0;
      const bool ci = ds.item_years()[ds.item(r)] > 1997;
      const bool keep = (!cu && !ci) || (name == "melu-user-cold" && cu && !ci) ||
                        (name == "melu-item-cold" && !cu && ci) ||
                        (name == "melu-user-item-cold" && cu && ci);
      if (keep) rows.push_back(r);
    }
    return rows;
  }
  if (name == "svae") {
    // positives (> 3.5) of users with 5..1000 of them; a held-out user keeps its positives on
    // items some training user rated, when it has at least 3 of them
    std::vector<std::vector<RowIndex>> pos(ds.num_users());
    for (RowIndex r = 0; r < ds.num_ratings(); ++r)
      if (ds.rating(r) > 3.5f) pos[ds.user(r)].push_back(r);
    const std::set<std::uint32_t> held(s.cold_users.begin(), s.cold_users.end());
    std::set<std::uint32_t> train_items;
    for (std::uint32_t u = 0; u < ds.num_users(); ++u)
      if (pos[u].size() >= 5 && pos[u].size() <= 1000 && !held.count(u))
        for (const auto r : pos[u]) train_items.insert(ds.item(r));
    std::vector<RowIndex> rows;
    for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
      if (pos[u].size() < 5 || pos[u].size() > 1000) continue;
      std::vector<RowIndex> keep;
      for (const auto r : pos[u])
        if (!held.count(u) || train_items.count(ds.item(r))) keep.push_back(r);
      if (held.count(u) && keep.size() < 3) continue;
      rows.insert(rows.end(), keep.begin(), keep.end());
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }
  if (name == "melu-warm") {
    std::set<std::uint32_t> cold_u(s.cold_users.begin(), s.cold_users.end());
    std::vector<RowIndex> rows;
    for (RowIndex r = 0; r < ds.num_ratings(); ++r)
      if (!cold_u.count(ds.user(r)) && ds.item_years()[ds.item(r)] <= 1997) rows.push_back(r);
    return rows;
  }
  return all_rows(ds);
}
}  // namespace

TEST_CASE("protocols: registry lists every preset and rejects unknown names", "[split][protocols]") {
  const auto names = protocol_names();
  const std::vector<std::string_view> expected = {
      "seed-mf", "seed-mlp", "seed-ae", "ml1m-90-10", "recbole", "svae",
      "melu-warm", "melu-user-cold", "melu-item-cold", "melu-user-item-cold"};
  CHECK(names == expected);
  for (const auto n : names) {
    CHECK(protocol_info(n).name == n);
    CHECK(!protocol_info(n).metric.empty());
    CHECK(!protocol_info(n).source.empty());
  }
  CHECK_THROWS_WITH(make_protocol_split("nope", sample(), 1),
                    Catch::Contains("unknown protocol 'nope'") && Catch::Contains("recbole"));
}

TEST_CASE("protocols: every preset yields a disjoint, complete, seeded split", "[split][protocols]") {
  const Dataset& ds = sample();
  for (const auto name : protocol_names()) {
    INFO("protocol " << name);
    const ProtocolSplit p = make_protocol_split(name, ds, 42);
    CHECK(p.split.protocol == name);
    CHECK(p.split.seed == 42);
    test::require_partition(p.split, expected_kept(name, ds, p.split));
    const ProtocolSplit again = make_protocol_split(name, ds, 42);
    CHECK(again.split == p.split);
    CHECK(again.train_tasks == p.train_tasks);
    CHECK(again.test_tasks == p.test_tasks);
    const ProtocolSplit other = make_protocol_split(name, ds, 43);
    CHECK(other.split.test != p.split.test);
  }
}

TEST_CASE("protocols: ratio presets have their sizes", "[split][protocols]") {
  const Dataset& ds = sample();
  const double n = static_cast<double>(ds.num_ratings());
  const auto mf = seed_mf_split(ds, 1);
  CHECK(std::abs(static_cast<double>(mf.test.size()) - 0.25 * n) <= 1.0);
  const auto mlp = seed_mlp_split(ds, 1);
  CHECK(std::abs(static_cast<double>(mlp.valid.size()) - 0.1 * n) <= 1.0);
  CHECK(std::abs(static_cast<double>(mlp.test.size()) - 0.1 * n) <= 1.0);
  const auto ml = ml1m_90_10_split(ds, 1);
  CHECK(std::abs(static_cast<double>(ml.test.size()) - 0.1 * n) <= 1.0);
  CHECK(ml.valid.empty());
  const auto ae = seed_ae_split(ds, 1);
  std::map<std::uint32_t, std::size_t> te;
  for (const auto r : ae.test) ++te[ds.user(r)];
  for (std::uint32_t u = 0; u < ds.num_users(); ++u)
    CHECK(std::abs(static_cast<double>(te[u]) - 0.2 * ds.by_user().count(u)) <= 1.0);
}

TEST_CASE("protocols: recbole uses RecBole's part sizes per user", "[split][protocols]") {
  using detail::recbole_counts;
  using C = std::array<std::size_t, 3>;
  CHECK(recbole_counts(10, {0.8, 0.1, 0.1}) == C{8, 1, 1});
  CHECK(recbole_counts(15, {0.8, 0.1, 0.1}) == C{13, 1, 1});   // int(1.5) = 1, train the rest
  CHECK(recbole_counts(29, {0.8, 0.1, 0.1}) == C{25, 2, 2});
  CHECK(recbole_counts(5, {0.8, 0.1, 0.1}) == C{3, 1, 1});     // shares 0.5 round up to 1
  CHECK(recbole_counts(2, {0.8, 0.1, 0.1}) == C{1, 0, 1});     // test first, then train has 1
  const Dataset& ds = sample();
  const Split s = recbole_split(ds, 3);
  std::map<std::uint32_t, C> per;
  for (const auto r : s.train) ++per[ds.user(r)][0];
  for (const auto r : s.valid) ++per[ds.user(r)][1];
  for (const auto r : s.test) ++per[ds.user(r)][2];
  REQUIRE(!per.empty());
  for (const auto& [u, c] : per) {
    CHECK(c[0] + c[1] + c[2] >= 10);
    CHECK(c == recbole_counts(c[0] + c[1] + c[2], {0.8, 0.1, 0.1}));
  }
  for (const auto r : s.test) CHECK(ds.rating(r) >= 3.0f);
}

TEST_CASE("Dataset::earlier orders rows by time, ties by row", "[split][protocols]") {
  // rows 0..3 at times 20, 10, 20, 10
  const Dataset ds = test::make_dataset({{1, 1, 5, 20}, {1, 2, 4, 10}, {1, 3, 4, 20}, {1, 4, 3, 10}}, true);
  std::vector<RowIndex> rows{0, 1, 2, 3};
  std::sort(rows.begin(), rows.end(), [&](RowIndex a, RowIndex b) { return ds.earlier(a, b); });
  CHECK(rows == std::vector<RowIndex>{1, 3, 0, 2});
  CHECK_FALSE(ds.earlier(2, 2));
  CHECK(ds.earlier(0, 2));
  CHECK_FALSE(ds.earlier(2, 0));
}

TEST_CASE("protocols: svae holds out 10% + 10% of the users and splits their histories in time",
          "[split][protocols]") {
  const Dataset& ds = sample();
  REQUIRE(ds.has_times());
  const Split s = svae_split(ds, 5);
  std::set<std::uint32_t> eligible;
  std::map<std::uint32_t, std::size_t> positives;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) positives[ds.user(r)] += ds.rating(r) > 3.5f;
  for (const auto& [u, c] : positives)
    if (c >= 5 && c <= 1000) eligible.insert(u);
  const std::set<std::uint32_t> held(s.cold_users.begin(), s.cold_users.end());
  std::map<std::uint32_t, std::vector<RowIndex>> fold, valid, test;
  for (const auto r : s.train)
    if (held.count(ds.user(r))) fold[ds.user(r)].push_back(r);
  for (const auto r : s.valid) valid[ds.user(r)].push_back(r);
  for (const auto r : s.test) test[ds.user(r)].push_back(r);
  // 10% of the eligible users each (rounded down), minus those dropped for too few rows.
  const std::size_t tenth = eligible.size() / 10;
  CHECK(valid.size() <= tenth);
  CHECK(test.size() <= tenth);
  CHECK(valid.size() + test.size() >= tenth);  // the sample drops few, if any
  CHECK(held.size() == valid.size() + test.size());
  for (const auto u : held) {
    INFO("held-out user " << u);
    CHECK(eligible.count(u));
    CHECK(valid.count(u) + test.count(u) == 1);
    const auto& out = valid.count(u) ? valid[u] : test[u];
    const std::size_t n = fold[u].size() + out.size();
    CHECK(fold[u].size() == std::min(n - 1, std::max<std::size_t>(2, (8 * n) / 10)));
    // every folded-in row comes no later than every held-out row
    std::int64_t last_in = std::numeric_limits<std::int64_t>::min(), first_out = std::numeric_limits<std::int64_t>::max();
    for (const auto r : fold[u]) last_in = std::max(last_in, ds.time(r));
    for (const auto r : out) first_out = std::min(first_out, ds.time(r));
    CHECK(last_in <= first_out);
  }
  for (const auto r : s.valid) CHECK(ds.rating(r) > 3.5f);
  // Deterministic for a seed, another seed holds out other users; no times: a clear error.
  CHECK(svae_split(ds, 5) == s);
  CHECK(svae_split(ds, 6).cold_users != s.cold_users);
  const Dataset untimed = test::make_dataset({{1, 1, 5, 0}, {2, 1, 4, 0}}, false);
  CHECK_THROWS_WITH(svae_split(untimed, 1), Catch::Contains("the svae protocol") && Catch::Contains("no timestamps"));
}

TEST_CASE("protocols: MeLU tasks respect 13..100 ratings, query 10, and no cold leakage",
          "[split][protocols]") {
  const Dataset& ds = sample();
  for (const auto scenario : {MeluScenario::warm, MeluScenario::user_cold, MeluScenario::item_cold,
                              MeluScenario::user_item_cold}) {
    const ProtocolSplit p = melu_split(ds, 42, scenario);
    INFO("scenario " << p.split.protocol);
    REQUIRE(!p.train_tasks.empty());
    REQUIRE(!p.test_tasks.empty());  // the sample has tasks in every partition
    const std::set<std::uint32_t> cold_u(p.split.cold_users.begin(), p.split.cold_users.end());
    const std::set<std::uint32_t> cold_i(p.split.cold_items.begin(), p.split.cold_items.end());
    CHECK(p.split.cold_users.size() == 120);  // 20% of 600
    for (const auto i : p.split.cold_items) CHECK(ds.item_years()[i] > 1997);
    for (const auto i : p.split.warm_items) CHECK(ds.item_years()[i] <= 1997);
    std::set<RowIndex> train(p.split.train.begin(), p.split.train.end());
    for (const Task& t : p.train_tasks) {
      CHECK(!cold_u.count(t.user));
      CHECK(t.query.size() == 10);
      const std::size_t n = t.support.size() + t.query.size();
      CHECK((n >= 13 && n <= 100));
      for (const auto* rows : {&t.support, &t.query})
        for (const auto r : *rows) {
          REQUIRE(ds.user(r) == t.user);
          REQUIRE(!cold_i.count(ds.item(r)));
        }
      if (scenario != MeluScenario::warm)
        for (const auto r : t.query) CHECK(train.count(r));
    }
    std::set<RowIndex> test(p.split.test.begin(), p.split.test.end());
    for (const Task& t : p.test_tasks) {
      CHECK(t.query.size() == 10);
      const std::size_t n = t.support.size() + t.query.size();
      CHECK((n >= 13 && n <= 100));
      for (const auto r : t.query) CHECK(test.count(r));
      const bool user_is_cold = cold_u.count(t.user) > 0;
      CHECK(user_is_cold == (scenario == MeluScenario::user_cold ||
                             scenario == MeluScenario::user_item_cold));
      for (const auto r : t.support) {
        const bool item_is_new = cold_i.count(ds.item(r)) > 0;
        CHECK(item_is_new == (scenario == MeluScenario::item_cold ||
                              scenario == MeluScenario::user_item_cold));
      }
    }
    // A user's task size is the user's count in the partition, when it is within the bounds.
    if (scenario == MeluScenario::user_cold) {
      std::map<std::uint32_t, std::size_t> count;
      for (const auto r : p.split.test) ++count[ds.user(r)];
      std::size_t eligible = 0;
      for (const auto& [u, c] : count) eligible += (c >= 13 && c <= 100);
      CHECK(p.test_tasks.size() == eligible);
    }
  }
  const Dataset no_years = test::make_dataset({{1, 1, 5, 0}, {2, 1, 4, 0}});
  CHECK_THROWS_WITH(make_protocol_split("melu-item-cold", no_years, 1),
                    Catch::Contains("no item release years"));
}

}  // namespace unity_test_protocols
