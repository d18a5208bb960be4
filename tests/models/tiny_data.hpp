#pragma once
// A small hand-made data set for model tests: 7 users, 9 items, 37 ratings (users rate 4 to 7
// items each) with times and
// ML-1M-style side features (gender, age, occupation, zip_prefix; genre multi-hot, year).

#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>

#include <numeric>
#include <vector>

namespace metarec::test {

inline Dataset tiny_dataset(std::uint64_t seed = 3, bool with_times = true) {
  DatasetParts p;
  p.name = "tiny";
  p.source = "tests/models/tiny_data.hpp";
  const std::uint32_t nu = 7, ni = 9;
  Rng rng(seed);
  std::vector<std::int64_t> uids(nu), iids(ni);
  std::iota(uids.begin(), uids.end(), 1);
  std::iota(iids.begin(), iids.end(), 10);
  p.users = IdMap::from_ids(uids);
  p.items = IdMap::from_ids(iids);
  // Each user rates a distinct pseudo-random subset of items.
  for (std::uint32_t u = 0; u < nu; ++u) {
    std::vector<std::uint32_t> items(ni);
    std::iota(items.begin(), items.end(), 0u);
    rng.shuffle(std::span<std::uint32_t>(items));
    const std::uint32_t count = 4 + (u % 4);
    for (std::uint32_t k = 0; k < count && p.user.size() < 40; ++k) {
      p.user.push_back(u);
      p.item.push_back(items[k]);
      p.rating.push_back(static_cast<float>(1 + rng.below(5)));
      if (with_times) p.time.push_back(1000000 + 3600 * static_cast<std::int64_t>(p.user.size()));
    }
  }
  const std::vector<std::int32_t> gender{0, 1, 1, 0, 1, 0, 1};
  const std::vector<std::int32_t> age{0, 1, 2, 3, 4, 5, 6};
  const std::vector<std::int32_t> occ{0, 3, 7, 3, 12, 20, -1};
  const std::vector<std::int32_t> zip{1, 9, 0, 5, -1, 5, 2};
  p.user_features.fields.push_back(CategoricalField::single("gender", {"F", "M"}, gender));
  p.user_features.fields.push_back(
      CategoricalField::single("age", {"1", "18", "25", "35", "45", "50", "56"}, age));
  std::vector<std::string> occ_labels;
  for (int k = 0; k < 21; ++k) occ_labels.push_back("occ" + std::to_string(k));
  p.user_features.fields.push_back(CategoricalField::single("occupation", occ_labels, occ));
  p.user_features.fields.push_back(CategoricalField::single(
      "zip_prefix", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, zip));
  CategoricalField genre{"genre", {"Action", "Comedy", "Drama", "Horror"}, {0}, {}};
  for (std::uint32_t i = 0; i < ni; ++i) {
    genre.values.push_back(i % 4);
    if (i % 3 == 0) genre.values.push_back((i + 1) % 4);
    genre.offsets.push_back(static_cast<std::uint32_t>(genre.values.size()));
  }
  p.item_features.fields.push_back(genre);
  std::vector<std::int32_t> year_idx(ni);
  for (std::uint32_t i = 0; i < ni; ++i) year_idx[i] = static_cast<std::int32_t>(i % 3);
  p.item_features.fields.push_back(CategoricalField::single("year", {"1995", "1997", "1999"}, year_idx));
  p.item_years.resize(ni);
  for (std::uint32_t i = 0; i < ni; ++i) p.item_years[i] = 1995 + 2 * static_cast<std::int32_t>(i % 3);
  return Dataset(std::move(p));
}

inline std::vector<RowIndex> all_rows(const Dataset& ds) {
  std::vector<RowIndex> rows(ds.num_ratings());
  std::iota(rows.begin(), rows.end(), RowIndex{0});
  return rows;
}

}  // namespace metarec::test
