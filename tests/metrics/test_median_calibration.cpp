#include <metarec/metrics/median_calibration.hpp>

#include <catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_median_calibration {

namespace mm = metarec::metrics;

namespace {
double total_abs(const std::vector<double>& truth, const std::vector<double>& fitted) {
  double s = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) s += std::abs(truth[i] - fitted[i]);
  return s;
}
// Smallest Σ|t_i − f_i| over every non-decreasing f (in the order of `truth`, predictions
// distinct and increasing) whose values are true values: the L1 isotonic optimum is attained there.
double brute_force(const std::vector<double>& truth, const std::vector<double>& values,
                   std::size_t i = 0, std::size_t from = 0) {
  if (i == truth.size()) return 0.0;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t k = from; k < values.size(); ++k)
    best = std::min(best, std::abs(truth[i] - values[k]) + brute_force(truth, values, i + 1, k));
  return best;
}
}  // namespace

TEST_CASE("median calibration: hand-computed steps, gaps, ties and ends", "[metrics][calibration]") {
  // Already monotone: one step per prediction.
  const std::vector<double> t1{1, 2, 3}, p1{1, 2, 3};
  const auto c1 = mm::MedianCalibration::fit(t1, p1);
  REQUIRE(c1.steps() == 3);
  CHECK(c1(2.0) == 2.0);
  CHECK(c1(2.4) == 2.0);  // gap (2, 3): nearer to 2
  CHECK(c1(2.5) == 2.0);  // tie: the lower step
  CHECK(c1(2.6) == 3.0);
  CHECK(c1(-7.0) == 1.0);  // below the first step
  CHECK(c1(9.0) == 3.0);   // above the last
  // A violation: predictions 1, 2, 3 with truths 3, 1, 2. Blocks {3} > {1} pool to {1, 3},
  // median (1 + 3) / 2 = 2; then {2} is not below 2, so it stays: f = 2, 2, 2 (cost 1 + 1 + 0).
  const std::vector<double> t2{3, 1, 2}, p2{1, 2, 3};
  const auto c2 = mm::MedianCalibration::fit(t2, p2);
  REQUIRE(c2.steps() == 2);
  CHECK(c2.lower(0) == 1.0);
  CHECK(c2.upper(0) == 2.0);
  CHECK(c2.value(0) == 2.0);
  CHECK(c2.value(1) == 2.0);
  // Equal predictions share one value, the median of their truths (1, 4, 5 -> 4), whatever order.
  const std::vector<double> t3{1, 5, 4}, p3{0.5, 0.5, 0.5};
  const auto c3 = mm::MedianCalibration::fit(t3, p3);
  REQUIRE(c3.steps() == 1);
  CHECK(c3(0.5) == 4.0);
  // Even count: the midpoint of the two middle values.
  const std::vector<float> t4{3, 4}, p4{3.7f, 3.7f};
  CHECK(mm::MedianCalibration::fit(t4, p4)(3.7) == 3.5);
  // The typical use: MSE-style predictions near 3.7 whose truths are mostly 4 map to 4.
  const std::vector<double> t5{4, 4, 4, 3, 5, 4, 2}, p5{3.6, 3.7, 3.7, 3.8, 3.8, 3.9, 3.9};
  const auto c5 = mm::MedianCalibration::fit(t5, p5);
  CHECK(c5(3.75) == 4.0);
}

TEST_CASE("median calibration: the fit is the L1 isotonic optimum (brute force)",
          "[metrics][calibration]") {
  std::uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  const std::vector<double> values{1, 2, 3, 4, 5};
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t n = 1 + next() % 8;
    std::vector<double> truth(n), pred(n);
    for (std::size_t i = 0; i < n; ++i) truth[i] = static_cast<double>(1 + next() % 5), pred[i] = static_cast<double>(i);
    const auto c = mm::MedianCalibration::fit(truth, pred);
    std::vector<double> fitted(n);
    for (std::size_t i = 0; i < n; ++i) fitted[i] = c(pred[i]);
    for (std::size_t i = 1; i < n; ++i) REQUIRE(fitted[i - 1] <= fitted[i]);
    INFO("trial " << trial << " n " << n);
    REQUIRE(total_abs(truth, fitted) == Approx(brute_force(truth, values)).margin(1e-12));
  }
}

TEST_CASE("median calibration: bad input throws", "[metrics][calibration]") {
  const std::vector<double> a{1, 2}, b{1, 2, 3}, none, bad{1, std::nan("")};
  CHECK_THROWS_AS(mm::MedianCalibration::fit(a, b), std::invalid_argument);
  CHECK_THROWS_AS(mm::MedianCalibration::fit(none, none), std::invalid_argument);
  CHECK_THROWS_AS(mm::MedianCalibration::fit(a, bad), std::invalid_argument);
  CHECK_THROWS_AS(mm::MedianCalibration{}(1.0), std::logic_error);
}

}  // namespace unity_test_median_calibration
