#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mf/temporal_mf.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_mf_temporal {

static_assert(Model<TemporalMF<float>>);
static_assert(Model<TemporalMF<double>>);
static_assert(HasSparseHessianVectorProduct<TemporalMF<float>>);
static_assert(HasSparseHessianVectorProduct<TemporalMF<double>>);
static_assert(HasLocalSegments<TemporalMF<double>>);

namespace {
// Blocks of TemporalMF's layout, in order.
enum : std::size_t { kP, kPt, kQ, kBu, kBut, kBi, kBit, kAlpha, kBeta, kDay };
}  // namespace

TEMPLATE_TEST_CASE("TemporalMF conforms (few bins, strong smoothness)", "[models][mf][temporal]",
                   float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const TemporalMF<TestType> m(ds, {.dims = 3, .time_bins = 6, .reg = 0.05, .bias_reg = 0.03,
                                    .smooth_reg = 0.7, .global_mean = ds.mean_rating()});
  test::conforms(m, RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("TemporalMF conforms (default 30 bins, no rank feature)",
                   "[models][mf][temporal]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const TemporalMF<TestType> m(ds, {.dims = 2, .rank_feature = false});
  CHECK(m.layout().blocks()[kAlpha].size() == 0);
  test::conforms(m, RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("TemporalMF conforms (drift and per-day user bias, separate time regularisers)",
                   "[models][mf][temporal]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  // Training rows: the first 20, so later rows fall on days some users have no training row on.
  std::vector<RowIndex> train(20);
  for (RowIndex r = 0; r < 20; ++r) train[r] = r;
  const TemporalMF<TestType> m(ds, {.dims = 3, .time_bins = 4, .reg = 0.05, .bias_reg = 0.03,
                                    .smooth_reg = 0.2, .time_reg = 0.4, .time_bias_reg = 0.3,
                                    .day_bias_reg = 0.15, .drift_reg = 0.07,
                                    .drift_feature = true, .day_bias = true,
                                    .global_mean = ds.mean_rating()},
                               train);
  CHECK(m.layout().blocks()[kBeta].size() == ds.num_users());
  CHECK(m.layout().blocks()[kDay].size() > 0);
  test::conforms(m, RatingBatch{&ds, rows});
}

TEST_CASE("TemporalMF: drift and per-day bias enter the prediction as defined",
          "[models][mf][temporal]") {
  const Dataset ds = test::tiny_dataset();
  std::vector<RowIndex> train(20);
  for (RowIndex r = 0; r < 20; ++r) train[r] = r;
  const TemporalMF<double> m(ds, {.dims = 2, .time_bins = 3, .rank_feature = false,
                                  .drift_feature = true, .day_bias = true, .global_mean = 3.0},
                             train);
  const auto& L = m.layout().blocks();
  // Per user: distinct UTC days (floor(t / 86400)) of its training rows, in user order.
  Eigen::Index total_days = 0;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    std::vector<std::int64_t> days;
    double sum = 0;
    for (const RowIndex r : ds.by_user()[u])
      if (r < 20) {
        days.push_back(ds.time(r) / 86400);
        sum += static_cast<double>(ds.time(r)) / 86400.0;
      }
    const std::size_t n = days.size();
    std::sort(days.begin(), days.end());
    days.erase(std::unique(days.begin(), days.end()), days.end());
    for (const RowIndex r : ds.by_user()[u]) {
      const bool seen = std::binary_search(days.begin(), days.end(), ds.time(r) / 86400);
      CHECK((m.day_index(u, ds.time(r)) >= 0) == seen);
      if (n == 0) {
        CHECK(m.drift(u, ds.time(r)) == 0.0);
      } else {
        const double d = static_cast<double>(ds.time(r)) / 86400.0 - sum / static_cast<double>(n);
        CHECK(m.drift(u, ds.time(r)) == Approx((d < 0 ? -1 : 1) * std::pow(std::abs(d), 0.4)));
      }
    }
    total_days += static_cast<Eigen::Index>(days.size());
  }
  CHECK(L[kDay].size() == total_days);
  Vector<double> theta(m.num_parameters());
  Rng rng(9);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] = rng.normal(0.0, 0.5);
  for (const RowIndex r : {RowIndex{5}, RowIndex{30}}) {
    const std::uint32_t u = ds.user(r), i = ds.item(r);
    const int b = m.time_bin(ds.time(r));
    const Eigen::Index ub = static_cast<Eigen::Index>(u) * 3 + b, ib = static_cast<Eigen::Index>(i) * 3 + b;
    const Eigen::Index day = m.day_index(u, ds.time(r));
    if (r == 5) CHECK(day >= 0);  // a training row always has its day
    const Vector<double> pu = theta.segment(L[kP].offset + 2 * u, 2) +
                              theta.segment(L[kPt].offset + 2 * ub, 2);
    const double expected = 3.0 + theta[L[kBu].offset + u] + theta[L[kBut].offset + ub] +
                            theta[L[kBi].offset + i] + theta[L[kBit].offset + ib] +
                            theta[L[kBeta].offset + u] * m.drift(u, ds.time(r)) +
                            (day >= 0 ? theta[L[kDay].offset + day] : 0.0) +
                            pu.dot(theta.segment(L[kQ].offset + 2 * i, 2));
    Vector<double> out(1);
    const RowIndex one[] = {r};
    m.predict(theta, RatingBatch{&ds, one}, out);
    CHECK(out[0] == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("TemporalMF: with its time terms at zero it is biased MF (same loss and gradient)",
          "[models][mf][temporal]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const TemporalMF<double> m(ds, {.dims = 2, .time_bins = 4, .reg = 0.05, .bias_reg = 0.03,
                                  .smooth_reg = 0.0, .rank_feature = false,
                                  .global_mean = 3.0});
  const auto& L = m.layout().blocks();
  Vector<double> theta = Vector<double>::Zero(m.num_parameters());
  Rng rng(10);
  for (const std::size_t b : {std::size_t{kP}, std::size_t{kQ}, std::size_t{kBu}, std::size_t{kBi}})
    for (Eigen::Index k = 0; k < L[b].size(); ++k) theta[L[b].offset + k] = rng.normal(0.0, 0.5);
  // Biased MF by hand: mean of e² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²).
  double expected = 0;
  for (const RowIndex r : rows) {
    const std::uint32_t u = ds.user(r), i = ds.item(r);
    const auto p = theta.segment(L[kP].offset + 2 * u, 2), q = theta.segment(L[kQ].offset + 2 * i, 2);
    const double bu = theta[L[kBu].offset + u], bi = theta[L[kBi].offset + i];
    const double e = 3.0 + bu + bi + p.dot(q) - ds.rating(r);
    expected += e * e + 0.05 * (p.squaredNorm() + q.squaredNorm()) + 0.03 * (bu * bu + bi * bi);
  }
  expected /= static_cast<double>(rows.size());
  CHECK(m.loss(theta, RatingBatch{&ds, rows}) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("TemporalMF refuses data without timestamps", "[models][mf][temporal]") {
  const Dataset no_times = test::tiny_dataset(3, false);
  try {
    const TemporalMF<float> m(no_times);
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    CHECK(what.find("TemporalMF") != std::string::npos);
    CHECK(what.find("timestamps") != std::string::npos);
  }
  // A model built on timed data also refuses a batch of untimed data.
  const Dataset ds = test::tiny_dataset();
  const TemporalMF<float> m(ds, {.dims = 2, .rank_feature = false});
  Vector<float> theta = Vector<float>::Zero(m.num_parameters());
  const auto rows = test::all_rows(no_times);
  CHECK_THROWS_WITH(m.loss(theta, RatingBatch{&no_times, rows}),
                    Catch::Contains("timestamps"));
}

TEST_CASE("TemporalMF: time bins over the training range, clamped outside it",
          "[models][mf][temporal]") {
  const Dataset ds = test::tiny_dataset();
  // Times are 1000000 + 3600·(row + 1).
  const auto last = static_cast<RowIndex>(ds.num_ratings() - 1);
  REQUIRE(last == 36);
  const std::int64_t t0 = ds.time(0), t_last = ds.time(last);
  REQUIRE(t_last - t0 == 36 * 3600);
  const TemporalMF<double> all(ds, {.dims = 2, .time_bins = 30});
  CHECK(all.t_min() == t0);
  CHECK(all.t_max() == t_last);
  CHECK(all.time_bin(t0) == 0);
  CHECK(all.time_bin(t_last) == 29);
  // floor((t − t_min) / (t_max − t_min + 1) · bins)
  const std::int64_t width = t_last - t0 + 1;
  for (RowIndex r = 0; r <= last; ++r)
    CHECK(all.time_bin(ds.time(r)) == static_cast<int>((ds.time(r) - t0) * 30 / width));
  CHECK(all.time_bin(t0 - 1000000) == 0);
  CHECK(all.time_bin(t_last + 1000000) == 29);
  // Training range = first 20 rows: later rows go to the last bin.
  std::vector<RowIndex> train(20);
  for (RowIndex r = 0; r < 20; ++r) train[r] = r;
  const TemporalMF<double> early(ds, {.dims = 2, .time_bins = 4}, train);
  CHECK(early.t_max() == ds.time(19));
  CHECK(early.time_bin(ds.time(19)) == 3);
  CHECK(early.time_bin(ds.time(last)) == 3);
  CHECK(early.time_bin(ds.time(0)) == 0);
  CHECK(early.time_bin(ds.time(10)) == 2);  // floor(10·4/(19·3600+1)·3600) = floor(2.105)
}

TEST_CASE("TemporalMF: rank feature and prediction formula", "[models][mf][temporal]") {
  const Dataset ds = test::tiny_dataset();
  const TemporalMF<double> m(ds, {.dims = 2, .time_bins = 5, .day_bias = false, .global_mean = 3.0});
  // The tiny data's times grow with the row number, so the j-th of n rows of a user has rank
  // j / (n − 1).
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    const auto rows = ds.by_user()[u];
    for (std::size_t j = 0; j < rows.size(); ++j)
      CHECK(m.rank(rows[j]) == Approx(static_cast<double>(j) / static_cast<double>(rows.size() - 1)));
  }
  Vector<double> theta(m.num_parameters());
  Rng rng(8);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] = rng.normal(0.0, 0.5);
  const auto& L = m.layout().blocks();
  const RowIndex r = 13;
  const std::uint32_t u = ds.user(r), i = ds.item(r);
  const int b = m.time_bin(ds.time(r));
  const Eigen::Index ub = static_cast<Eigen::Index>(u) * 5 + b, ib = static_cast<Eigen::Index>(i) * 5 + b;
  const Vector<double> pu = theta.segment(L[kP].offset + 2 * u, 2) +
                            theta.segment(L[kPt].offset + 2 * ub, 2);
  const double expected = 3.0 + theta[L[kBu].offset + u] + theta[L[kBut].offset + ub] +
                          theta[L[kBi].offset + i] + theta[L[kBit].offset + ib] +
                          theta[L[kAlpha].offset + u] * m.rank(r) +
                          pu.dot(theta.segment(L[kQ].offset + 2 * i, 2));
  Vector<double> out(1);
  const RowIndex one[] = {r};
  m.predict(theta, RatingBatch{&ds, one}, out);
  CHECK(out[0] == Approx(expected).epsilon(1e-12));
}

TEST_CASE("TemporalMF: the smoothness penalty runs across adjacent time bins, not dimensions",
          "[models][mf][temporal]") {
  const Dataset ds = test::tiny_dataset();
  const int bins = 8, k = 3;
  const double lt = 0.5;
  const TemporalMF<double> smooth(ds, {.dims = k, .time_bins = bins, .reg = 0, .bias_reg = 0,
                                       .smooth_reg = lt});
  const TemporalMF<double> plain(ds, {.dims = k, .time_bins = bins, .reg = 0, .bias_reg = 0,
                                      .smooth_reg = 0});
  const auto& L = smooth.layout().blocks();
  // A row whose bin has neighbours on both sides.
  RowIndex r = 0;
  while (smooth.time_bin(ds.time(r)) == 0 || smooth.time_bin(ds.time(r)) == bins - 1) ++r;
  const std::uint32_t u = ds.user(r);
  const int b = smooth.time_bin(ds.time(r));
  const RowIndex one[] = {r};
  const RatingBatch batch{&ds, one};
  auto bin_col = [&](Vector<double>& t, int bin) {
    return t.segment(L[kPt].offset + k * (static_cast<Eigen::Index>(u) * bins + bin), k);
  };
  Rng rng(4);
  Vector<double> theta(smooth.num_parameters());
  for (Eigen::Index j = 0; j < theta.size(); ++j) theta[j] = rng.normal(0.0, 0.3);

  // (1) Equal bins whose latent dimensions differ strongly: zero smoothness penalty. A penalty
  // across dimensions (the original study's code) would be λ_t((1−5)² + (5−(−2))²) ≠ 0 here.
  for (int bin = 0; bin < bins; ++bin) bin_col(theta, bin) << 1.0, 5.0, -2.0;
  CHECK(smooth.loss(theta, batch) == Approx(plain.loss(theta, batch)).epsilon(1e-14));

  // (2) Bins constant across dimensions but different from each other: penalty
  // λ_t(‖p_b − p_{b−1}‖² + ‖p_{b+1} − p_b‖²) = λ_t·k·((c_b − c_{b−1})² + (c_{b+1} − c_b)²).
  // A penalty across dimensions would be zero for this θ.
  for (int bin = 0; bin < bins; ++bin) bin_col(theta, bin).setConstant(0.1 * bin * bin);
  const double cl = 0.1 * (b - 1) * (b - 1), cb = 0.1 * b * b, cr = 0.1 * (b + 1) * (b + 1);
  const double expected = lt * k * ((cb - cl) * (cb - cl) + (cr - cb) * (cr - cb));
  CHECK(smooth.loss(theta, batch) - plain.loss(theta, batch) == Approx(expected).epsilon(1e-10));

  // (3) The gradient of the smoothness terms reaches the neighbouring bins only.
  Vector<double> gs(smooth.num_parameters()), gp(plain.num_parameters());
  (void)smooth.loss_and_gradient(theta, batch, gs);
  (void)plain.loss_and_gradient(theta, batch, gp);
  Vector<double> diff = gs - gp;
  auto seg = [&](int bin) { return diff.segment(L[kPt].offset + k * (u * bins + bin), k); };
  // ∂/∂p_{b−1} λ_t‖p_b − p_{b−1}‖² = 2λ_t(p_{b−1} − p_b), and likewise for b+1.
  CHECK(seg(b - 1).isConstant(2 * lt * (cl - cb), 1e-12));
  CHECK(seg(b + 1).isConstant(2 * lt * (cr - cb), 1e-12));
  CHECK(seg(b).isConstant(2 * lt * ((cb - cl) - (cr - cb)), 1e-12));
  for (int d = -1; d <= 1; ++d) seg(b + d).setZero();
  CHECK(diff.cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("TemporalMF: local segments are all of the user's own parameters",
          "[models][mf][temporal]") {
  const Dataset ds = test::tiny_dataset();
  const TemporalMF<float> m(ds, {.dims = 2, .time_bins = 4, .day_bias = false});
  const auto& L = m.layout().blocks();
  const std::uint32_t u = 3;
  std::vector<Segment> local;
  m.local_segments(RatingBatch{&ds, ds.by_user()[u]}, local);
  REQUIRE(local.size() == 5);
  CHECK(local[0] == Segment{L[kP].offset + 2 * u, 2});
  CHECK(local[1] == Segment{L[kPt].offset + 2 * 4 * u, 8});
  CHECK(local[2] == Segment{L[kBu].offset + u, 1});
  CHECK(local[3] == Segment{L[kBut].offset + 4 * u, 4});
  CHECK(local[4] == Segment{L[kAlpha].offset + u, 1});

  // With drift and per-day bias: β_u and the user's own day biases (one contiguous segment).
  const TemporalMF<float> d(ds, {.dims = 2, .time_bins = 4, .drift_feature = true, .day_bias = true});
  const auto& D = d.layout().blocks();
  local.clear();
  d.local_segments(RatingBatch{&ds, ds.by_user()[u]}, local);
  REQUIRE(local.size() == 7);
  CHECK(local[5] == Segment{D[kBeta].offset + u, 1});
  const Eigen::Index first = d.day_index(u, ds.time(ds.by_user()[u].front()));
  const Eigen::Index last = d.day_index(u, ds.time(ds.by_user()[u].back()));
  CHECK(local[6] == Segment{D[kDay].offset + first, last - first + 1});
}

TEMPLATE_TEST_CASE("TemporalMF: gradient and HVP reject wrong sizes",
                   "[models][mf][temporal]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const TemporalMF<TestType> m(ds, {.dims = 3, .time_bins = 6});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows}, "TemporalMF");
}

}  // namespace unity_test_mf_temporal
