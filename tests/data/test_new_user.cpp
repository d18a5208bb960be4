#include <metarec/data/new_user.hpp>

#include "split_test_utils.hpp"

#include <catch.hpp>

#include <vector>

using namespace metarec;
using namespace metarec::test;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_new_user {

TEST_CASE("new user: a user of the data set becomes user 0 of a one-user data set over every item",
          "[split][new_user]") {
  const Dataset& ds = small_synthetic().dataset;
  const std::uint32_t user = 7;
  std::vector<RowIndex> rows;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r)
    if (ds.user(r) == user) rows.push_back(r);
  REQUIRE(rows.size() >= 3);
  rows.resize(3);
  const NewUser u = new_user_from(ds, user, rows);
  REQUIRE(u.items.size() == 3);
  REQUIRE(u.features.size() == ds.user_features().fields.size());
  const Dataset one = new_user_dataset(ds, u);
  REQUIRE(one.num_users() == 1);
  REQUIRE(one.num_items() == ds.num_items());
  REQUIRE(one.num_ratings() == ds.num_items());  // 3 ratings + one candidate per other item
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(one.item(static_cast<RowIndex>(k)) == ds.item(rows[k]));
    CHECK(one.rating(static_cast<RowIndex>(k)) == ds.rating(rows[k]));
  }
  std::vector<int> seen(ds.num_items(), 0);
  for (RowIndex r = 0; r < one.num_ratings(); ++r) ++seen[one.item(r)];
  for (const int s : seen) CHECK(s == 1);
  for (std::size_t f = 0; f < ds.user_features().fields.size(); ++f) {
    const auto& a = ds.user_features().fields[f];
    const auto& b = one.user_features().fields[f];
    REQUIRE(b.of(0).size() == 1);
    CHECK(b.of(0)[0] == a.of(user)[0]);
  }

  NewUser twice = u;
  twice.items.push_back(u.items[0]);
  twice.ratings.push_back(3);
  CHECK_THROWS_WITH(new_user_dataset(ds, twice), Catch::Contains("rated twice"));
  NewUser off = u;
  off.ratings[1] = 9;
  CHECK_THROWS_WITH(new_user_dataset(ds, off), Catch::Contains("outside the scale"));
  NewUser unknown = u;
  unknown.features["shoe size"] = 1;
  CHECK_THROWS_AS(new_user_dataset(ds, unknown), std::invalid_argument);
  const std::vector<RowIndex> other{rows[0], static_cast<RowIndex>(ds.num_ratings())};
  CHECK_THROWS_AS(new_user_from(ds, user, other), std::invalid_argument);
}

}  // namespace unity_test_new_user
