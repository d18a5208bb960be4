#pragma once
/// @file synthetic.hpp
/// @brief A synthetic rating generator with planted structure, written in the MovieLens-1M format.
///
/// The model (all draws from `Rng`, so the same options give the same data on every platform with
/// IEEE doubles and a correctly rounded `exp`/`log`/`cos`):
/// - users: gender, ML-1M age code, occupation 0..20 and a 5-digit zip code; items: 1 to 3 genres
///   from the ML-1M list and a release year skewed to recent years (about 40% after 1997 with the
///   defaults, so item cold-start by year has both sides);
/// - score(u, i, k) = 3.4 + b_u + b_i + p_u . q_i + drift_u * (k / (n_u - 1) - 1/2) + noise,
///   where the side features MATTER: p_u = free part + embeddings of gender, age, occupation and zip
///   prefix; b_u has gender/age/occupation offsets; q_i = free part + mean of genre embeddings +
///   a year direction; b_i has genre offsets and an older-is-better year trend;
/// - rating = clip(round(score), 1, 5);
/// - activity skew: each user rates n_u items, n_u log-uniform in [min, max] ratings per user;
/// - popularity skew: items are drawn without replacement with Zipf weights 1/(rank+1)^s over a
///   random popularity ranking;
/// - times: each user starts at a random time in [start_time, end_time]; gaps are mostly short
///   (one session) with occasional long breaks, strictly increasing per user; `drift_u` shifts the
///   user's ratings over their history, so temporal splits see a real effect.
/// @code
/// metarec::SyntheticData syn = metarec::make_synthetic({.users = 100, .items = 50, .seed = 3});
/// metarec::write_movielens_1m(syn, "out/synthetic");  // ratings.dat, users.dat, movies.dat
/// const metarec::Dataset& ds = syn.dataset;
/// @endcode

#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/core/detail/atomic_file.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metarec {

/// Options of `make_synthetic`. The defaults generate the committed sample in data/sample.
struct SyntheticOptions {
  std::uint32_t users = 600;                 ///< number of users (ids 1..users)
  std::uint32_t items = 400;                 ///< number of items (ids 1..items)
  std::uint32_t min_ratings_per_user = 20;   ///< activity range (log-uniform)
  std::uint32_t max_ratings_per_user = 240;  ///< at most `items`
  std::uint32_t rank = 8;                    ///< latent dimension
  double noise = 0.6;                        ///< standard deviation of the score noise
  double popularity_exponent = 0.9;          ///< Zipf exponent s of item choice
  double drift = 0.5;                        ///< standard deviation of the per-user drift
  std::int32_t first_year = 1919;            ///< oldest release year
  std::int32_t last_year = 2000;             ///< newest release year
  std::int64_t start_time = 956703932;       ///< 2000-04-25, the first ML-1M rating
  std::int64_t end_time = 1046454590;        ///< 2003-02-28, the last ML-1M rating
  std::uint64_t seed = 20190804;             ///< master seed
};

/// The generated data: the `Dataset` plus the raw attributes written to the ML-1M files.
struct SyntheticData {
  Dataset dataset;                     ///< rows in ratings.dat order (user, then time)
  std::vector<char> gender;            ///< 'F' or 'M', per dense user
  std::vector<std::int32_t> age;       ///< ML-1M age code (1, 18, 25, 35, 45, 50, 56)
  std::vector<std::int32_t> occupation;  ///< 0..20
  std::vector<std::string> zip;        ///< 5-digit zip code
  std::vector<std::uint32_t> genres;   ///< bit g set = genre `ml1m_genre_names()[g]`, per dense item
  std::vector<std::int32_t> year;      ///< release year per dense item
};

/// The 18 genres of ML-1M, in the order of its README.
[[nodiscard]] inline std::span<const std::string_view> ml1m_genre_names() noexcept {
  static constexpr std::array<std::string_view, 18> genres = {
      "Action",  "Adventure", "Animation", "Children's", "Comedy",   "Crime",
      "Documentary", "Drama", "Fantasy",   "Film-Noir",  "Horror",   "Musical",
      "Mystery", "Romance",   "Sci-Fi",    "Thriller",   "War",      "Western"};
  return genres;
}

/// The ML-1M age codes.
[[nodiscard]] inline std::span<const std::int32_t> ml1m_age_codes() noexcept {
  static constexpr std::array<std::int32_t, 7> codes = {1, 18, 25, 35, 45, 50, 56};
  return codes;
}

namespace detail {

/// Index drawn from unnormalised weights.
inline std::size_t draw_weighted(Rng& rng, std::span<const double> w) {
  double total = 0.0;
  for (const double x : w) total += x;
  double u = rng.uniform() * total;
  for (std::size_t k = 0; k < w.size(); ++k) {
    if (u < w[k]) return k;
    u -= w[k];
  }
  return w.size() - 1;
}

inline double exponential(Rng& rng, double mean) {
  double u = rng.uniform();
  while (u <= 0.0) u = rng.uniform();
  return -mean * std::log(u);
}

}  // namespace detail

/// Generates a synthetic data set (see the file comment for the model).
/// @throws std::invalid_argument when the options are inconsistent.
[[nodiscard]] inline SyntheticData make_synthetic(const SyntheticOptions& o) {
  if (o.users == 0 || o.items == 0 || o.rank == 0 || o.min_ratings_per_user == 0 ||
      o.min_ratings_per_user > o.max_ratings_per_user || o.max_ratings_per_user > o.items ||
      !(o.noise >= 0) || !(o.popularity_exponent >= 0) || !(o.drift >= 0) ||
      o.first_year > o.last_year || o.start_time > o.end_time)
    throw std::invalid_argument(
        "make_synthetic: inconsistent options (users " + std::to_string(o.users) + ", items " +
        std::to_string(o.items) + ", ratings per user " + std::to_string(o.min_ratings_per_user) +
        ".." + std::to_string(o.max_ratings_per_user) + ", rank " + std::to_string(o.rank) +
        ", noise " + std::to_string(o.noise) + ", years " + std::to_string(o.first_year) + ".." +
        std::to_string(o.last_year) +
        "); need users, items, rank >= 1, 1 <= min <= max <= items, non-negative noise/drift");
  const std::size_t d = o.rank;
  const auto genres = ml1m_genre_names();
  const std::size_t n_genres = genres.size();
  const double emb = std::pow(0.36 / static_cast<double>(d), 0.25);  // p.q has std ~ 0.6

  // Shared effects of the side features.
  Rng shared(derive_seed(o.seed, 1));
  auto table = [&](std::size_t rows, double scale) {
    std::vector<double> t(rows * d);
    for (auto& x : t) x = shared.normal(0.0, scale);
    return t;
  };
  const auto e_gender = table(2, 0.5 * emb), e_age = table(7, 0.6 * emb),
             e_occ = table(21, 0.5 * emb), e_zip = table(10, 0.4 * emb),
             e_genre = table(n_genres, 0.9 * emb), e_year = table(1, 0.5 * emb);
  auto offsets = [&](std::size_t n, double scale) {
    std::vector<double> t(n);
    for (auto& x : t) x = shared.normal(0.0, scale);
    return t;
  };
  const auto b_gender = offsets(2, 0.1), b_age = offsets(7, 0.2), b_occ = offsets(21, 0.15),
             b_genre = offsets(n_genres, 0.25);
  std::vector<std::uint32_t> pop_rank(o.items);
  std::iota(pop_rank.begin(), pop_rank.end(), 0u);
  shared.shuffle(std::span<std::uint32_t>(pop_rank));

  SyntheticData out;
  // Items.
  static constexpr std::array<double, 18> genre_weight = {6, 3, 1, 2, 10, 3, 1, 12, 1,
                                                          1, 3, 1, 2, 4,  3, 5, 1, 1};
  std::vector<double> q(static_cast<std::size_t>(o.items) * d), b_item(o.items),
      log_weight(o.items);
  out.genres.resize(o.items);
  out.year.resize(o.items);
  for (std::uint32_t i = 0; i < o.items; ++i) {
    Rng rng(derive_seed(o.seed, 2, i));
    const double back = std::floor(detail::exponential(rng, 6.0));
    out.year[i] = static_cast<std::int32_t>(
        std::max<double>(o.first_year, static_cast<double>(o.last_year) - back));
    std::uint32_t mask = 1u << detail::draw_weighted(rng, genre_weight);
    for (int extra = 0; extra < 2; ++extra)
      if (rng.uniform() < 0.4) mask |= 1u << detail::draw_weighted(rng, genre_weight);
    out.genres[i] = mask;
    const double n_g = static_cast<double>(std::popcount(mask));
    const double age_scaled = (1995.0 - out.year[i]) / 10.0;
    double bias = rng.normal(0.0, 0.3) + 0.08 * std::clamp(age_scaled, -1.0, 4.0);
    for (std::size_t k = 0; k < d; ++k) {
      double v = rng.normal(0.0, 0.6 * emb) + e_year[k] * std::clamp(-age_scaled, -3.0, 1.0);
      for (std::size_t g = 0; g < n_genres; ++g)
        if (mask & (1u << g)) v += e_genre[g * d + k] / std::sqrt(n_g);
      q[i * d + k] = v;
    }
    for (std::size_t g = 0; g < n_genres; ++g)
      if (mask & (1u << g)) bias += b_genre[g] / n_g;
    b_item[i] = bias;
    log_weight[i] = -o.popularity_exponent * std::log(static_cast<double>(pop_rank[i]) + 1.0);
  }

  // Users and their ratings.
  static constexpr std::array<double, 7> age_weight = {4, 18, 35, 20, 9, 8, 6};
  out.gender.resize(o.users);
  out.age.resize(o.users);
  out.occupation.resize(o.users);
  out.zip.resize(o.users);
  DatasetParts parts;
  parts.name = "synthetic";
  parts.source = "make_synthetic(seed " + std::to_string(o.seed) + ")";
  std::vector<double> p(d), key(o.items);
  std::vector<std::uint32_t> order(o.items);
  std::vector<std::int32_t> zip_prefix(o.users), gender_idx(o.users), age_idx(o.users),
      occ_idx(o.users);
  const double log_min = std::log(static_cast<double>(o.min_ratings_per_user));
  const double log_max = std::log(static_cast<double>(o.max_ratings_per_user) + 1.0);
  for (std::uint32_t u = 0; u < o.users; ++u) {
    Rng rng(derive_seed(o.seed, 3, u));
    const std::size_t g = rng.uniform() < 0.28 ? 0 : 1;  // F : M as in ML-1M
    const std::size_t a = detail::draw_weighted(rng, age_weight);
    const auto occ = static_cast<std::size_t>(rng.below(21));
    std::string zip(5, '0');
    for (auto& c : zip) c = static_cast<char>('0' + rng.below(10));
    const auto z = static_cast<std::size_t>(zip[0] - '0');
    out.gender[u] = g == 0 ? 'F' : 'M';
    out.age[u] = ml1m_age_codes()[a];
    out.occupation[u] = static_cast<std::int32_t>(occ);
    out.zip[u] = zip;
    gender_idx[u] = static_cast<std::int32_t>(g);
    age_idx[u] = static_cast<std::int32_t>(a);
    occ_idx[u] = static_cast<std::int32_t>(occ);
    zip_prefix[u] = static_cast<std::int32_t>(z);
    for (std::size_t k = 0; k < d; ++k)
      p[k] = rng.normal(0.0, 0.6 * emb) + e_gender[g * d + k] + e_age[a * d + k] +
             e_occ[occ * d + k] + e_zip[z * d + k];
    const double b_user = rng.normal(0.0, 0.3) + b_gender[g] + b_age[a] + b_occ[occ];
    const double drift = rng.normal(0.0, o.drift);
    const auto n = std::min<std::size_t>(
        o.max_ratings_per_user,
        static_cast<std::size_t>(std::floor(std::exp(rng.uniform(log_min, log_max)))));
    // Efraimidis-Spirakis: the n largest keys log(U)/w are a weighted sample without replacement.
    for (std::uint32_t i = 0; i < o.items; ++i) {
      double uu = rng.uniform();
      while (uu <= 0.0) uu = rng.uniform();
      key[i] = std::log(uu) * std::exp(-log_weight[i]);
      order[i] = i;
    }
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                      [&](std::uint32_t x, std::uint32_t y) {
                        return key[x] != key[y] ? key[x] > key[y] : x < y;
                      });
    std::span<std::uint32_t> chosen(order.data(), n);
    rng.shuffle(chosen);  // the order in which the user rates them
    std::int64_t t = o.start_time + static_cast<std::int64_t>(rng.below(
                                        static_cast<std::uint64_t>(o.end_time - o.start_time) + 1));
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint32_t i = chosen[k];
      double dot = 0.0;
      for (std::size_t c = 0; c < d; ++c) dot += p[c] * q[i * d + c];
      const double pos = n > 1 ? static_cast<double>(k) / static_cast<double>(n - 1) - 0.5 : 0.0;
      const double score = 3.4 + b_user + b_item[i] + dot + drift * pos + rng.normal(0.0, o.noise);
      const double rating = std::clamp(std::round(score), 1.0, 5.0);
      if (k > 0) {
        const bool long_break = rng.uniform() < 0.03;
        t += 1 + static_cast<std::int64_t>(
                     detail::exponential(rng, long_break ? 30.0 * 86400.0 : 300.0));
      }
      parts.user.push_back(u);
      parts.item.push_back(i);
      parts.rating.push_back(static_cast<float>(rating));
      parts.time.push_back(t);
    }
  }

  // Ids, side features, titles, years.
  std::vector<std::int64_t> uids(o.users), iids(o.items);
  std::iota(uids.begin(), uids.end(), std::int64_t{1});
  std::iota(iids.begin(), iids.end(), std::int64_t{1});
  parts.users = IdMap::from_ids(std::move(uids));
  parts.items = IdMap::from_ids(std::move(iids));
  auto labels = [](std::initializer_list<std::int32_t> xs) {
    std::vector<std::string> l;
    for (const auto x : xs) l.push_back(std::to_string(x));
    return l;
  };
  std::vector<std::string> occ_labels, zip_labels;
  for (int k = 0; k <= 20; ++k) occ_labels.push_back(std::to_string(k));
  for (int k = 0; k <= 9; ++k) zip_labels.push_back(std::to_string(k));
  parts.user_features.fields.push_back(CategoricalField::single("gender", {"F", "M"}, gender_idx));
  parts.user_features.fields.push_back(
      CategoricalField::single("age", labels({1, 18, 25, 35, 45, 50, 56}), age_idx));
  parts.user_features.fields.push_back(
      CategoricalField::single("occupation", std::move(occ_labels), occ_idx));
  parts.user_features.fields.push_back(
      CategoricalField::single("zip_prefix", std::move(zip_labels), zip_prefix));
  CategoricalField genre{"genre", {}, {0}, {}};
  for (const auto g : genres) genre.labels.emplace_back(g);
  // "year" field: one category per distinct release year, ascending (as the MovieLens loader).
  std::vector<std::int32_t> distinct_years = out.year;
  std::sort(distinct_years.begin(), distinct_years.end());
  distinct_years.erase(std::unique(distinct_years.begin(), distinct_years.end()),
                       distinct_years.end());
  std::vector<std::string> year_labels;
  for (const std::int32_t y : distinct_years) year_labels.push_back(std::to_string(y));
  std::vector<std::int32_t> year_idx(o.items);
  for (std::uint32_t i = 0; i < o.items; ++i) {
    for (std::uint32_t g = 0; g < n_genres; ++g)
      if (out.genres[i] & (1u << g)) genre.values.push_back(g);
    genre.offsets.push_back(static_cast<std::uint32_t>(genre.values.size()));
    year_idx[i] = static_cast<std::int32_t>(
        std::lower_bound(distinct_years.begin(), distinct_years.end(), out.year[i]) -
        distinct_years.begin());
    parts.item_titles.push_back("Movie " + std::to_string(i + 1) + " (" +
                                std::to_string(out.year[i]) + ")");
  }
  parts.item_features.fields.push_back(std::move(genre));
  parts.item_features.fields.push_back(
      CategoricalField::single("year", std::move(year_labels), year_idx));
  parts.item_years = out.year;
  parts.scale = RatingScale{1.0f, 5.0f, 1.0f};
  out.dataset = Dataset(std::move(parts));
  return out;
}

/// Writes `ratings.dat` (`user::item::rating::time`), `users.dat`
/// (`user::gender::age::occupation::zip`) and `movies.dat` (`item::Movie <id> (<year>)::genres`)
/// in the ML-1M format (ASCII, `\n` line ends) into `dir`, creating it if needed. Each file is
/// written atomically.
/// @throws std::runtime_error when a file cannot be written.
inline void write_movielens_1m(const SyntheticData& data, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const Dataset& ds = data.dataset;
  std::string ratings, users, movies;
  ratings.reserve(ds.num_ratings() * 24);
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) {
    ratings += std::to_string(ds.user_ids().original(ds.user(r)));
    ratings += "::";
    ratings += std::to_string(ds.item_ids().original(ds.item(r)));
    ratings += "::";
    ratings += std::to_string(static_cast<int>(ds.rating(r)));
    ratings += "::";
    ratings += std::to_string(ds.time(r));
    ratings += '\n';
  }
  for (std::uint32_t u = 0; u < ds.num_users(); ++u)
    users += std::to_string(ds.user_ids().original(u)) + "::" + data.gender[u] + "::" +
             std::to_string(data.age[u]) + "::" + std::to_string(data.occupation[u]) + "::" +
             data.zip[u] + '\n';
  for (std::uint32_t i = 0; i < ds.num_items(); ++i) {
    movies += std::to_string(ds.item_ids().original(i)) + "::" + ds.item_titles()[i] + "::";
    bool first = true;
    for (std::size_t g = 0; g < ml1m_genre_names().size(); ++g) {
      if (!(data.genres[i] & (1u << g))) continue;
      if (!first) movies += '|';
      movies += ml1m_genre_names()[g];
      first = false;
    }
    movies += '\n';
  }
  detail::write_file_atomically(dir / "ratings.dat", ratings, "write_movielens_1m");
  detail::write_file_atomically(dir / "users.dat", users, "write_movielens_1m");
  detail::write_file_atomically(dir / "movies.dat", movies, "write_movielens_1m");
}

}  // namespace metarec
