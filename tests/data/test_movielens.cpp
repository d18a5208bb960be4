#include <metarec/data/movielens.hpp>

#include <catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_movielens {

namespace fs = std::filesystem;
using metarec::data_error;
using metarec::Dataset;
using metarec::LoadOptions;
using metarec::MovieLensFormat;

namespace {

fs::path fixture(const char* name) { return metarec::test::fixtures() / "movielens" / name; }

/// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() /
            ("metarec_movielens_" + std::to_string(stamp) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const fs::path& path() const noexcept { return path_; }

  /// Writes `bytes` exactly (binary) to `name`.
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream out(path_ / name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  /// Copies a fixture file into the directory.
  void copy(const fs::path& from, const std::string& name) const {
    fs::copy_file(from, path_ / name, fs::copy_options::overwrite_existing);
  }

 private:
  fs::path path_;
};

/// Valid ML-1M side files for users 1, 2, 5, 7 and movies 1, 10, 73, 260, 2000, plus `ratings`.
void write_ml1m(const TempDir& dir, const std::string& ratings) {
  dir.copy(fixture("ml1m") / "users.dat", "users.dat");
  dir.copy(fixture("ml1m") / "movies.dat", "movies.dat");
  dir.write("ratings.dat", ratings);
}

/// The data_error that loading `dir` throws (fails the test when nothing or something else is).
data_error load_error(const fs::path& dir, const LoadOptions& options = {}) {
  try {
    (void)metarec::load_movielens(dir, options);
  } catch (const data_error& e) {
    return e;
  }
  FAIL("expected a metarec::data_error from loading " << dir);
  throw std::logic_error("unreachable");
}

/// Checks the file name, line, column and a fragment of the message of `e`.
void check_error(const data_error& e, const std::string& file, std::size_t line, std::size_t column,
                 const std::string& fragment) {
  INFO("what(): " << e.what());
  CHECK(fs::path(e.path()).filename() == file);
  CHECK(e.line() == line);
  CHECK(e.column() == column);
  CHECK(std::string(e.what()).find(fragment) != std::string::npos);
}

/// An ML-1M data set in a temp dir with these ratings must fail at ratings.dat:line:column.
void check_ratings_error(const std::string& ratings, std::size_t line, std::size_t column,
                         const std::string& fragment) {
  TempDir dir;
  write_ml1m(dir, ratings);
  check_error(load_error(dir.path()), "ratings.dat", line, column, fragment);
}

std::vector<std::string> labels_of(const metarec::CategoricalField& f, std::uint32_t entity) {
  std::vector<std::string> out;
  for (const auto v : f.of(entity)) out.push_back(f.labels[v]);
  return out;
}

std::uint32_t dense_user(const Dataset& ds, std::int64_t id) { return ds.user_ids().find(id).value(); }
std::uint32_t dense_item(const Dataset& ds, std::int64_t id) { return ds.item_ids().find(id).value(); }

/// Rating of (user, item) by original ids; -1 when absent.
float rating_of(const Dataset& ds, std::int64_t user, std::int64_t item) {
  const auto u = dense_user(ds, user);
  for (const auto r : ds.by_user()[u])
    if (ds.item(r) == dense_item(ds, item)) return ds.rating(r);
  return -1.0f;
}

}  // namespace

// --- format detection ----------------------------------------------------------------------------

TEST_CASE("detect_movielens_format: from the files present", "[data][movielens]") {
  CHECK(metarec::detect_movielens_format(fixture("ml1m")) == MovieLensFormat::ml1m);
  CHECK(metarec::detect_movielens_format(fixture("ml100k")) == MovieLensFormat::ml100k);
  CHECK(metarec::detect_movielens_format(fixture("ml10m")) == MovieLensFormat::ml10m);
  CHECK(metarec::detect_movielens_format(fixture("csv")) == MovieLensFormat::csv);
  TempDir empty;
  try {
    (void)metarec::detect_movielens_format(empty.path());
    FAIL("no error for a directory without ratings");
  } catch (const data_error& e) {
    CHECK(e.path() == empty.path().string());
    CHECK(e.line() == 0);
    CHECK(e.column() == 0);
    CHECK(std::string(e.what()).find("expected one of u.data") != std::string::npos);
  }
  check_error(load_error(empty.path() / "missing"), "missing", 0, 0, "does not exist");
}

// --- ML-1M ---------------------------------------------------------------------------------------

TEST_CASE("load_movielens ML-1M: dense ids, ratings, no times, side fields", "[data][movielens]") {
  const Dataset ds = metarec::load_movielens(fixture("ml1m"));
  CHECK(ds.name() == "ml-1m");
  REQUIRE(ds.num_ratings() == 7);
  REQUIRE(ds.num_users() == 4);  // user 9 has no ratings
  REQUIRE(ds.num_items() == 5);  // movie 3 has no ratings
  CHECK_FALSE(ds.has_times());
  // Dense indices follow increasing original id.
  CHECK(std::vector<std::int64_t>(ds.user_ids().originals().begin(), ds.user_ids().originals().end()) ==
        std::vector<std::int64_t>{1, 2, 5, 7});
  CHECK(std::vector<std::int64_t>(ds.item_ids().originals().begin(), ds.item_ids().originals().end()) ==
        std::vector<std::int64_t>{1, 10, 73, 260, 2000});
  // Rows keep the file order: line 1 is 7::73::5.
  CHECK(ds.user(0) == 3);
  CHECK(ds.item(0) == 2);
  CHECK(ds.rating(0) == 5.0f);
  CHECK(rating_of(ds, 1, 10) == 3.0f);
  CHECK(rating_of(ds, 5, 2000) == 1.0f);
  CHECK(rating_of(ds, 7, 260) == 3.0f);
  CHECK(ds.by_user().count(dense_user(ds, 7)) == 2);
  CHECK(ds.scale().min == 1.0f);
  CHECK(ds.scale().step == 1.0f);

  const auto& uf = ds.user_features();
  REQUIRE(uf.fields.size() == 4);
  CHECK(uf.fields[0].name == "gender");
  CHECK(uf.fields[1].name == "age");
  CHECK(uf.fields[2].name == "occupation");
  CHECK(uf.fields[3].name == "zip_prefix");
  CHECK(uf.fields[1].labels == std::vector<std::string>{"1", "18", "25", "35", "45", "50", "56"});
  CHECK(uf.fields[2].cardinality() == 21);
  CHECK(uf.fields[2].labels[12] == "programmer");
  CHECK(uf.fields[3].cardinality() == 10);
  const auto u1 = dense_user(ds, 1);
  const auto u2 = dense_user(ds, 2);
  const auto u5 = dense_user(ds, 5);
  const auto u7 = dense_user(ds, 7);
  CHECK(labels_of(*uf.find("gender"), u1) == std::vector<std::string>{"F"});
  CHECK(labels_of(*uf.find("gender"), u2) == std::vector<std::string>{"M"});
  CHECK(labels_of(*uf.find("age"), u2) == std::vector<std::string>{"56"});
  CHECK(labels_of(*uf.find("age"), u7) == std::vector<std::string>{"35"});
  CHECK(uf.find("occupation")->of(u1)[0] == 10u);
  CHECK(labels_of(*uf.find("occupation"), u5) == std::vector<std::string>{"writer"});
  CHECK(labels_of(*uf.find("zip_prefix"), u1) == std::vector<std::string>{"4"});
  CHECK(labels_of(*uf.find("zip_prefix"), u7) == std::vector<std::string>{"9"});
  CHECK(uf.find("zip_prefix")->of(u5).empty());  // "T2N1A": not a digit, unknown

  const auto& itf = ds.item_features();
  REQUIRE(itf.fields.size() == 2);
  const auto& genre = *itf.find("genre");
  CHECK(genre.cardinality() == 18);
  CHECK(genre.labels[3] == "Children's");
  CHECK(genre.labels[17] == "Western");
  CHECK(labels_of(genre, dense_item(ds, 260)) ==
        std::vector<std::string>{"Action", "Adventure", "Fantasy", "Sci-Fi"});
  CHECK(labels_of(genre, dense_item(ds, 1)) ==
        std::vector<std::string>{"Animation", "Children's", "Comedy"});
  const auto& year = *itf.find("year");
  CHECK(year.labels == std::vector<std::string>{"1977", "1995"});
  CHECK(labels_of(year, dense_item(ds, 73)) == std::vector<std::string>{"1995"});
  CHECK(year.of(dense_item(ds, 2000)).empty());
  REQUIRE(ds.item_years().size() == 5);
  CHECK(ds.item_years()[dense_item(ds, 260)] == 1977);
  CHECK(ds.item_years()[dense_item(ds, 2000)] == 0);
  // "Mis\xE9rables" in Latin-1 becomes U+00E9 = C3 A9 in UTF-8.
  CHECK(ds.item_titles()[dense_item(ds, 73)] == "Mis\xC3\xA9rables, Les (1995)");
  CHECK(ds.item_titles()[dense_item(ds, 2000)] == "No Year Here");
}

TEST_CASE("load_movielens ML-1M: timestamps, CRLF, BOM and a last line without newline",
          "[data][movielens]") {
  const std::string lines[] = {"7::73::5::978300760", "1::1::5::978300761", "1::10::3::978300762",
                               "2::260::4::978300763", "5::2000::1::978300764",
                               "5::1::2::978300765", "7::260::3::978300766"};
  auto join = [&](const std::string& eol, bool last_eol) {
    std::string s;
    for (std::size_t k = 0; k < std::size(lines); ++k)
      s += lines[k] + (k + 1 < std::size(lines) || last_eol ? eol : "");
    return s;
  };
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"LF", join("\n", true)},
           {"CRLF", join("\r\n", true)},
           {"BOM+CRLF", "\xEF\xBB\xBF" + join("\r\n", true)},
           {"no final newline", join("\n", false)},
           {"CRLF, no final newline", join("\r\n", false)}}) {
    SECTION(name) {
      TempDir dir;
      write_ml1m(dir, bytes);
      const Dataset ds = metarec::load_movielens(dir.path());
      REQUIRE(ds.num_ratings() == 7);
      REQUIRE(ds.has_times());
      CHECK(ds.time(0) == 978300760);
      CHECK(ds.time(6) == 978300766);
      CHECK(ds.rating(6) == 3.0f);
      CHECK(ds.num_users() == 4);
    }
  }
}

TEST_CASE("load_movielens: side files CRLF + BOM; load_side_features = false",
          "[data][movielens]") {
  TempDir dir;
  dir.copy(fixture("ml1m") / "ratings.dat", "ratings.dat");
  dir.write("users.dat", "\xEF\xBB\xBF" "1::F::1::10::48067\r\n2::M::56::16::70072\r\n"
                         "5::M::25::20::T2N1A\r\n7::M::35::7::98107-4032\r\n");
  dir.copy(fixture("ml1m") / "movies.dat", "movies.dat");
  const Dataset ds = metarec::load_movielens(dir.path());
  CHECK(labels_of(*ds.user_features().find("zip_prefix"), dense_user(ds, 7)) ==
        std::vector<std::string>{"9"});
  const Dataset bare = metarec::load_movielens(fixture("ml1m"), {.load_side_features = false});
  CHECK(bare.num_ratings() == 7);
  CHECK(bare.user_features().empty());
  CHECK(bare.item_features().empty());
  CHECK(bare.item_titles().empty());
  // An explicit format overrides detection (ML-10M has a half-star scale, no users.dat read).
  const Dataset as10m = metarec::load_movielens(fixture("ml1m"), {.format = MovieLensFormat::ml10m});
  CHECK(as10m.scale().step == 0.5f);
  CHECK(as10m.user_features().empty());
}

TEST_CASE("load_movielens: very large ids densify through the sorted path", "[data][movielens]") {
  TempDir dir;
  dir.write("ratings.dat", "4000000000::7::4\n1::7::5\n1::3000000000::2\n");
  dir.write("users.dat", "");  // present for detection only; side files are not read
  const Dataset ds = metarec::load_movielens(dir.path(), {.load_side_features = false});
  CHECK(std::vector<std::int64_t>(ds.user_ids().originals().begin(), ds.user_ids().originals().end()) ==
        std::vector<std::int64_t>{1, 4000000000});
  CHECK(std::vector<std::int64_t>(ds.item_ids().originals().begin(), ds.item_ids().originals().end()) ==
        std::vector<std::int64_t>{7, 3000000000});
  CHECK(ds.user(0) == 1);
  CHECK(ds.item(2) == 1);
  CHECK(rating_of(ds, 1, 3000000000) == 2.0f);
}

// --- ML-100K -------------------------------------------------------------------------------------

TEST_CASE("load_movielens ML-100K: tab-separated with times, bucketed ages, flags",
          "[data][movielens]") {
  const Dataset ds = metarec::load_movielens(fixture("ml100k"));
  CHECK(ds.name() == "ml-100k");
  REQUIRE(ds.num_ratings() == 5);
  CHECK(ds.num_users() == 3);
  CHECK(ds.num_items() == 3);  // 267 is never rated
  REQUIRE(ds.has_times());
  CHECK(ds.user(0) == 2);  // first line: user 3
  CHECK(ds.item(0) == 1);  // item 50
  CHECK(ds.rating(0) == 4.0f);
  CHECK(ds.time(0) == 881250949);
  CHECK(ds.time(4) == 889237455);
  CHECK(rating_of(ds, 1, 172) == 2.0f);

  const auto& uf = ds.user_features();
  CHECK(labels_of(*uf.find("age"), dense_user(ds, 1)) == std::vector<std::string>{"18"});  // 24
  CHECK(labels_of(*uf.find("age"), dense_user(ds, 2)) == std::vector<std::string>{"50"});  // 53
  CHECK(labels_of(*uf.find("age"), dense_user(ds, 3)) == std::vector<std::string>{"1"});   // 17
  CHECK(labels_of(*uf.find("gender"), dense_user(ds, 2)) == std::vector<std::string>{"F"});
  CHECK(uf.find("occupation")->cardinality() == 21);  // built-in list (no u.occupation)
  CHECK(labels_of(*uf.find("occupation"), dense_user(ds, 1)) ==
        std::vector<std::string>{"technician"});
  CHECK(labels_of(*uf.find("zip_prefix"), dense_user(ds, 1)) == std::vector<std::string>{"8"});
  CHECK(uf.find("zip_prefix")->of(dense_user(ds, 3)).empty());  // "T8H1N"

  const auto& genre = *ds.item_features().find("genre");
  CHECK(genre.cardinality() == 19);
  CHECK(genre.labels[0] == "unknown");
  CHECK(labels_of(genre, dense_item(ds, 50)) ==
        std::vector<std::string>{"Action", "Adventure", "Romance", "Sci-Fi", "War"});
  CHECK(labels_of(genre, dense_item(ds, 172)) == std::vector<std::string>{"Comedy"});
  // Year from the release date (12-Mar-1994), not from the title's (1993).
  CHECK(ds.item_years()[dense_item(ds, 172)] == 1994);
  CHECK(ds.item_titles()[dense_item(ds, 172)] == "Caf\xC3\xA9 au Lait (1993)");
  CHECK(ds.item_features().find("year")->labels ==
        std::vector<std::string>{"1977", "1994", "1995"});
}

TEST_CASE("load_movielens ML-100K: u.occupation is read when present", "[data][movielens]") {
  TempDir dir;
  for (const char* f : {"u.data", "u.user", "u.item", "u.genre"})
    dir.copy(fixture("ml100k") / f, f);
  dir.write("u.occupation", "student\nother\ntechnician\nlawyer\n");
  const Dataset ds = metarec::load_movielens(dir.path());
  const auto& occ = *ds.user_features().find("occupation");
  CHECK(occ.labels == std::vector<std::string>{"student", "other", "technician", "lawyer"});
  CHECK(occ.of(dense_user(ds, 1))[0] == 2u);
}

// --- ML-10M and CSV ------------------------------------------------------------------------------

TEST_CASE("load_movielens ML-10M: half stars, UTF-8 titles, genres from the file",
          "[data][movielens]") {
  const Dataset ds = metarec::load_movielens(fixture("ml10m"));
  CHECK(ds.name() == "ml-10m");
  REQUIRE(ds.num_ratings() == 5);
  CHECK(ds.num_users() == 3);
  CHECK(ds.num_items() == 3);  // movie 5 is never rated
  CHECK(ds.scale().min == 0.5f);
  CHECK(ds.scale().step == 0.5f);
  CHECK(ds.rating(1) == 4.5f);
  CHECK(ds.rating(2) == 0.5f);
  CHECK(ds.time(4) == 1111111111);
  CHECK(ds.user_features().empty());
  const auto& genre = *ds.item_features().find("genre");
  // All names found in the file, sorted (Western comes from the unrated movie 5).
  CHECK(genre.labels == std::vector<std::string>{"Action", "Comedy", "Crime", "IMAX", "Romance",
                                                 "Thriller", "Western"});
  CHECK(labels_of(genre, dense_item(ds, 185)) ==
        std::vector<std::string>{"Action", "Crime", "IMAX", "Thriller"});
  CHECK(genre.of(dense_item(ds, 4000)).empty());  // (no genres listed)
  CHECK(ds.item_titles()[dense_item(ds, 4000)].substr(0, 8) == "Am\xC3\xA9lie ");
  CHECK(ds.item_years()[dense_item(ds, 4000)] == 2001);
}

TEST_CASE("load_movielens CSV: headers, quoted titles, half stars", "[data][movielens]") {
  const Dataset ds = metarec::load_movielens(fixture("csv"));
  CHECK(ds.name() == "csv");
  REQUIRE(ds.num_ratings() == 4);
  CHECK(std::vector<std::int64_t>(ds.user_ids().originals().begin(), ds.user_ids().originals().end()) ==
        std::vector<std::int64_t>{1, 10});
  CHECK(ds.rating(0) == 3.5f);
  CHECK(ds.rating(3) == 0.5f);
  CHECK(ds.time(1) == 1112484676);
  CHECK(ds.item_titles()[dense_item(ds, 29)] ==
        "City of Lost Children, The (Cit\xC3\xA9 des enfants perdus, La) (1995)");
  CHECK(ds.item_titles()[dense_item(ds, 32)] == "Quote \"Test\", The (2010) ");
  CHECK(ds.item_years()[dense_item(ds, 32)] == 2010);
  const auto& genre = *ds.item_features().find("genre");
  CHECK(genre.labels.size() == 6);  // Adventure Children Drama Fantasy Mystery Sci-Fi
  CHECK(labels_of(genre, dense_item(ds, 2)) ==
        std::vector<std::string>{"Adventure", "Children", "Fantasy"});
  CHECK(genre.of(dense_item(ds, 32)).empty());
}

// --- errors: one malformed input per case --------------------------------------------------------

TEST_CASE("load_movielens errors: ratings off the scale", "[data][movielens][errors]") {
  check_ratings_error("1::1::5\n1::10::6\n", 2, 8, "expected a rating from 1 to 5 in steps of 1, found \"6\"");
  check_ratings_error("1::1::0\n", 1, 7, "found \"0\"");
  check_ratings_error("1::1::3.3\n", 1, 7, "found \"3.3\"");
  check_ratings_error("1::1::4.5\n", 1, 7, "in steps of 1");
  TempDir dir;
  dir.copy(fixture("ml10m") / "movies.dat", "movies.dat");
  dir.write("ratings.dat", "1::122::3.25::838985046\n");
  check_error(load_error(dir.path()), "ratings.dat", 1, 9,
              "expected a rating from 0.5 to 5 in steps of 0.5, found \"3.25\"");
}

TEST_CASE("load_movielens errors: duplicate (user, movie) names both lines",
          "[data][movielens][errors]") {
  // Contiguous users (single pass) ...
  check_ratings_error("1::1::5\n1::10::3\n1::1::4\n2::1::3\n", 3, 1,
                      "user 1 rates movie 1 on line 1 and again on line 3");
  // ... and users spread over the file (counting-sort path), with a blank line in between.
  check_ratings_error("7::73::5\n2::1::3\n\n7::260::3\n7::73::2\n", 5, 1,
                      "user 7 rates movie 73 on line 1 and again on line 5");
}

TEST_CASE("load_movielens errors: empty file, NUL byte, over-long line",
          "[data][movielens][errors]") {
  check_ratings_error("", 0, 0, "empty file");
  check_ratings_error(std::string("1::1::5\n2::1\0::4\n", 17), 2, 5, "NUL byte at byte offset 12");
  check_ratings_error("1::1::5\n" + std::string(70000, '7') + "::1::5\n", 2, 65537,
                      "longer than 65536 bytes");
  // Only blank lines: no ratings.
  check_ratings_error("\n\r\n", 0, 0, "no ratings");
}

TEST_CASE("load_movielens errors: fields (non-numeric, empty, separator, count)",
          "[data][movielens][errors]") {
  check_ratings_error("1::1::5\n1::abc::5\n", 2, 4, "expected an integer movie id, found \"abc\"");
  check_ratings_error("x1::1::5\n", 1, 1, "expected an integer user id, found \"x1\"");
  check_ratings_error("-1::1::5\n", 1, 1, "expected an integer user id, found \"-1\"");
  check_ratings_error("99999999999::1::5\n", 1, 1, "from 0 to 4294967294");
  check_ratings_error("1::1::five\n", 1, 7, "expected a rating, found \"five\"");
  check_ratings_error("1::::5\n", 1, 4, "expected an integer movie id, found an empty field");
  check_ratings_error("1::1::\n", 1, 7, "expected a rating, found an empty field");
  check_ratings_error("1::1::5::9783x\n", 1, 10, "expected an integer timestamp, found \"9783x\"");
  // A tab-separated ratings.dat (the ML-100K layout) names the separator and escapes the tabs.
  check_ratings_error("1\t1\t5\t978300760\n", 1, 2,
                      "expected fields separated by \"::\" (UserID::MovieID::Rating[::Timestamp]), "
                      "found \"\\t1\\t5\\t978300760\"");
  check_ratings_error("1::1::5\n1::10\n", 2, 6, "found only 2");
  // A truncated last line (no newline) is an error like any other.
  check_ratings_error("1::1::5::978300760\n1::10::3::", 2, 11,
                      "expected an integer timestamp, found an empty field");
  check_ratings_error("1::1::5::978300760\n1::10", 2, 6, "(is the line truncated?)");
  check_ratings_error("1::1::5::978300760::9\n", 1, 19, "found an extra field \"::9\"");
}

TEST_CASE("load_movielens errors: 3 and 4 fields mixed", "[data][movielens][errors]") {
  check_ratings_error("1::1::5\n1::10::3::978300760\n", 2, 9,
                      "expected 3 fields like line 1");
  check_ratings_error("1::1::5::978300760\n\n1::10::3\n", 3, 9,
                      "the timestamp column must be on every line or on none");
}

TEST_CASE("load_movielens errors: unknown ids and bad side files", "[data][movielens][errors]") {
  check_ratings_error("1::1::5\n99::1::5\n", 2, 1, "unknown user id 99: expected it to be listed in users.dat");
  check_ratings_error("1::1::5\n2::5555::5\n", 2, 4, "unknown movie id 5555");
  {
    TempDir dir;
    dir.write("ratings.dat", "1::1::5\n");
    dir.write("users.dat", "1::F::17::10::48067\n");
    dir.copy(fixture("ml1m") / "movies.dat", "movies.dat");
    check_error(load_error(dir.path()), "users.dat", 1, 7,
                "expected an age group (one of 1, 18, 25, 35, 45, 50, 56), found \"17\"");
    dir.write("users.dat", "1::F::18::21::48067\n");
    check_error(load_error(dir.path()), "users.dat", 1, 11, "expected an occupation code from 0 to 20");
    dir.write("users.dat", "1::X::18::2::48067\n");
    check_error(load_error(dir.path()), "users.dat", 1, 4, "expected a gender");
    dir.write("users.dat", "1::F::18::2::48067\n1::M::25::3::12345\n");
    check_error(load_error(dir.path()), "users.dat", 2, 1, "duplicate user id 1 (first listed on line 1)");
    dir.write("users.dat", "1::F::18::2\n");
    check_error(load_error(dir.path()), "users.dat", 1, 12, "expected 5 fields");
    dir.write("users.dat", "1::F::18::2::48067\n");
    dir.write("movies.dat", "1::Toy Story (1995)::Animation|Cartoon\n");
    check_error(load_error(dir.path()), "movies.dat", 1, 32,
                "expected an ML-1M genre (Action, Adventure, ");
    dir.write("movies.dat", "1::Toy Story (1995)::\n");
    check_error(load_error(dir.path()), "movies.dat", 1, 22, "found an empty field");
    std::filesystem::remove(dir.path() / "movies.dat");
    check_error(load_error(dir.path()), "movies.dat", 0, 0, "load_side_features = false");
  }
  {
    TempDir dir;
    for (const char* f : {"u.data", "u.user", "u.genre"}) dir.copy(fixture("ml100k") / f, f);
    dir.write("u.item", "1|Toy|1995|||0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
    check_error(load_error(dir.path()), "u.item", 1, 7,
                "expected a release date like \"01-Jan-1995\", found \"1995\"");
    dir.write("u.item", "1|Toy|01-Jan-1995|||0|0|0|1|2|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
    check_error(load_error(dir.path()), "u.item", 1, 29, "expected a genre flag 0 or 1 (Children's)");
    dir.write("u.item", "1|Toy|01-Jan-1995|||0|0|0|1\n");
    check_error(load_error(dir.path()), "u.item", 1, 28, "expected 24 fields");
  }
}

TEST_CASE("load_movielens errors: CSV headers and quotes", "[data][movielens][errors]") {
  TempDir dir;
  dir.copy(fixture("csv") / "movies.csv", "movies.csv");
  dir.write("ratings.csv", "user,movie,rating\n1,2,3.5\n");
  check_error(load_error(dir.path()), "ratings.csv", 1, 1, "expected the header");
  dir.write("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5\n");
  check_error(load_error(dir.path()), "ratings.csv", 2, 8, "expected 4 fields like line 1");
  dir.write("ratings.csv", "userId,movieId,rating,timestamp\n");
  check_error(load_error(dir.path()), "ratings.csv", 0, 0, "no ratings");
  dir.write("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,1\n");
  dir.write("movies.csv", "movieId,title,genres\n2,\"Jumanji (1995),Adventure\n");
  check_error(load_error(dir.path()), "movies.csv", 2, 3, "expected a closing '\"'");
  dir.write("movies.csv", "movieId,title,genres\n2,Jumanji, The (1995),Adventure\n");
  check_error(load_error(dir.path()), "movies.csv", 2, 22, "quote a title that contains ','");
}

TEST_CASE("load_movielens errors: offending text is truncated and escaped",
          "[data][movielens][errors]") {
  TempDir dir;
  write_ml1m(dir, "1::" + std::string(100, 'a') + "\x01::5\n");
  const data_error e = load_error(dir.path());
  const std::string what = e.what();
  CHECK(what.find("found \"" + std::string(40, 'a') + "...\"") != std::string::npos);
  write_ml1m(dir, "1::\xE9\x01::5\n");
  CHECK(std::string(load_error(dir.path()).what()).find("found \"\\xe9\\x01\"") != std::string::npos);
}

// --- real data (skipped when ../shared/data is absent) -------------------------------------------

namespace {
void check_real(const Dataset& ds, std::uint32_t users, std::uint32_t items, std::size_t ratings,
                bool times, double sum, const std::array<std::size_t, 5>& counts) {
  CHECK(ds.num_users() == users);
  CHECK(ds.num_items() == items);
  CHECK(ds.num_ratings() == ratings);
  CHECK(ds.has_times() == times);
  double s = 0;
  std::array<std::size_t, 5> c{};
  for (const float r : ds.ratings()) {
    s += r;
    ++c[static_cast<std::size_t>(r) - 1];
  }
  CHECK(s == sum);
  CHECK(c == counts);
}
}  // namespace

TEST_CASE("load_movielens real ML-100K", "[data][movielens][real]") {
  METAREC_REQUIRE_REAL_DATA(dir, "ml-100k");
  const Dataset ds = metarec::load_movielens(dir);
  check_real(ds, 943, 1682, 100000, true, 352986.0, {6110, 11370, 27145, 34174, 21201});
  CHECK(ds.item_features().find("genre")->cardinality() == 19);
  CHECK(ds.user_features().find("occupation")->cardinality() == 21);
}

TEST_CASE("load_movielens real ML-1M", "[data][movielens][real]") {
  METAREC_REQUIRE_REAL_DATA(dir, "ml-1m");
  const Dataset ds = metarec::load_movielens(dir);
  check_real(ds, 6040, 3706, 1000209, false, 3582313.0, {56174, 107557, 261197, 348971, 226310});
  CHECK(ds.user_features().find("zip_prefix")->cardinality() == 10);
  CHECK(ds.item_titles()[ds.item_ids().find(73).value()] == "Mis\xC3\xA9rables, Les (1995)");
}

}  // namespace unity_test_movielens
