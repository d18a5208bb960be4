#include <metarec/metrics/regression.hpp>

#include <catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_regression {

namespace mm = metarec::metrics;

TEST_CASE("regression: hand-computed MSE, RMSE, MAE", "[metrics][regression]") {
  // differences predicted - truth: 1, 0, 2, -4
  // squares 1 + 0 + 4 + 16 = 21 -> MSE 21/4 = 5.25, RMSE sqrt(5.25); |d| 1+0+2+4 = 7 -> MAE 1.75
  const std::vector<double> truth{1, 2, 3, 4};
  const std::vector<double> pred{2, 2, 5, 0};
  CHECK(mm::mse(truth, pred) == Approx(5.25).epsilon(1e-15));
  CHECK(mm::rmse(truth, pred) == Approx(std::sqrt(5.25)).epsilon(1e-15));
  CHECK(mm::mae(truth, pred) == Approx(1.75).epsilon(1e-15));
  const std::vector<float> tf{1, 2, 3, 4}, pf{2, 2, 5, 0};
  CHECK(mm::mse(tf, pf) == 5.25);
  CHECK(mm::rmse(tf, pf) == std::sqrt(5.25));
  CHECK(mm::mae(tf, pf) == 1.75);
}

TEST_CASE("regression: size mismatch throws with both sizes, empty input is NaN",
          "[metrics][regression]") {
  const std::vector<double> a{1, 2}, b{1, 2, 3}, none;
  CHECK_THROWS_AS(mm::rmse(a, b), std::invalid_argument);
  CHECK_THROWS_AS(mm::mse(a, b), std::invalid_argument);
  CHECK_THROWS_AS(mm::mae(a, b), std::invalid_argument);
  try {
    (void)mm::rmse(a, b);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    CHECK(what.find("metrics::rmse") == 0);
    CHECK(what.find("truth 2, predicted 3") != std::string::npos);
  }
  CHECK(std::isnan(mm::rmse(none, none)));
  CHECK(std::isnan(mm::mae(none, none)));
}

TEST_CASE("regression: float inputs accumulate in double", "[metrics][regression]") {
  // 2^22 errors of 0.1f: a float running sum would stall near 2^18 * 0.01 and be off by far more
  // than 1e-9; the double sum gives (0.1f)^2 to double precision.
  const std::size_t n = std::size_t{1} << 22;
  const std::vector<float> truth(n, 0.0f), pred(n, 0.1f);
  const double e = static_cast<double>(0.1f);
  CHECK(mm::mse(truth, pred) == Approx(e * e).epsilon(1e-9));
  CHECK(mm::mae(truth, pred) == Approx(e).epsilon(1e-9));
}

}  // namespace unity_test_regression
