#include <metarec/data/split.hpp>

#include "split_test_utils.hpp"

#include <catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

using namespace metarec;
using metarec::test::require_partition;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_split {

namespace {
const Dataset& data() { return test::small_synthetic().dataset; }

std::map<std::uint32_t, std::size_t> per_user(const Dataset& ds, const std::vector<RowIndex>& rows) {
  std::map<std::uint32_t, std::size_t> m;
  for (const auto r : rows) ++m[ds.user(r)];
  return m;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("metarec_split_test_" + name);
  std::filesystem::remove_all(dir);
  return dir;
}
}  // namespace

TEST_CASE("split: global random ratios hold within one row, for any ratios", "[split]") {
  const Dataset& ds = data();
  const double n = static_cast<double>(ds.num_ratings());
  for (const SplitRatios r : {SplitRatios{.train = 0.75, .test = 0.25},
                              SplitRatios{.train = 0.8, .valid = 0.1, .test = 0.1},
                              SplitRatios{.train = 0.9, .test = 0.1},
                              SplitRatios{.train = 8, .valid = 1, .test = 1}}) {
    const Split s = random_ratio_split(ds, r, 5);
    require_partition(s, all_rows(ds));
    const double sum = r.train + r.valid + r.test;
    CHECK(std::abs(static_cast<double>(s.train.size()) - n * r.train / sum) <= 1.0);
    CHECK(std::abs(static_cast<double>(s.valid.size()) - n * r.valid / sum) <= 1.0);
    CHECK(std::abs(static_cast<double>(s.test.size()) - n * r.test / sum) <= 1.0);
    CHECK(s.seed == 5);
  }
  CHECK_THROWS_WITH(random_ratio_split(ds, {.train = -1, .test = 1}, 1),
                    Catch::Contains("random_ratio_split") && Catch::Contains("ratios"));
}

TEST_CASE("split: same seed gives the same split, another seed another", "[split]") {
  const Dataset& ds = data();
  CHECK(random_ratio_split(ds, {}, 1) == random_ratio_split(ds, {}, 1));
  CHECK(random_ratio_split(ds, {}, 1).test != random_ratio_split(ds, {}, 2).test);
  CHECK(per_user_random_split(ds, {}, 1) == per_user_random_split(ds, {}, 1));
  CHECK(per_user_random_split(ds, {}, 1).test != per_user_random_split(ds, {}, 2).test);
  CHECK(leave_k_out_split(ds, {}, 3) == leave_k_out_split(ds, {}, 3));
  CHECK(leave_k_out_split(ds, {}, 3).test != leave_k_out_split(ds, {}, 4).test);
  CHECK(k_fold_split(ds, 5, 2, 3).test != k_fold_split(ds, 5, 2, 4).test);
  CHECK(cold_user_split(ds, 0.2, 1).cold_users != cold_user_split(ds, 0.2, 2).cold_users);
}

TEST_CASE("split: the split does not depend on the order of the rows in the data file", "[split]") {
  const Dataset& ds = data();
  const Dataset shuffled = test::reordered(ds, 99);
  using test::pairs_of;
  const Split a = random_ratio_split(ds, {.train = 0.8, .valid = 0.1, .test = 0.1}, 7);
  const Split b = random_ratio_split(shuffled, {.train = 0.8, .valid = 0.1, .test = 0.1}, 7);
  CHECK(pairs_of(ds, a.test) == pairs_of(shuffled, b.test));
  CHECK(pairs_of(ds, a.valid) == pairs_of(shuffled, b.valid));
  const Split c = per_user_random_split(ds, {}, 7), d = per_user_random_split(shuffled, {}, 7);
  CHECK(pairs_of(ds, c.test) == pairs_of(shuffled, d.test));
  const Split e = k_fold_split(ds, 4, 1, 7), f = k_fold_split(shuffled, 4, 1, 7);
  CHECK(pairs_of(ds, e.test) == pairs_of(shuffled, f.test));
}

TEST_CASE("split: per-user random ratios hold within one row per user", "[split]") {
  const Dataset& ds = data();
  const Split s = per_user_random_split(ds, {.train = 0.7, .valid = 0.1, .test = 0.2}, 3);
  require_partition(s, all_rows(ds));
  const auto tr = per_user(ds, s.train), va = per_user(ds, s.valid), te = per_user(ds, s.test);
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    const double n = ds.by_user().count(u);
    auto get = [&](const auto& m) { return m.count(u) ? static_cast<double>(m.at(u)) : 0.0; };
    CHECK(std::abs(get(tr) - 0.7 * n) <= 1.0);
    CHECK(std::abs(get(va) - 0.1 * n) <= 1.0);
    CHECK(std::abs(get(te) - 0.2 * n) <= 1.0);
  }
}

TEST_CASE("split: per-user temporal puts every test row after every train row of the user",
          "[split]") {
  const Dataset& ds = data();
  const Split s = per_user_temporal_split(ds, {.train = 0.6, .valid = 0.2, .test = 0.2});
  require_partition(s, all_rows(ds));
  std::map<std::uint32_t, std::int64_t> last_train, first_valid, last_valid, first_test;
  for (const auto r : s.train) last_train[ds.user(r)] = std::max(last_train[ds.user(r)], ds.time(r));
  for (const auto r : s.valid) {
    auto [it, fresh] = first_valid.try_emplace(ds.user(r), ds.time(r));
    if (!fresh) it->second = std::min(it->second, ds.time(r));
    last_valid[ds.user(r)] = std::max(last_valid[ds.user(r)], ds.time(r));
  }
  for (const auto r : s.test) {
    auto [it, fresh] = first_test.try_emplace(ds.user(r), ds.time(r));
    if (!fresh) it->second = std::min(it->second, ds.time(r));
  }
  REQUIRE(!first_test.empty());
  for (const auto& [u, t] : first_test) {
    CHECK(t > last_train[u]);  // synthetic times are strictly increasing per user
    if (last_valid.count(u)) CHECK(t > last_valid[u]);
  }
  for (const auto& [u, t] : first_valid) CHECK(t > last_train[u]);
}

TEST_CASE("split: time-needing splits refuse data without times", "[split]") {
  const Dataset no_times = test::make_dataset({{1, 1, 5, 0}, {1, 2, 4, 0}, {2, 1, 3, 0}}, false);
  CHECK_THROWS_WITH(per_user_temporal_split(no_times, {}),
                    Catch::Contains("per_user_temporal_split") && Catch::Contains("no timestamps"));
  CHECK_THROWS_WITH(leave_k_out_split(no_times, {.order = LeaveOutOrder::latest}, 0),
                    Catch::Contains("leave_k_out_split") && Catch::Contains("no timestamps"));
  CHECK_NOTHROW(leave_k_out_split(no_times, {.order = LeaveOutOrder::random}, 0));
}

TEST_CASE("split: leave-k-out latest holds out each user's latest rows", "[split]") {
  const Dataset& ds = data();
  const Split s = leave_k_out_split(ds, {.test = 2, .valid = 1, .order = LeaveOutOrder::latest}, 0);
  require_partition(s, all_rows(ds));
  const auto va = per_user(ds, s.valid), te = per_user(ds, s.test);
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    auto rows = ds.by_user()[u];
    std::vector<RowIndex> by_time(rows.begin(), rows.end());
    std::sort(by_time.begin(), by_time.end(),
              [&](RowIndex a, RowIndex b) { return ds.time(a) < ds.time(b); });
    if (by_time.size() <= 3) {
      CHECK(!te.count(u));
      continue;
    }
    CHECK(te.at(u) == 2);
    CHECK(va.at(u) == 1);
    const std::size_t n = by_time.size();
    CHECK(std::binary_search(s.test.begin(), s.test.end(), by_time[n - 1]));
    CHECK(std::binary_search(s.test.begin(), s.test.end(), by_time[n - 2]));
    CHECK(std::binary_search(s.valid.begin(), s.valid.end(), by_time[n - 3]));
  }
  const Split r = leave_k_out_split(ds, {.test = 1}, 4);
  require_partition(r, all_rows(ds));
  for (const auto& [u, c] : per_user(ds, r.test)) CHECK(c == 1);
  CHECK(per_user(ds, r.test).size() == ds.num_users());  // every user has >= 5 rows here
}

TEST_CASE("split: k-fold test sets partition the data", "[split]") {
  const Dataset& ds = data();
  std::vector<RowIndex> all_tests;
  for (std::uint32_t f = 0; f < 5; ++f) {
    const Split s = k_fold_split(ds, 5, f, 9);
    require_partition(s, all_rows(ds));
    const double expected = static_cast<double>(ds.num_ratings()) / 5.0;
    CHECK(std::abs(static_cast<double>(s.test.size()) - expected) <= 1.0);
    all_tests.insert(all_tests.end(), s.test.begin(), s.test.end());
  }
  std::sort(all_tests.begin(), all_tests.end());
  CHECK(all_tests == all_rows(ds));
  CHECK_THROWS_AS(k_fold_split(ds, 5, 5, 9), std::invalid_argument);
  CHECK_THROWS_AS(k_fold_split(ds, 1, 0, 9), std::invalid_argument);
}

TEST_CASE("split: cold-start splits keep cold users and new items out of training", "[split]") {
  const Dataset& ds = data();
  const Split cu = cold_user_split(ds, 0.25, 8);
  require_partition(cu, all_rows(ds));
  CHECK(cu.cold_users.size() == 30);  // llround(0.25 * 120)
  std::set<std::uint32_t> cold(cu.cold_users.begin(), cu.cold_users.end());
  for (const auto r : cu.train) REQUIRE(!cold.count(ds.user(r)));
  for (const auto r : cu.test) REQUIRE(cold.count(ds.user(r)));

  const Split ci = cold_item_split(ds, 1997);
  require_partition(ci, all_rows(ds));
  REQUIRE(!ci.test.empty());
  for (const auto r : ci.train) REQUIRE(ds.item_years()[ds.item(r)] <= 1997);
  for (const auto r : ci.test) REQUIRE(ds.item_years()[ds.item(r)] > 1997);

  const Split both = cold_user_item_split(ds, 0.2, 1997, 8);
  const auto p = cold_start_partition(ds, all_rows(ds), 0.2, 1997, 8);
  std::vector<RowIndex> kept = p.warm;
  kept.insert(kept.end(), p.user_item_cold.begin(), p.user_item_cold.end());
  std::sort(kept.begin(), kept.end());
  require_partition(both, kept);
  CHECK(p.warm.size() + p.user_cold.size() + p.item_cold.size() + p.user_item_cold.size() ==
        ds.num_ratings());
  std::set<std::uint32_t> cold_u(both.cold_users.begin(), both.cold_users.end());
  std::set<std::uint32_t> cold_i(both.cold_items.begin(), both.cold_items.end());
  for (const auto r : both.train) REQUIRE((!cold_u.count(ds.user(r)) && !cold_i.count(ds.item(r))));
  for (const auto r : both.test) REQUIRE((cold_u.count(ds.user(r)) && cold_i.count(ds.item(r))));

  const Dataset no_years = test::make_dataset({{1, 1, 5, 0}, {2, 1, 4, 0}});
  CHECK_THROWS_WITH(cold_item_split(no_years, 1997),
                    Catch::Contains("no item release years"));
}

TEST_CASE("split: export then import gives the same split, also on reordered data", "[split]") {
  const Dataset& ds = data();
  Split s = cold_user_item_split(ds, 0.2, 1997, 12);
  s.valid = {};  // keep the invariants: valid is empty for this split
  const auto dir = temp_dir("roundtrip");
  export_split(s, ds, dir);
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    CHECK(entry.path().extension() == ".txt");  // no temporary files left behind
  CHECK(import_split(dir, ds) == s);

  const Split r = per_user_random_split(ds, {.train = 0.8, .valid = 0.1, .test = 0.1}, 3);
  export_split(r, ds, dir);
  const Split back = import_split(dir, ds);
  CHECK(back == r);
  const Dataset shuffled = test::reordered(ds, 5);
  const Split moved = import_split(dir, shuffled);
  CHECK(test::pairs_of(shuffled, moved.test) == test::pairs_of(ds, r.test));
  CHECK(test::pairs_of(shuffled, moved.train) == test::pairs_of(ds, r.train));
  CHECK(moved.protocol == r.protocol);
  CHECK(moved.seed == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("split: importing onto another data set or a broken file fails with path:line",
          "[split]") {
  const Dataset& ds = data();
  const auto dir = temp_dir("mismatch");
  export_split(random_ratio_split(ds, {}, 1), ds, dir);
  const Dataset other = test::make_dataset({{1, 1, 5, 0}, {2, 1, 4, 0}});
  const std::string train = (dir / "train.txt").string();
  try {
    (void)import_split(dir, other);
    FAIL("import onto another data set must throw");
  } catch (const data_error& e) {
    CHECK(e.path() == train);
    CHECK(e.line() == 5);
    CHECK_THAT(e.what(), Catch::StartsWith(train + ":5:") && Catch::Contains("other data"));
  }
  // A changed rating changes the fingerprint even with the same ids and count.
  {
    DatasetParts p;
    p.users = IdMap::from_ids({ds.user_ids().originals().begin(), ds.user_ids().originals().end()});
    p.items = IdMap::from_ids({ds.item_ids().originals().begin(), ds.item_ids().originals().end()});
    p.user.assign(ds.users().begin(), ds.users().end());
    p.item.assign(ds.items().begin(), ds.items().end());
    p.rating.assign(ds.ratings().begin(), ds.ratings().end());
    p.rating[0] = p.rating[0] == 5.0f ? 4.0f : 5.0f;
    CHECK_THROWS_AS(import_split(dir, Dataset(std::move(p))), data_error);
  }
  // A malformed line names its line and column.
  {
    std::ifstream in(dir / "test.txt");
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    const auto header_end = contents.find("\n# count");
    const auto body = contents.find('\n', header_end + 1) + 1;
    contents.insert(body, "12 x7\n");
    std::ofstream(dir / "test.txt", std::ios::trunc) << contents;
    try {
      (void)import_split(dir, ds);
      FAIL("malformed line must throw");
    } catch (const data_error& e) {
      CHECK(e.line() == 7);
      CHECK(e.column() == 4);
      CHECK_THAT(e.what(), Catch::Contains("test.txt:7:4"));
    }
  }
  std::filesystem::remove(dir / "valid.txt");
  CHECK_THROWS_WITH(import_split(dir, ds), Catch::Contains("valid.txt"));
  std::filesystem::remove_all(dir);
}

}  // namespace unity_test_split
