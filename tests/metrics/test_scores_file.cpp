#include <metarec/metrics/scores_file.hpp>

#include <catch.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_scores_file {

namespace mm = metarec::metrics;

namespace {
std::filesystem::path fixture(const char* name) {
  return metarec::test::fixtures() / "scores" / name;
}

// Runs `f`, which must throw data_error, and returns the error.
template <class F>
metarec::data_error catch_data_error(F f) {
  try {
    f();
  } catch (const metarec::data_error& e) {
    return e;
  }
  FAIL("no data_error thrown");
  return metarec::data_error("", 0, 0, "");
}

double value_of(const std::vector<mm::NamedValue>& v, const std::string& name) {
  for (const auto& nv : v)
    if (nv.name == name) return nv.value;
  FAIL("missing " << name);
  return 0.0;
}
}  // namespace

TEST_CASE("scores file: reads rows, skipping comments and the header", "[metrics][scores]") {
  const auto rows = mm::read_scores_tsv(fixture("good.tsv"));
  REQUIRE(rows.size() == 8);
  CHECK(rows[0].user == 1);
  CHECK(rows[0].item == 10);
  CHECK(rows[0].score == 4.5);
  CHECK(rows[0].truth == 5.0);
  CHECK(rows[0].line == 3);
  CHECK(rows[7].user == 3);
  std::istringstream crlf("1\t2\t0.25\t1\r\n\n 3 \t4\t-1e-1\t0\r\n");
  const auto r2 = mm::parse_scores_tsv(crlf, "<memory>");
  REQUIRE(r2.size() == 2);
  CHECK(r2[1].user == 3);
  CHECK(r2[1].score == -0.1);
}

TEST_CASE("scores file: one malformed file per error, with line and column",
          "[metrics][scores]") {
  // line 3 is "1<TAB>11<TAB>abc<TAB>2": the score field starts at column 6
  const auto bad = catch_data_error([] { (void)mm::read_scores_tsv(fixture("bad_score.tsv")); });
  CHECK(bad.line() == 3);
  CHECK(bad.column() == 6);
  CHECK(std::string(bad.what()).find("bad_score.tsv:3:6: score is not a finite number: 'abc'") !=
        std::string::npos);
  // line 2 is "1<TAB>10<TAB>4.5" (8 characters): the missing field would start at column 9
  const auto few = catch_data_error([] { (void)mm::read_scores_tsv(fixture("too_few_fields.tsv")); });
  CHECK(few.line() == 2);
  CHECK(few.column() == 9);
  CHECK(std::string(few.what()).find("found 3 in '1\t10\t4.5'") != std::string::npos);
  const auto empty = catch_data_error([] { (void)mm::read_scores_tsv(fixture("empty.tsv")); });
  CHECK(empty.line() == 0);
  CHECK(empty.column() == 0);
  CHECK(std::string(empty.what()).find("no data rows") != std::string::npos);
  const auto missing = catch_data_error([] { (void)mm::read_scores_tsv(fixture("nope.tsv")); });
  CHECK(missing.line() == 0);
  // more in-memory cases: bad user id (column 1), too many fields, infinite truth
  std::istringstream user("x1\t2\t0.5\t1\n");
  const auto u = catch_data_error([&] { (void)mm::parse_scores_tsv(user, "m"); });
  CHECK(u.line() == 1);
  CHECK(u.column() == 1);
  std::istringstream many("# c\nuser\titem\tscore\ttruth\n1\t2\t0.5\t1\t9\n");
  const auto m = catch_data_error([&] { (void)mm::parse_scores_tsv(many, "m"); });
  CHECK(m.line() == 3);
  CHECK(m.column() == 11);
  // "1<TAB>2<TAB>0.5<TAB>inf": the truth field starts at column 9
  std::istringstream inf("1\t2\t0.5\tinf\n");
  CHECK(catch_data_error([&] { (void)mm::parse_scores_tsv(inf, "m"); }).column() == 9);
  std::istringstream header_only("user\titem\tscore\ttruth\n# nothing\n");
  CHECK(catch_data_error([&] { (void)mm::parse_scores_tsv(header_only, "m"); }).line() == 0);
}

TEST_CASE("scores file: every requested metric, hand-computed, in request order",
          "[metrics][scores]") {
  const auto rows = mm::read_scores_tsv(fixture("good.tsv"));
  const std::vector<std::string> names{"rmse", "mae", "mse", "auc", "gauc", "gauc_unweighted",
                                       "gauc_groups_used", "gauc_groups_skipped", "ndcg",
                                       "recall@1", "ranking_users", "ranking_users_skipped",
                                       "query_ndcg@1"};
  const std::vector<std::size_t> ks{2, 1};
  const auto v = mm::evaluate_scores(rows, names, ks);
  // stable order: names as requested, "ndcg" expanded over ks in their order
  std::vector<std::string> got;
  for (const auto& nv : v) got.push_back(nv.name);
  CHECK(got == std::vector<std::string>{"rmse", "mae", "mse", "auc", "gauc", "gauc_unweighted",
                                        "gauc_groups_used", "gauc_groups_skipped", "ndcg@2",
                                        "ndcg@1", "recall@1", "ranking_users",
                                        "ranking_users_skipped", "query_ndcg@1"});
  // score - truth: -0.5, 0, -0.5, 0, 1, -1, -0.5, 0 -> squares sum 2.75, |.| sum 3.5, n = 8
  CHECK(value_of(v, "mse") == Approx(2.75 / 8));
  CHECK(value_of(v, "rmse") == Approx(std::sqrt(2.75 / 8)));
  CHECK(value_of(v, "mae") == Approx(3.5 / 8));
  // truth is a rating -> positive = truth > 3: positives score 4.5, 3.5, 3.0;
  // negatives 2.0, 1.0, 4.0, 0.5, 2.0. Pairs won: 5 + 4 + 4 = 13 of 15
  CHECK(value_of(v, "auc") == Approx(13.0 / 15.0));
  // user 1: pos {4.5, 3.5} neg {2.0} -> 1, 3 rows; user 2: pos {3.0} neg {1.0, 4.0, 0.5} -> 2/3,
  // 4 rows; user 3: negatives only -> skipped.
  CHECK(value_of(v, "gauc") == Approx((3 * 1.0 + 4 * 2.0 / 3.0) / 7.0));
  CHECK(value_of(v, "gauc_unweighted") == Approx((1.0 + 2.0 / 3.0) / 2.0));
  CHECK(value_of(v, "gauc_groups_used") == 2);
  CHECK(value_of(v, "gauc_groups_skipped") == 1);
  // ranking by score: user 1: 10+, 12+, 11 -> ndcg@2 = 1; user 2: 13, 14+, 10, 15 -> 1/log2 3;
  // user 3 has no positive: skipped
  CHECK(value_of(v, "ndcg@2") == Approx((1.0 + 1.0 / std::log2(3.0)) / 2.0));
  CHECK(value_of(v, "ndcg@1") == Approx(0.5));
  CHECK(value_of(v, "recall@1") == Approx((0.5 + 0.0) / 2.0));
  CHECK(value_of(v, "ranking_users") == 2);
  CHECK(value_of(v, "ranking_users_skipped") == 1);
  // query_ndcg@1 over ALL rows with gain 2^truth - 1: user 1 top r5 -> 1; user 2 top r3 with
  // ideal r4: 7/15; user 3 single row -> 1
  CHECK(value_of(v, "query_ndcg@1") == Approx((1.0 + 7.0 / 15.0 + 1.0) / 3.0));
}

TEST_CASE("scores file: label rule, ties by item id, bad names", "[metrics][scores]") {
  // 0/1 truths are labels as-is; equal scores rank the lower item id first.
  const std::vector<mm::ScoreRow> rows{{1, 21, 0.5, 1, 0}, {1, 20, 0.5, 0, 0}, {1, 22, 0.1, 0, 0}};
  const std::vector<std::size_t> ks{1};
  const std::vector<std::string> hit{"hit", "auc"};
  const auto v = mm::evaluate_scores(rows, hit, ks);
  CHECK(value_of(v, "hit@1") == 0.0);  // item 20 (negative) wins the tie with item 21
  CHECK(value_of(v, "auc") == 0.75);   // 21 vs 20 tie 0.5, 21 vs 22 win 1 -> 1.5 / 2
  // an explicit threshold: truth > 0.5 -> the same labels
  mm::ScoresEvalOptions opt;
  opt.positive_threshold = 0.5;
  CHECK(value_of(mm::evaluate_scores(rows, hit, ks, opt), "auc") == 0.75);
  // ratings with threshold 1: truth 2 and 3 positive
  const std::vector<mm::ScoreRow> ratings{{1, 1, 0.9, 3, 0}, {1, 2, 0.2, 1, 0}, {1, 3, 0.1, 2, 0}};
  opt.positive_threshold = 1.0;
  CHECK(value_of(mm::evaluate_scores(ratings, std::vector<std::string>{"auc"}, ks, opt), "auc") ==
        0.5);  // positives 0.9, 0.1 vs negative 0.2 -> (1 + 0) / 2
  CHECK_THROWS_AS(mm::evaluate_scores(rows, std::vector<std::string>{"ndgc"}, ks),
                  std::invalid_argument);
  CHECK_THROWS_AS(mm::evaluate_scores(rows, std::vector<std::string>{"rmse@3"}, ks),
                  std::invalid_argument);
  CHECK_THROWS_AS(mm::evaluate_scores(rows, std::vector<std::string>{"ndcg@x"}, ks),
                  std::invalid_argument);
  const std::vector<mm::ScoreRow> dup{{1, 2, 0.5, 1, 3}, {1, 2, 0.4, 0, 4}};
  CHECK_THROWS_AS(mm::evaluate_scores(dup, std::vector<std::string>{"ndcg"}, ks),
                  std::invalid_argument);
}

}  // namespace unity_test_scores_file
