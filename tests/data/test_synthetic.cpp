#include <metarec/data/protocols.hpp>
#include <metarec/data/synthetic.hpp>
#if __has_include(<metarec/data/movielens.hpp>)
#include <metarec/data/movielens.hpp>
#define METAREC_TEST_HAS_LOADER 1
#endif

#include "split_test_utils.hpp"

#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_synthetic {

namespace {
std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("synthetic: the default generator reproduces data/sample byte for byte",
          "[split][synthetic]") {
  const auto dir = std::filesystem::temp_directory_path() / "metarec_synthetic_regen";
  std::filesystem::remove_all(dir);
  write_movielens_1m(make_synthetic({}), dir);
  for (const char* name : {"ratings.dat", "users.dat", "movies.dat"}) {
    INFO(name << ": regenerate data/sample with the command in data/sample/README.md");
    const std::string committed = read_bytes(test::sample_data() / name);
    REQUIRE(!committed.empty());
    CHECK(read_bytes(dir / name) == committed);
  }
  std::filesystem::remove_all(dir);
  std::uintmax_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(test::sample_data()))
    total += e.file_size();
  CHECK(total <= 2u * 1024u * 1024u);
}

TEST_CASE("synthetic: ratings, times and years have the promised shape", "[split][synthetic]") {
  const auto& syn = test::sample_synthetic();
  const Dataset& ds = syn.dataset;
  CHECK(ds.num_users() == 600);
  CHECK(ds.num_items() == 400);
  CHECK(ds.num_ratings() > 40000);
  for (const float r : ds.ratings()) REQUIRE((r >= 1.0f && r <= 5.0f && r == std::round(r)));
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    const auto rows = ds.by_user()[u];
    REQUIRE(rows.size() >= 20);
    REQUIRE(rows.size() <= 240);
    for (std::size_t k = 1; k < rows.size(); ++k) REQUIRE(ds.time(rows[k]) > ds.time(rows[k - 1]));
  }
  std::size_t newer = 0;
  for (const auto y : ds.item_years()) newer += y > 1997;
  CHECK(newer > 40);
  CHECK(newer < 360);
  // Popularity skew: the most rated item has many times the ratings of the median item.
  std::vector<std::uint32_t> counts;
  for (std::uint32_t i = 0; i < ds.num_items(); ++i) counts.push_back(ds.by_item().count(i));
  std::sort(counts.begin(), counts.end());
  CHECK(counts.back() > 4 * counts[counts.size() / 2]);
}

TEST_CASE("synthetic: side features shift the ratings", "[split][synthetic]") {
  const auto& syn = test::sample_synthetic();
  const Dataset& ds = syn.dataset;
  std::map<int, std::pair<double, int>> by_age, by_genre;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) {
    auto& a = by_age[syn.age[ds.user(r)]];
    a.first += ds.rating(r), ++a.second;
    for (int g = 0; g < 18; ++g)
      if (syn.genres[ds.item(r)] & (1u << g)) {
        auto& b = by_genre[g];
        b.first += ds.rating(r), ++b.second;
      }
  }
  auto spread = [](const std::map<int, std::pair<double, int>>& m) {
    double lo = 10, hi = 0;
    for (const auto& [k, v] : m)
      if (v.second >= 500) lo = std::min(lo, v.first / v.second), hi = std::max(hi, v.first / v.second);
    return hi - lo;
  };
  CHECK(spread(by_age) > 0.3);
  CHECK(spread(by_genre) > 0.3);
  CHECK(ds.user_features().find("zip_prefix") != nullptr);
  CHECK(ds.item_features().find("genre")->cardinality() == 18);
}

TEST_CASE("synthetic: bad options are rejected", "[split][synthetic]") {
  CHECK_THROWS_WITH(make_synthetic({.items = 10, .max_ratings_per_user = 20}),
                    Catch::Contains("make_synthetic"));
}

#ifdef METAREC_TEST_HAS_LOADER
TEST_CASE("synthetic: data/sample loads through the MovieLens loader with the same ratings",
          "[split][synthetic]") {
  const Dataset loaded = load_movielens(test::sample_data());
  const Dataset& made = test::sample_synthetic().dataset;
  REQUIRE(loaded.num_ratings() == made.num_ratings());
  REQUIRE(data_fingerprint(loaded) == data_fingerprint(made));
  REQUIRE(loaded.has_times());
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> times;
  for (RowIndex r = 0; r < made.num_ratings(); ++r)
    times[{made.user_ids().original(made.user(r)), made.item_ids().original(made.item(r))}] =
        made.time(r);
  for (RowIndex r = 0; r < loaded.num_ratings(); ++r)
    REQUIRE(times.at({loaded.user_ids().original(loaded.user(r)),
                      loaded.item_ids().original(loaded.item(r))}) == loaded.time(r));
  REQUIRE(!loaded.item_years().empty());
  for (std::uint32_t i = 0; i < loaded.num_items(); ++i) {
    const auto m = made.item_ids().find(loaded.item_ids().original(i));
    REQUIRE(m);
    CHECK(loaded.item_years()[i] == made.item_years()[*m]);
  }
  // Side features: the same category indices for every field the generator writes.
  for (const char* field : {"gender", "age", "occupation", "zip_prefix"}) {
    INFO("user field " << field);
    const auto* a = loaded.user_features().find(field);
    const auto* b = made.user_features().find(field);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    for (std::uint32_t u = 0; u < loaded.num_users(); ++u) {
      const auto m = *made.user_ids().find(loaded.user_ids().original(u));
      CHECK(std::equal(a->of(u).begin(), a->of(u).end(), b->of(m).begin(), b->of(m).end()));
    }
  }
  for (const char* field : {"genre", "year"}) {
    INFO("item field " << field);
    const auto* a = loaded.item_features().find(field);
    const auto* b = made.item_features().find(field);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(a->labels == b->labels);
    for (std::uint32_t i = 0; i < loaded.num_items(); ++i) {
      const auto m = *made.item_ids().find(loaded.item_ids().original(i));
      CHECK(std::equal(a->of(i).begin(), a->of(i).end(), b->of(m).begin(), b->of(m).end()));
    }
  }
  // Every preset works on the loaded sample, and MeLU presets yield tasks.
  for (const auto name : protocol_names()) {
    const auto p = make_protocol_split(name, loaded, 1);
    if (name.starts_with("melu-")) CHECK(!p.test_tasks.empty());
  }
}
#endif

}  // namespace unity_test_synthetic
