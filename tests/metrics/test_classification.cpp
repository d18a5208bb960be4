#include <metarec/metrics/classification.hpp>

#include <catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_classification {

namespace mm = metarec::metrics;
using Labels = std::vector<std::uint8_t>;

namespace {
// O(n^2) reference: count every (positive, negative) pair, ties 1/2.
double auc_pairs(const Labels& y, const std::vector<double>& s) {
  double num = 0.0, pairs = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i)
    for (std::size_t j = 0; j < y.size(); ++j)
      if (y[i] == 1 && y[j] == 0) {
        pairs += 1.0;
        num += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
      }
  return num / pairs;
}
}  // namespace

TEST_CASE("auc: ties count one half (midranks)", "[metrics][auc]") {
  // positives 0.4, 0.8; negatives 0.1, 0.4.
  // (0.4+,0.1-) = 1, (0.4+,0.4-) = 0.5, (0.8+,0.1-) = 1, (0.8+,0.4-) = 1 -> 3.5 / 4 = 0.875
  const Labels y{0, 0, 1, 1};
  const std::vector<double> s{0.1, 0.4, 0.4, 0.8};
  CHECK(mm::auc(y, s) == 0.875);
  const std::vector<float> sf{0.1f, 0.4f, 0.4f, 0.8f};
  CHECK(mm::auc(y, sf) == 0.875);
  // all scores tied: every pair counts 1/2 -> 0.5
  CHECK(mm::auc(Labels{0, 1, 1}, std::vector<double>{0.5, 0.5, 0.5}) == 0.5);
  // perfect and reversed orders
  CHECK(mm::auc(Labels{0, 0, 1}, std::vector<double>{1, 2, 3}) == 1.0);
  CHECK(mm::auc(Labels{1, 0, 0}, std::vector<double>{1, 2, 3}) == 0.0);
  // input order does not matter: 2 positives {3, 1}, 2 negatives {2, 0}: (3>2,3>0,1<2,1>0) = 3/4
  CHECK(mm::auc(Labels{1, 0, 1, 0}, std::vector<double>{3, 2, 1, 0}) == 0.75);
}

TEST_CASE("auc: one class absent gives NaN (documented choice)", "[metrics][auc]") {
  CHECK(std::isnan(mm::auc(Labels{1, 1}, std::vector<double>{0.1, 0.2})));
  CHECK(std::isnan(mm::auc(Labels{0, 0}, std::vector<double>{0.1, 0.2})));
  CHECK(std::isnan(mm::auc(Labels{}, std::vector<double>{})));
}

TEST_CASE("auc: bad inputs throw", "[metrics][auc]") {
  CHECK_THROWS_AS(mm::auc(Labels{0, 1}, std::vector<double>{0.1}), std::invalid_argument);
  CHECK_THROWS_AS(mm::auc(Labels{0, 5}, std::vector<double>{0.1, 0.2}), std::invalid_argument);
  CHECK_THROWS_AS(mm::auc(Labels{0, 1}, std::vector<double>{0.1, std::nan("")}),
                  std::invalid_argument);
  try {
    (void)mm::auc(Labels{0, 1, 1}, std::vector<double>{0.1});
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) ==
          "metrics::auc: labels and scores differ in size (labels 3, scores 1); pass exactly one "
          "entry of each per row");
  }
}

TEST_CASE("auc: O(n log n) matches O(n^2) pair counting on random tied data", "[metrics][auc]") {
  std::mt19937_64 gen(12345);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t n = 2 + gen() % 60;
    Labels y(n);
    std::vector<double> s(n);
    const std::uint64_t levels = 1 + gen() % 8;  // few levels: many ties
    for (std::size_t i = 0; i < n; ++i) {
      y[i] = static_cast<std::uint8_t>(gen() % 2);
      s[i] = static_cast<double>(gen() % levels) * 0.25;
    }
    y[0] = 0;
    y[1] = 1;  // both classes present
    INFO("trial " << trial);
    CHECK(mm::auc(y, s) == Approx(auc_pairs(y, s)).epsilon(1e-14));
  }
}

TEST_CASE("gauc: weighted by rows, unweighted, one-class groups skipped and counted",
          "[metrics][gauc]") {
  // Rows interleaved across groups on purpose.
  // group 7: labels {0,1,1} scores {0.2,0.1,0.9}: (0.1 vs 0.2) = 0, (0.9 vs 0.2) = 1 -> AUC 0.5, 3 rows
  // group 3: labels {0,1,0,1} scores {0.3,0.3,0.1,0.8}:
  //          (0.3+,0.3-) 0.5, (0.3+,0.1-) 1, (0.8+,0.3-) 1, (0.8+,0.1-) 1 -> 3.5/4 = 0.875, 4 rows
  // group 9: positives only -> skipped; group 5: negatives only -> skipped
  // weighted   = (3 * 0.5 + 4 * 0.875) / 7 = 5/7
  // unweighted = (0.5 + 0.875) / 2 = 0.6875
  const std::vector<std::uint32_t> g{7, 3, 9, 7, 3, 5, 7, 3, 9, 3, 5};
  const Labels y{0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0};
  const std::vector<double> s{0.2, 0.3, 0.5, 0.1, 0.3, 0.4, 0.9, 0.1, 0.6, 0.8, 0.7};
  const mm::GaucResult r = mm::gauc(g, y, s);
  CHECK(r.value_weighted == Approx(5.0 / 7.0).epsilon(1e-15));
  CHECK(r.value_unweighted == 0.6875);
  CHECK(r.groups_used == 2);
  CHECK(r.groups_skipped == 2);
  // RecBole weights by positives (2 and 2 here) which would give 0.6875: our weighting differs.
  CHECK(r.value_weighted != Approx(0.6875));
  // float scores give the same result
  const std::vector<float> sf(s.begin(), s.end());
  CHECK(mm::gauc(g, y, sf).groups_used == 2);
}

TEST_CASE("gauc: no usable group gives NaN values; mismatched sizes throw", "[metrics][gauc]") {
  const mm::GaucResult r =
      mm::gauc(std::vector<std::uint32_t>{1, 1, 2}, Labels{1, 1, 0}, std::vector<double>{1, 2, 3});
  CHECK(std::isnan(r.value_weighted));
  CHECK(std::isnan(r.value_unweighted));
  CHECK(r.groups_used == 0);
  CHECK(r.groups_skipped == 2);
  CHECK_THROWS_AS(
      mm::gauc(std::vector<std::uint32_t>{1}, Labels{1, 0}, std::vector<double>{1, 2}),
      std::invalid_argument);
}

TEST_CASE("log_loss: hand-computed value and documented clipping", "[metrics][log_loss]") {
  // -(ln 0.8 + ln(1 - 0.4)) / 2 = (0.2231435513 + 0.5108256238) / 2 = 0.3669845875
  CHECK(mm::log_loss(Labels{1, 0}, std::vector<double>{0.8, 0.4}) ==
        Approx(0.3669845875).epsilon(1e-9));
  // p = 0 for a positive is clipped to eps: -ln(1e-15) = 34.5387763949
  CHECK(mm::log_loss(Labels{1}, std::vector<double>{0.0}) == Approx(34.5387763949).epsilon(1e-9));
  // p = 1 for a negative, eps = 1e-3: -ln(1e-3) = 6.907755279
  CHECK(mm::log_loss(Labels{0}, std::vector<float>{1.0f}, 1e-3) == Approx(6.907755279).epsilon(1e-9));
  CHECK(std::isnan(mm::log_loss(Labels{}, std::vector<double>{})));
  CHECK_THROWS_AS(mm::log_loss(Labels{1}, std::vector<double>{1.5}), std::invalid_argument);
  CHECK_THROWS_AS(mm::log_loss(Labels{1}, std::vector<double>{0.5}, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(mm::log_loss(Labels{1, 0}, std::vector<double>{0.5}), std::invalid_argument);
}

}  // namespace unity_test_classification
