#pragma once
/// @file movielens.hpp
/// @brief Loader for the MovieLens data sets (GroupLens): ML-100K, ML-1M, ML-10M and the CSV
/// releases (ML-20M, ML-25M, ml-latest).
///
/// Users and items are the ones that appear in the ratings file, with dense indices in increasing
/// original id. Side files (users, movies) add categorical fields, titles (UTF-8) and release years.
/// Every problem in a file is reported as a `metarec::data_error` with `path:line:column`, the
/// offending text and what was expected. See docs/data.md.

#include <metarec/core/error.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/detail/text_file.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace metarec {

/// The on-disk layouts of the MovieLens releases.
enum class MovieLensFormat {
  ml100k,  ///< u.data (tab-separated, with times), u.user, u.item, u.genre, u.occupation
  ml1m,    ///< ratings.dat, users.dat, movies.dat (`::`-separated, Latin-1 titles)
  ml10m,   ///< ratings.dat (half stars), movies.dat (UTF-8), no users.dat
  csv      ///< ml-20m, ml-25m, ml-latest: ratings.csv + movies.csv with headers
};

/// Options of `load_movielens`, for designated initializers:
/// `load_movielens(dir, {.format = MovieLensFormat::ml1m, .load_side_features = false})`.
struct LoadOptions {
  /// The layout; detected from the files present when empty (`detect_movielens_format`).
  /// (Initialised explicitly so that `{.load_side_features = false}` is warning-free on GCC 12.)
  std::optional<MovieLensFormat> format = std::nullopt;
  /// Read the user and movie files (fields, titles, years). When false only the ratings file is
  /// read and the data set has no side information.
  bool load_side_features = true;
};

namespace detail {

/// How a ratings file is laid out.
struct RatingsLayout {
  std::string_view separator;  ///< "::", "\t" or ","
  std::string_view describe;   ///< the line layout, for messages
  RatingScale scale;
  bool csv_header = false;     ///< the first line is `userId,movieId,rating[,timestamp]`
};

/// The columns of a ratings file, with original ids.
struct RawRatings {
  std::vector<std::uint32_t> user;
  std::vector<std::uint32_t> item;
  std::vector<float> rating;
  std::vector<std::int64_t> time;
  std::size_t fields = 0;      ///< 3 (no timestamp) or 4, fixed by the first line (or the header)
  std::size_t first_line = 0;  ///< the line that fixed `fields`
};

/// Shortest decimal text of a number, for messages ("0.5", "5").
inline std::string number_text(double v) {
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), r.ptr);
}

/// True when `v` lies on the scale: min <= v <= max and (v - min) is a whole number of steps.
inline bool on_scale(double v, const RatingScale& s) noexcept {
  if (!(v >= s.min - 1e-9 && v <= s.max + 1e-9)) return false;
  const double k = (v - s.min) / s.step;  // >= 0 here
  return std::abs(k - std::floor(k + 0.5)) < 1e-6;
}

inline std::string scale_text(const RatingScale& s) {
  return "a rating from " + number_text(s.min) + " to " + number_text(s.max) + " in steps of " +
         number_text(s.step);
}

/// Slow path of the ratings parser: works out exactly what is wrong with a line the fast path
/// rejected and throws a `data_error` that names it. Never returns.
[[noreturn]] inline void diagnose_rating_line(const TextFile& file, const Line& line,
                                              const RatingsLayout& layout, const RawRatings& raw) {
  std::vector<Field> fields;
  split_fields(line.text, layout.separator, fields);
  const std::string sep = quote_text(layout.separator);
  const std::string shape = " (" + std::string(layout.describe) + ")";
  if (fields.size() == 1) {
    const std::string_view t = line.text;
    std::size_t digits = 0;
    while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
    if (digits > 0 && digits < t.size())
      file.fail(line.number, digits + 1,
                "expected fields separated by " + sep + shape + ", found " +
                    quote_text(t.substr(digits)));
  }
  static constexpr std::array<const char*, 4> what = {"an integer user id", "an integer movie id",
                                                      "a rating", "an integer timestamp"};
  for (std::size_t k = 0; k < fields.size() && k < 4; ++k) {
    const Field& f = fields[k];
    bool ok = false;
    if (k < 2) {
      ok = parse_id(f.text).has_value();
      if (!ok && !f.text.empty() &&
          f.text.find_first_not_of("0123456789") == std::string_view::npos)
        file.fail(line, f, std::string("expected ") + what[k] + " from 0 to " +
                               std::to_string(max_id) + ", found " + quote_text(f.text));
    } else if (k == 2) {
      const auto v = parse_number(f.text);
      if (v && !on_scale(*v, layout.scale))
        file.fail(line, f, "expected " + scale_text(layout.scale) + ", found " + quote_text(f.text));
      ok = v.has_value();
    } else {
      ok = parse_int64(f.text).has_value();
    }
    if (!ok) file.fail(line, f, std::string("expected ") + what[k] + ", " + found(f.text));
  }
  if (fields.size() < 3)
    file.fail(line.number, line.text.size() + 1,
              "expected at least 3 fields separated by " + sep + shape + ", found only " +
                  std::to_string(fields.size()) + " in " + quote_text(line.text) +
                  " (is the line truncated?)");
  if (fields.size() > 4)
    file.fail(line.number, fields[4].column - layout.separator.size(),
              "expected at most 4 fields" + shape + ", found an extra field " +
                  quote_text(line.text.substr(fields[4].column - 1 - layout.separator.size())));
  if (raw.fields != 0 && fields.size() != raw.fields) {
    const std::string first = "line " + std::to_string(raw.first_line);
    if (fields.size() == 3)
      file.fail(line.number, line.text.size() + 1,
                "expected 4 fields like " + first + shape +
                    ", found 3 (no timestamp); the timestamp column must be on every line or on "
                    "none");
    file.fail(line.number, fields[3].column - layout.separator.size(),
              "expected 3 fields like " + first + shape + ", found a 4th field " +
                  quote_text(fields[3].text) +
                  "; the timestamp column must be on every line or on none");
  }
  file.fail(line.number, 1, "cannot parse the line " + quote_text(line.text) + shape);
}

template <char S0, char S1>
inline bool at_separator(const char* p, const char* e) noexcept {
  if constexpr (S1 == '\0') {
    return p < e && *p == S0;
  } else {
    return e - p >= 2 && p[0] == S0 && p[1] == S1;
  }
}

/// Fast path: parses the data lines of a ratings file with separator `S0 S1` (S1 = '\0' for a
/// one-byte separator) into `raw`. Any line it cannot take goes to `diagnose_rating_line`.
template <char S0, char S1>
inline void parse_rating_lines(const TextFile& file, LineReader& reader, const RatingsLayout& layout,
                               RawRatings& raw) {
  constexpr std::size_t sep_len = S1 == '\0' ? 1 : 2;
  const RatingScale scale = layout.scale;
  std::array<bool, 10> digit_on_scale{};
  for (int d = 0; d < 10; ++d) digit_on_scale[static_cast<std::size_t>(d)] = on_scale(d, scale);
  Line line;
  while (reader.next_nonempty(line)) {
    const char* p = line.text.data();
    const char* const e = p + line.text.size();
    std::uint32_t u = 0;
    std::uint32_t i = 0;
    auto r = std::from_chars(p, e, u);
    if (r.ec != std::errc{} || u > max_id || !at_separator<S0, S1>(r.ptr, e))
      diagnose_rating_line(file, line, layout, raw);
    p = r.ptr + sep_len;
    r = std::from_chars(p, e, i);
    if (r.ec != std::errc{} || i > max_id || !at_separator<S0, S1>(r.ptr, e))
      diagnose_rating_line(file, line, layout, raw);
    p = r.ptr + sep_len;
    double v = 0;
    const auto digit = static_cast<unsigned>(p < e ? *p - '0' : 10);
    if (digit < 10u && (p + 1 == e || at_separator<S0, S1>(p + 1, e))) {
      // The common case: one digit.
      if (!digit_on_scale[digit]) diagnose_rating_line(file, line, layout, raw);
      v = digit;
      ++p;
    } else {
      const auto rv = std::from_chars(p, e, v, std::chars_format::fixed);
      if (rv.ec != std::errc{} || rv.ptr == p || !on_scale(v, scale))
        diagnose_rating_line(file, line, layout, raw);
      p = rv.ptr;
    }
    std::size_t fields = 3;
    std::int64_t t = 0;
    if (p != e) {
      if (!at_separator<S0, S1>(p, e)) diagnose_rating_line(file, line, layout, raw);
      p += sep_len;
      const auto rt = std::from_chars(p, e, t);
      if (rt.ec != std::errc{} || rt.ptr != e || rt.ptr == p)
        diagnose_rating_line(file, line, layout, raw);
      fields = 4;
    }
    if (fields != raw.fields) {
      if (raw.fields != 0) diagnose_rating_line(file, line, layout, raw);
      raw.fields = fields;
      raw.first_line = line.number;
    }
    raw.user.push_back(u);
    raw.item.push_back(i);
    raw.rating.push_back(static_cast<float>(v));
    if (fields == 4) raw.time.push_back(t);
  }
}

/// Reads a whole ratings file.
inline RawRatings read_ratings(const TextFile& file, const RatingsLayout& layout) {
  RawRatings raw;
  const std::size_t lines = file.count_newlines() + 1;
  raw.user.reserve(lines);
  raw.item.reserve(lines);
  raw.rating.reserve(lines);
  raw.time.reserve(lines);
  LineReader reader(file);
  if (layout.csv_header) {
    Line header;
    if (!reader.next_nonempty(header)) file.fail(0, 0, "no lines; expected a header and ratings");
    if (header.text == "userId,movieId,rating,timestamp") {
      raw.fields = 4;
    } else if (header.text == "userId,movieId,rating") {
      raw.fields = 3;
    } else {
      file.fail(header.number, 1,
                "expected the header \"userId,movieId,rating,timestamp\", found " +
                    quote_text(header.text));
    }
    raw.first_line = header.number;
  }
  if (layout.separator == "::") {
    parse_rating_lines<':', ':'>(file, reader, layout, raw);
  } else if (layout.separator == "\t") {
    parse_rating_lines<'\t', '\0'>(file, reader, layout, raw);
  } else {
    parse_rating_lines<',', '\0'>(file, reader, layout, raw);
  }
  if (raw.user.empty()) file.fail(0, 0, "no ratings; expected lines " + std::string(layout.describe));
  if (raw.fields != 4) raw.time = {};
  return raw;
}

/// The `row`-th data line of a ratings file (0-based, header and empty lines skipped), found by
/// reading the file again: used on error paths only, so loading keeps no line numbers.
inline Line locate_row(const TextFile& file, bool csv_header, std::size_t row) {
  LineReader reader(file);
  Line line;
  if (csv_header) reader.next_nonempty(line);
  for (std::size_t k = 0; reader.next_nonempty(line); ++k)
    if (k == row) return line;
  return Line{};
}

/// Column of the movie id on a ratings line.
inline std::size_t item_column(const Line& line, std::string_view separator) {
  const std::size_t at = line.text.find(separator);
  return at == std::string_view::npos ? 1 : at + separator.size() + 1;
}

/// Throws when a (user, item) pair is rated twice, naming both lines. O(n): one pass when the
/// rows of each user are contiguous (every MovieLens file but u.data), else one pass over a
/// counting sort by user.
inline void check_duplicate_pairs(const TextFile& file, const RatingsLayout& layout,
                                  const DatasetParts& parts) {
  constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> stamp(parts.items.size(), none);  // last user seen with each item
  std::vector<RowIndex> first(parts.items.size(), 0);           // and the row
  auto visit = [&](std::uint32_t u, RowIndex r) {
    const std::uint32_t i = parts.item[r];
    if (stamp[i] == u) {
      const Line earlier = locate_row(file, layout.csv_header, first[i]);
      const Line later = locate_row(file, layout.csv_header, r);
      file.fail(later.number, 1,
                "duplicate rating: user " + std::to_string(parts.users.original(u)) +
                    " rates movie " + std::to_string(parts.items.original(i)) + " on line " +
                    std::to_string(earlier.number) + " and again on line " +
                    std::to_string(later.number) + "; expected one rating per (user, movie)");
    }
    stamp[i] = u;
    first[i] = r;
  };
  std::vector<bool> user_done(parts.users.size(), false);
  std::uint32_t current = none;
  bool grouped = true;
  for (std::size_t r = 0; r < parts.user.size() && grouped; ++r) {
    const std::uint32_t u = parts.user[r];
    if (u != current) {
      if (user_done[u]) {
        grouped = false;
        break;
      }
      user_done[u] = true;
      current = u;
    }
    visit(u, static_cast<RowIndex>(r));
  }
  if (grouped) return;
  std::fill(stamp.begin(), stamp.end(), none);
  const CompressedIndex by_user(parts.user, parts.users.size());
  for (std::uint32_t u = 0; u < parts.users.size(); ++u)
    for (const RowIndex r : by_user[u]) visit(u, r);
}

/// Release year from a title ending in "(YYYY)" (trailing spaces ignored), 0 when absent.
inline std::int32_t year_from_title(std::string_view title) noexcept {
  while (!title.empty() && title.back() == ' ') title.remove_suffix(1);
  if (title.size() < 6 || title.back() != ')' || title[title.size() - 6] != '(') return 0;
  std::int32_t y = 0;
  for (std::size_t k = title.size() - 5; k < title.size() - 1; ++k) {
    if (title[k] < '0' || title[k] > '9') return 0;
    y = y * 10 + (title[k] - '0');
  }
  return y;
}

/// Splits `line` into exactly `n` fields at `separator` or throws naming what is missing or extra.
inline void split_exact(const TextFile& file, const Line& line, std::string_view separator,
                        std::size_t n, std::string_view describe, std::vector<Field>& out) {
  split_fields(line.text, separator, out);
  if (out.size() < n)
    file.fail(line.number, line.text.size() + 1,
              "expected " + std::to_string(n) + " fields separated by " + quote_text(separator) +
                  " (" + std::string(describe) + "), found only " + std::to_string(out.size()) +
                  " in " + quote_text(line.text));
  if (out.size() > n)
    file.fail(line.number, out[n].column - separator.size(),
              "expected " + std::to_string(n) + " fields (" + std::string(describe) +
                  "), found an extra field " +
                  quote_text(line.text.substr(out[n].column - 1 - separator.size())));
}

/// `record(line, fields)` for every non-empty line of `file`, split by `split_exact` (one field
/// buffer for the whole file).
template <class Record>
void for_each_record(const TextFile& file, std::string_view separator, std::size_t n,
                     std::string_view describe, Record&& record) {
  std::vector<Field> f;
  LineReader reader(file);
  Line line;
  while (reader.next_nonempty(line)) {
    split_exact(file, line, separator, n, describe, f);
    record(line, f);
  }
}

/// Which line of a side file described each id, to reject an id listed twice and to find rated
/// ids that are not listed.
struct IdClaims {
  std::vector<std::size_t> line;  ///< per dense id: the line that described it, 0 = not yet
  std::unordered_map<std::int64_t, std::size_t> unrated;  ///< ids without ratings: their line

  explicit IdClaims(std::size_t n) : line(n, 0) {}

  /// Dense index of `id` when it has ratings, nothing otherwise.
  /// @throws metarec::data_error when `id` was already listed.
  std::optional<std::uint32_t> claim(const TextFile& file, const Line& l, const Field& f,
                                     std::int64_t id, const IdMap& ids, const char* what) {
    const auto dense = ids.find(id);
    std::size_t previous = 0;
    if (dense) {
      previous = line[*dense];
      line[*dense] = l.number;
    } else {
      const auto [it, inserted] = unrated.emplace(id, l.number);
      if (!inserted) previous = it->second;
    }
    if (previous != 0)
      file.fail(l, f, std::string("duplicate ") + what + " id " + std::to_string(id) +
                          " (first listed on line " + std::to_string(previous) +
                          "); expected each " + what + " once");
    return dense;
  }
};

/// Per-user side information while it is being read (-1 = no value).
struct UserSide {
  std::vector<std::int32_t> gender, age, occupation, zip;
  IdClaims claims;

  explicit UserSide(std::size_t n)
      : gender(n, -1), age(n, -1), occupation(n, -1), zip(n, -1), claims(n) {}
};

/// Per-item side information while it is being read.
struct ItemSide {
  std::vector<std::string> title;
  std::vector<std::int32_t> year;
  std::vector<std::vector<std::uint32_t>> genres;        ///< fixed genre lists (100K, 1M)
  std::vector<std::vector<std::string_view>> genre_names; ///< file-defined genres (10M, CSV)
  IdClaims claims;

  explicit ItemSide(std::size_t n) : title(n), year(n, 0), genres(n), genre_names(n), claims(n) {}
};

inline const std::vector<std::string>& age_labels() {
  static const std::vector<std::string> labels = {"1", "18", "25", "35", "45", "50", "56"};
  return labels;
}

/// ML-1M age group of an age in years.
inline std::int32_t age_bucket(std::int64_t years) noexcept {
  if (years < 18) return 0;
  if (years < 25) return 1;
  if (years < 35) return 2;
  if (years < 45) return 3;
  if (years < 50) return 4;
  if (years < 56) return 5;
  return 6;
}

inline std::vector<std::string> zip_labels() {
  std::vector<std::string> labels;
  for (char c = '0'; c <= '9'; ++c) labels.emplace_back(1, c);
  return labels;
}

inline std::int32_t zip_prefix(std::string_view zip) noexcept {
  return !zip.empty() && zip[0] >= '0' && zip[0] <= '9' ? zip[0] - '0' : -1;
}

inline std::int32_t parse_gender(const TextFile& file, const Line& line, const Field& f) {
  if (f.text == "F") return 0;
  if (f.text == "M") return 1;
  file.fail(line, f, "expected a gender \"F\" or \"M\", " + found(f.text));
}

/// Parses an id field or throws.
inline std::int64_t require_id(const TextFile& file, const Line& line, const Field& f,
                               const char* what) {
  const auto id = parse_id(f.text);
  if (!id) file.fail(line, f, std::string("expected an integer ") + what + ", " + found(f.text));
  return *id;
}

/// Throws at the ratings line of the first row of an entity that a side file does not list.
[[noreturn]] inline void fail_unknown(const TextFile& ratings, const RatingsLayout& layout,
                                      std::span<const std::uint32_t> column, std::uint32_t dense,
                                      bool is_item, std::int64_t original,
                                      const std::string& side_file) {
  std::size_t row = 0;
  while (row < column.size() && column[row] != dense) ++row;
  const Line line = locate_row(ratings, layout.csv_header, row);
  const std::size_t col = is_item ? item_column(line, layout.separator) : 1;
  ratings.fail(line.number, col,
               std::string("unknown ") + (is_item ? "movie" : "user") + " id " +
                   std::to_string(original) + ": expected it to be listed in " + side_file);
}

/// Moves per-user side information into the four user fields, after checking every rated user was
/// described.
inline void finish_users(UserSide& side, std::vector<std::string> occupation_labels,
                         const TextFile& ratings, const RatingsLayout& layout,
                         const TextFile& users_file, DatasetParts& parts) {
  for (std::uint32_t u = 0; u < parts.users.size(); ++u)
    if (side.claims.line[u] == 0)
      fail_unknown(ratings, layout, parts.user, u, false, parts.users.original(u),
                   std::filesystem::path(users_file.path()).filename().string());
  auto& fields = parts.user_features.fields;
  fields.push_back(CategoricalField::single("gender", {"F", "M"}, side.gender));
  fields.push_back(CategoricalField::single("age", age_labels(), side.age));
  fields.push_back(
      CategoricalField::single("occupation", std::move(occupation_labels), side.occupation));
  fields.push_back(CategoricalField::single("zip_prefix", zip_labels(), side.zip));
}

/// Moves per-item side information into titles, years and the "genre" and "year" fields.
/// `genre_labels` empty means the genres are the names found in the file (10M, CSV).
inline void finish_items(ItemSide& side, std::vector<std::string> genre_labels,
                         const std::vector<std::string_view>& all_genre_names,
                         const TextFile& ratings, const RatingsLayout& layout,
                         const TextFile& movies_file, DatasetParts& parts) {
  const std::uint32_t n = parts.items.size();
  for (std::uint32_t i = 0; i < n; ++i)
    if (side.claims.line[i] == 0)
      fail_unknown(ratings, layout, parts.item, i, true, parts.items.original(i),
                   std::filesystem::path(movies_file.path()).filename().string());
  if (genre_labels.empty()) {
    std::vector<std::string_view> names = all_genre_names;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto name : names) genre_labels.emplace_back(name);
    for (std::uint32_t i = 0; i < n; ++i)
      for (const auto name : side.genre_names[i])
        side.genres[i].push_back(static_cast<std::uint32_t>(
            std::lower_bound(names.begin(), names.end(), name) - names.begin()));
  }
  CategoricalField genre{"genre", std::move(genre_labels), {}, {}};
  genre.offsets.reserve(static_cast<std::size_t>(n) + 1);
  genre.offsets.push_back(0);
  for (std::uint32_t i = 0; i < n; ++i) {
    auto& g = side.genres[i];
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
    genre.values.insert(genre.values.end(), g.begin(), g.end());
    genre.offsets.push_back(static_cast<std::uint32_t>(genre.values.size()));
  }
  std::vector<std::int32_t> years;
  for (const std::int32_t y : side.year)
    if (y != 0) years.push_back(y);
  std::sort(years.begin(), years.end());
  years.erase(std::unique(years.begin(), years.end()), years.end());
  std::vector<std::string> year_labels;
  for (const std::int32_t y : years) year_labels.push_back(std::to_string(y));
  std::vector<std::int32_t> year_value(n, -1);
  for (std::uint32_t i = 0; i < n; ++i)
    if (side.year[i] != 0)
      year_value[i] = static_cast<std::int32_t>(
          std::lower_bound(years.begin(), years.end(), side.year[i]) - years.begin());
  parts.item_features.fields.push_back(std::move(genre));
  parts.item_features.fields.push_back(
      CategoricalField::single("year", std::move(year_labels), year_value));
  parts.item_titles = std::move(side.title);
  parts.item_years = std::move(side.year);
}

/// The 18 ML-1M genres, in the order of the ML-1M README.
inline std::vector<std::string> ml1m_genres() {
  return {"Action",  "Adventure", "Animation", "Children's", "Comedy",  "Crime",
          "Documentary", "Drama", "Fantasy",   "Film-Noir",  "Horror",  "Musical",
          "Mystery", "Romance",   "Sci-Fi",    "Thriller",   "War",     "Western"};
}

/// The 21 ML-1M occupations, by code 0..20 (ML-1M README).
inline std::vector<std::string> ml1m_occupations() {
  return {"other or not specified", "academic/educator", "artist", "clerical/admin",
          "college/grad student", "customer service", "doctor/health care",
          "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer", "programmer",
          "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer",
          "tradesman/craftsman", "unemployed", "writer"};
}

/// The 19 ML-100K genres (u.genre), "unknown" first.
inline std::vector<std::string> ml100k_genres() {
  return {"unknown", "Action",   "Adventure", "Animation", "Children's", "Comedy",  "Crime",
          "Documentary", "Drama", "Fantasy",  "Film-Noir", "Horror",     "Musical", "Mystery",
          "Romance", "Sci-Fi",   "Thriller",  "War",       "Western"};
}

/// The 21 ML-100K occupations (u.occupation).
inline std::vector<std::string> ml100k_occupations() {
  return {"administrator", "artist",    "doctor",     "educator",   "engineer", "entertainment",
          "executive",     "healthcare", "homemaker", "lawyer",     "librarian", "marketing",
          "none",          "other",     "programmer", "retired",    "salesman", "scientist",
          "student",       "technician", "writer"};
}

/// Index of `text` in `labels`, or -1.
inline std::int32_t label_index(const std::vector<std::string>& labels, std::string_view text) {
  const auto it = std::find(labels.begin(), labels.end(), text);
  return it == labels.end() ? -1 : static_cast<std::int32_t>(it - labels.begin());
}

/// Joins labels for messages: "1, 18, 25".
inline std::string join_labels(const std::vector<std::string>& labels) {
  std::string out;
  for (const auto& l : labels) out += (out.empty() ? "" : ", ") + l;
  return out;
}

// --- ML-1M -------------------------------------------------------------------------------------

inline void read_ml1m_users(const TextFile& file, const TextFile& ratings,
                            const RatingsLayout& layout, DatasetParts& parts) {
  UserSide side(parts.users.size());
  const auto occupations = ml1m_occupations();
  for_each_record(file, "::", 5, "UserID::Gender::Age::Occupation::Zip-code",
                  [&](const Line& line, const std::vector<Field>& f) {
    const std::int64_t id = require_id(file, line, f[0], "user id");
    const std::int32_t gender = parse_gender(file, line, f[1]);
    const std::int32_t age = label_index(age_labels(), f[2].text);
    if (age < 0)
      file.fail(line, f[2], "expected an age group (one of " + join_labels(age_labels()) + "), " +
                                found(f[2].text));
    const auto occ = parse_id(f[3].text);
    if (!occ || *occ >= static_cast<std::int64_t>(occupations.size()))
      file.fail(line, f[3], "expected an occupation code from 0 to 20, " + found(f[3].text));
    const auto dense = side.claims.claim(file, line, f[0], id, parts.users, "user");
    if (!dense) return;  // a user without ratings: checked, then dropped
    side.gender[*dense] = gender;
    side.age[*dense] = age;
    side.occupation[*dense] = static_cast<std::int32_t>(*occ);
    side.zip[*dense] = zip_prefix(f[4].text);
  });
  finish_users(side, occupations, ratings, layout, file, parts);
}

/// Reads `MovieID::Title::Genres` lines (ML-1M: Latin-1, fixed genres; ML-10M: UTF-8, genres from
/// the file).
inline void read_dat_movies(const TextFile& file, bool ml1m, const TextFile& ratings,
                            const RatingsLayout& layout, DatasetParts& parts) {
  ItemSide side(parts.items.size());
  const std::vector<std::string> fixed = ml1m ? ml1m_genres() : std::vector<std::string>{};
  std::vector<std::string_view> all_names;
  std::vector<Field> g;
  for_each_record(file, "::", 3, "MovieID::Title::Genres",
                  [&](const Line& line, const std::vector<Field>& f) {
    const std::int64_t id = require_id(file, line, f[0], "movie id");
    if (f[2].text.empty()) file.fail(line, f[2], "expected genres separated by '|', " + found(""));
    const auto dense = side.claims.claim(file, line, f[0], id, parts.items, "movie");
    const bool none = !ml1m && f[2].text == "(no genres listed)";
    if (!none) split_fields(f[2].text, "|", g);
    if (none) g.clear();
    for (const Field& name : g) {
      const Field at{name.text, f[2].column + name.column - 1};
      if (ml1m) {
        const std::int32_t k = label_index(fixed, name.text);
        if (k < 0)
          file.fail(line, at, "expected an ML-1M genre (" + join_labels(fixed) + "), " +
                                  found(name.text));
        if (dense) side.genres[*dense].push_back(static_cast<std::uint32_t>(k));
      } else {
        if (name.text.empty()) file.fail(line, at, "expected a genre name, " + found(""));
        all_names.push_back(name.text);
        if (dense) side.genre_names[*dense].push_back(name.text);
      }
    }
    if (!dense) return;
    side.title[*dense] = ml1m ? latin1_to_utf8(f[1].text) : std::string(f[1].text);
    side.year[*dense] = year_from_title(f[1].text);
  });
  finish_items(side, fixed, all_names, ratings, layout, file, parts);
}

// --- ML-100K -----------------------------------------------------------------------------------

/// Labels from u.occupation (one per line) or u.genre (`name|index`, index = position).
inline std::vector<std::string> read_label_file(const TextFile& file, bool indexed) {
  std::vector<std::string> labels;
  std::vector<Field> f;
  LineReader reader(file);
  Line line;
  while (reader.next_nonempty(line)) {
    if (!indexed) {
      labels.emplace_back(line.text);
      continue;
    }
    split_exact(file, line, "|", 2, "name|index", f);
    const auto k = parse_id(f[1].text);
    if (!k || *k != static_cast<std::int64_t>(labels.size()))
      file.fail(line, f[1], "expected the index " + std::to_string(labels.size()) + ", " +
                                found(f[1].text));
    labels.emplace_back(f[0].text);
  }
  if (labels.empty()) file.fail(0, 0, "no labels; expected one per line");
  return labels;
}

inline void read_ml100k_users(const TextFile& file, std::vector<std::string> occupations,
                              const TextFile& ratings, const RatingsLayout& layout,
                              DatasetParts& parts) {
  UserSide side(parts.users.size());
  for_each_record(file, "|", 5, "user id|age|gender|occupation|zip code",
                  [&](const Line& line, const std::vector<Field>& f) {
    const std::int64_t id = require_id(file, line, f[0], "user id");
    const auto years = parse_id(f[1].text);
    if (!years) file.fail(line, f[1], "expected an age in years, " + found(f[1].text));
    const std::int32_t gender = parse_gender(file, line, f[2]);
    const std::int32_t occ = label_index(occupations, f[3].text);
    if (occ < 0)
      file.fail(line, f[3], "expected an occupation (" + join_labels(occupations) + "), " +
                                found(f[3].text));
    const auto dense = side.claims.claim(file, line, f[0], id, parts.users, "user");
    if (!dense) return;
    side.gender[*dense] = gender;
    side.age[*dense] = age_bucket(*years);
    side.occupation[*dense] = occ;
    side.zip[*dense] = zip_prefix(f[4].text);
  });
  finish_users(side, std::move(occupations), ratings, layout, file, parts);
}

/// Year of an ML-100K release date "01-Jan-1995"; 0 for an empty date; nothing when malformed.
inline std::optional<std::int32_t> year_from_date(std::string_view date) noexcept {
  if (date.empty()) return 0;
  const std::size_t dash = date.rfind('-');
  if (dash == std::string_view::npos || date.size() - dash != 5) return std::nullopt;
  std::int32_t y = 0;
  for (std::size_t k = dash + 1; k < date.size(); ++k) {
    if (date[k] < '0' || date[k] > '9') return std::nullopt;
    y = y * 10 + (date[k] - '0');
  }
  return y;
}

inline void read_ml100k_items(const TextFile& file, std::vector<std::string> genres,
                              const TextFile& ratings, const RatingsLayout& layout,
                              DatasetParts& parts) {
  ItemSide side(parts.items.size());
  const std::string describe = "movie id|title|release date|video release date|IMDb URL|" +
                               std::to_string(genres.size()) + " genre flags";
  for_each_record(file, "|", 5 + genres.size(), describe,
                  [&](const Line& line, const std::vector<Field>& f) {
    const std::int64_t id = require_id(file, line, f[0], "movie id");
    const auto year = year_from_date(f[2].text);
    if (!year)
      file.fail(line, f[2], "expected a release date like \"01-Jan-1995\", " + found(f[2].text));
    for (std::size_t k = 0; k < genres.size(); ++k) {
      const Field& flag = f[5 + k];
      if (flag.text != "0" && flag.text != "1")
        file.fail(line, flag, "expected a genre flag 0 or 1 (" + genres[k] + "), " +
                                  found(flag.text));
    }
    const auto dense = side.claims.claim(file, line, f[0], id, parts.items, "movie");
    if (!dense) return;
    for (std::size_t k = 0; k < genres.size(); ++k)
      if (f[5 + k].text == "1") side.genres[*dense].push_back(static_cast<std::uint32_t>(k));
    side.title[*dense] = latin1_to_utf8(f[1].text);
    side.year[*dense] = *year != 0 ? *year : year_from_title(f[1].text);
  });
  finish_items(side, std::move(genres), {}, ratings, layout, file, parts);
}

// --- CSV (ML-20M, ML-25M, ml-latest) -------------------------------------------------------------

inline void read_csv_movies(const TextFile& file, const TextFile& ratings,
                            const RatingsLayout& layout, DatasetParts& parts) {
  ItemSide side(parts.items.size());
  std::vector<std::string_view> all_names;
  std::vector<Field> f;
  std::vector<Field> g;
  LineReader reader(file);
  Line line;
  if (!reader.next_nonempty(line)) file.fail(0, 0, "no lines; expected a header and movies");
  if (line.text != "movieId,title,genres")
    file.fail(line.number, 1,
              "expected the header \"movieId,title,genres\", found " + quote_text(line.text));
  while (reader.next_nonempty(line)) {
    split_csv(file, line, f);
    if (f.size() < 3)
      file.fail(line.number, line.text.size() + 1,
                "expected 3 fields separated by ',' (movieId,title,genres), found only " +
                    std::to_string(f.size()) + " in " + quote_text(line.text));
    if (f.size() > 3)
      file.fail(line.number, f[3].column - 1,
                "expected 3 fields (movieId,title,genres; quote a title that contains ','), "
                "found an extra field " +
                    quote_text(line.text.substr(f[3].column - 2)));
    const std::int64_t id = require_id(file, line, f[0], "movie id");
    if (f[2].text.empty()) file.fail(line, f[2], "expected genres separated by '|', " + found(""));
    const auto dense = side.claims.claim(file, line, f[0], id, parts.items, "movie");
    const std::size_t genre_column = f[2].column + (f[2].quoted ? 1 : 0);
    if (f[2].text != "(no genres listed)") {
      split_fields(f[2].text, "|", g);
      for (const Field& name : g) {
        if (name.text.empty())
          file.fail(line.number, genre_column + name.column - 1,
                    "expected a genre name, " + found(""));
        all_names.push_back(name.text);
        if (dense) side.genre_names[*dense].push_back(name.text);
      }
    }
    if (!dense) continue;
    side.title[*dense] = csv_unquote(f[1]);
    side.year[*dense] = year_from_title(side.title[*dense]);
  }
  finish_items(side, {}, all_names, ratings, layout, file, parts);
}

/// True when `dir / name` is a regular file.
inline bool has_file(const std::filesystem::path& dir, const char* name) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir / name, ec);
}

/// Reads a side file, adding a hint to the "cannot open" error.
inline TextFile read_side_file(const std::filesystem::path& path) {
  if (!has_file(path.parent_path(), path.filename().string().c_str()))
    throw data_error(path.string(), 0, 0,
                     "cannot open the file: it does not exist; expected it beside the ratings "
                     "(or load with LoadOptions{.load_side_features = false})");
  return TextFile::read(path);
}

}  // namespace detail

/// Detects the MovieLens layout of `dir` from the files present: u.data → ml100k; ratings.dat
/// and users.dat → ml1m; ratings.dat alone → ml10m; ratings.csv → csv.
/// @throws metarec::data_error (line 0) when none of these files is there.
inline MovieLensFormat detect_movielens_format(const std::filesystem::path& dir) {
  using detail::has_file;
  if (has_file(dir, "u.data")) return MovieLensFormat::ml100k;
  if (has_file(dir, "ratings.dat"))
    return has_file(dir, "users.dat") ? MovieLensFormat::ml1m : MovieLensFormat::ml10m;
  if (has_file(dir, "ratings.csv")) return MovieLensFormat::csv;
  std::error_code ec;
  const bool exists = std::filesystem::is_directory(dir, ec);
  throw data_error(dir.string(), 0, 0,
                   std::string(exists ? "no MovieLens ratings file in this directory"
                                      : "the directory does not exist") +
                       "; expected one of u.data (ML-100K), ratings.dat + users.dat (ML-1M), "
                       "ratings.dat (ML-10M) or ratings.csv (ML-20M, ML-25M, ml-latest)");
}

/// Loads a MovieLens data set from `dir`.
///
/// Users and items are those that appear in the ratings file, indexed in increasing original id.
/// With side features: user fields "gender", "age" (ML-1M age groups), "occupation",
/// "zip_prefix" (ML-100K, ML-1M); item fields "genre" (multi-hot) and "year"; UTF-8 titles and
/// release years. Movies that nobody rated are dropped; a rated user or movie missing from the
/// side files is an error. The timestamp column is optional (all lines or none).
/// @param dir     the directory holding the files (as unpacked from the GroupLens zip)
/// @param options layout (detected when empty) and whether to read the side files
/// @throws metarec::data_error for a missing or malformed file, with `path:line:column`, the
///         offending text and what was expected.
/// @code
/// metarec::Dataset ds = metarec::load_movielens("data/ml-1m");
/// const auto* age = ds.user_features().find("age");
/// @endcode
inline Dataset load_movielens(const std::filesystem::path& dir, const LoadOptions& options = {}) {
  using namespace detail;
  const MovieLensFormat format = options.format ? *options.format : detect_movielens_format(dir);
  RatingsLayout layout;
  const char* ratings_name = "ratings.dat";
  DatasetParts parts;
  switch (format) {
    case MovieLensFormat::ml100k:
      ratings_name = "u.data";
      layout = {"\t", "user id<TAB>item id<TAB>rating<TAB>timestamp", {1.0f, 5.0f, 1.0f}, false};
      parts.name = "ml-100k";
      break;
    case MovieLensFormat::ml1m:
      layout = {"::", "UserID::MovieID::Rating[::Timestamp]", {1.0f, 5.0f, 1.0f}, false};
      parts.name = "ml-1m";
      break;
    case MovieLensFormat::ml10m:
      layout = {"::", "UserID::MovieID::Rating[::Timestamp]", {0.5f, 5.0f, 0.5f}, false};
      parts.name = "ml-10m";
      break;
    case MovieLensFormat::csv:
      ratings_name = "ratings.csv";
      layout = {",", "userId,movieId,rating,timestamp", {0.5f, 5.0f, 0.5f}, true};
      parts.name = dir.filename().empty() ? dir.parent_path().filename().string()
                                          : dir.filename().string();
      if (parts.name.empty()) parts.name = "movielens-csv";
      break;
  }
  parts.source = dir.string();
  parts.scale = layout.scale;

  const TextFile ratings = TextFile::read(dir / ratings_name);
  RawRatings raw = read_ratings(ratings, layout);
  parts.users = IdMap::from_ids(densify_ids(raw.user));
  parts.items = IdMap::from_ids(densify_ids(raw.item));
  parts.user = std::move(raw.user);
  parts.item = std::move(raw.item);
  parts.rating = std::move(raw.rating);
  parts.time = std::move(raw.time);
  check_duplicate_pairs(ratings, layout, parts);

  if (options.load_side_features) {
    switch (format) {
      case MovieLensFormat::ml100k: {
        const TextFile users = read_side_file(dir / "u.user");
        const TextFile items = read_side_file(dir / "u.item");
        auto occupations = has_file(dir, "u.occupation")
                               ? read_label_file(TextFile::read(dir / "u.occupation"), false)
                               : ml100k_occupations();
        auto genres = has_file(dir, "u.genre") ? read_label_file(TextFile::read(dir / "u.genre"), true)
                                               : ml100k_genres();
        read_ml100k_users(users, std::move(occupations), ratings, layout, parts);
        read_ml100k_items(items, std::move(genres), ratings, layout, parts);
        break;
      }
      case MovieLensFormat::ml1m: {
        const TextFile users = read_side_file(dir / "users.dat");
        const TextFile movies = read_side_file(dir / "movies.dat");
        read_ml1m_users(users, ratings, layout, parts);
        read_dat_movies(movies, true, ratings, layout, parts);
        break;
      }
      case MovieLensFormat::ml10m: {
        const TextFile movies = read_side_file(dir / "movies.dat");
        read_dat_movies(movies, false, ratings, layout, parts);
        break;
      }
      case MovieLensFormat::csv: {
        const TextFile movies = read_side_file(dir / "movies.csv");
        read_csv_movies(movies, ratings, layout, parts);
        break;
      }
    }
  }
  return Dataset(std::move(parts));
}

}  // namespace metarec
