#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mf/side_feature_mf.hpp>
#include <limits>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_mf_side {

static_assert(Model<SideFeatureMF<float>>);
static_assert(Model<SideFeatureMF<double>>);
static_assert(HasSparseHessianVectorProduct<SideFeatureMF<float>>);
static_assert(HasSparseHessianVectorProduct<SideFeatureMF<double>>);
static_assert(HasLocalSegments<SideFeatureMF<double>>);
static_assert(has_exact_gradient<SideFeatureMF<float>>);

namespace {
// Blocks of SideFeatureMF's layout, in order.
enum : std::size_t { kP, kQ, kWu, kWi, kBu, kBi, kBfu, kBfi };

template <class S>
Vector<S> random_theta(const SideFeatureMF<S>& m, std::uint64_t seed) {
  Vector<S> theta(m.num_parameters());
  Rng rng(seed);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] = static_cast<S>(rng.normal(0.0, 0.5));
  return theta;
}
}  // namespace

TEMPLATE_TEST_CASE("SideFeatureMF conforms", "[models][mf][side]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SideFeatureMF<TestType> m(ds, {.dims = 3, .reg = 0.05, .bias_reg = 0.03,
                                       .feature_reg = 0.04, .global_mean = ds.mean_rating()});
  CHECK(m.num_parameters() == 3 * (7 + 9 + 40 + 7) + 7 + 9 + 40 + 7);
  test::conforms(m, RatingBatch{&ds, rows});
  // With their own L2 weights on the item ID factors and biases (gradient, HVP and penalty must all use them).
  const SideFeatureMF<TestType> q(ds, {.dims = 3, .reg = 0.05, .item_reg = 0.3, .bias_reg = 0.03, .item_bias_reg = 0.7,
                                       .feature_reg = 0.04, .global_mean = ds.mean_rating()});
  test::conforms(q, RatingBatch{&ds, rows});
}

TEST_CASE("SideFeatureMF: item_reg and item_bias_reg weigh the item ID factors and biases only", "[models][mf][side]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SideFeatureMFOptions base{.dims = 2, .reg = 0.05, .bias_reg = 0.03, .feature_reg = 0.04, .global_mean = 3.25};
  SideFeatureMFOptions heavy = base;
  heavy.item_reg = 0.45;
  heavy.item_bias_reg = 1.03;
  SideFeatureMFOptions same = base;
  same.item_reg = 0.05;
  same.item_bias_reg = 0.03;
  const SideFeatureMF<double> m0(ds, base), m1(ds, heavy), m2(ds, same);
  CHECK(m0.item_factor_reg() == 0.05);  // negative (the default): the same as reg
  CHECK(m0.item_bias_reg() == 0.03);    // ... and as bias_reg
  CHECK(m1.item_factor_reg() == 0.45);
  CHECK(m1.item_bias_reg() == 1.03);
  const auto theta = random_theta(m0, 5);
  const RatingBatch batch{&ds, rows};
  // L1 − L0 = mean over the batch's rows of (0.45 − 0.05) ‖q_i‖² + (1.03 − 0.03) b_i², by hand.
  const auto& Q = m0.layout().blocks()[kQ];
  const auto& Bi = m0.layout().blocks()[kBi];
  double extra = 0.0;
  for (const RowIndex r : rows)
    extra += 0.4 * theta.segment(Q.offset + 2 * ds.item(r), 2).squaredNorm() +
             1.0 * theta[Bi.offset + ds.item(r)] * theta[Bi.offset + ds.item(r)];
  extra /= static_cast<double>(rows.size());
  CHECK(m1.loss(theta, batch) - m0.loss(theta, batch) == Approx(extra).epsilon(1e-10));
  CHECK(m2.loss(theta, batch) == m0.loss(theta, batch));
  // The gradients differ on the item factors and biases only, by 2 (0.45 − 0.05) q_i and 2 (1.03 − 0.03) b_i
  // per row / |B|.
  Vector<double> g0(theta.size()), g1(theta.size());
  (void)m0.loss_and_gradient(theta, batch, g0);
  (void)m1.loss_and_gradient(theta, batch, g1);
  Vector<double> want = Vector<double>::Zero(theta.size());
  for (const RowIndex r : rows) {
    want.segment(Q.offset + 2 * ds.item(r), 2) += (2.0 * 0.4 / static_cast<double>(rows.size())) *
                                                   theta.segment(Q.offset + 2 * ds.item(r), 2);
    want[Bi.offset + ds.item(r)] += (2.0 * 1.0 / static_cast<double>(rows.size())) * theta[Bi.offset + ds.item(r)];
  }
  CHECK((g1 - g0 - want).cwiseAbs().maxCoeff() < 1e-12);
  CHECK_THROWS_AS(SideFeatureMF<double>(ds, {.dims = 2, .item_reg = std::numeric_limits<double>::infinity()}),
                  std::invalid_argument);
  CHECK_THROWS_AS(SideFeatureMF<double>(ds, {.dims = 2, .item_bias_reg = std::numeric_limits<double>::quiet_NaN()}),
                  std::invalid_argument);
}

TEMPLATE_TEST_CASE("SideFeatureMF (shared user vector) conforms", "[models][mf][side]", float,
                   double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SideFeatureMF<TestType> m(ds, {.dims = 3, .shared_user = true});
  CHECK(m.num_parameters() == 3 * (1 + 9 + 40 + 7) + 1 + 9 + 40 + 7);
  test::conforms(m, RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("SideFeatureMF without user fields (ML-10M-like) conforms",
                   "[models][mf][side]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SideFeatureMF<TestType> m(ds, {.dims = 2, .user_features = false});
  CHECK(m.user_fields().empty());
  CHECK(m.num_parameters() == 2 * (7 + 9 + 7) + 7 + 9 + 7);
  test::conforms(m, RatingBatch{&ds, rows});
}

TEST_CASE("SideFeatureMF: prediction formula with mean-pooled multi-hot genres",
          "[models][mf][side]") {
  const Dataset ds = test::tiny_dataset();
  const SideFeatureMF<double> m(ds, {.dims = 2, .global_mean = 3.25});
  const auto theta = random_theta(m, 17);
  const auto& L = m.layout().blocks();
  auto colv = [&](std::size_t blk, Eigen::Index c) {
    return Vector<double>(theta.segment(L[blk].offset + 2 * c, 2));
  };
  auto b = [&](std::size_t blk, Eigen::Index c) { return theta[L[blk].offset + c]; };
  // User fields in θ: gender [0,2), age [2,9), occupation [9,30), zip_prefix [30,40).
  // Item fields: genre [0,4), year [4,7). Item 3 has genres {3, 0} and year index 0.
  REQUIRE(ds.item_features().fields[0].of(3).size() == 2);
  {
    // User 0: gender 0, age 0, occupation 0, zip 1.
    const Vector<double> U = colv(kP, 0) + colv(kWu, 0) + colv(kWu, 2 + 0) + colv(kWu, 9 + 0) +
                             colv(kWu, 30 + 1);
    const Vector<double> I = colv(kQ, 3) + 0.5 * (colv(kWi, 3) + colv(kWi, 0)) + colv(kWi, 4);
    const double bias = 3.25 + b(kBu, 0) + b(kBi, 3) + b(kBfu, 0) + b(kBfu, 2) + b(kBfu, 9) +
                        b(kBfu, 31) + 0.5 * (b(kBfi, 3) + b(kBfi, 0)) + b(kBfi, 4);
    CHECK(m.score(theta, ds, 0, 3) == Approx(bias + U.dot(I)).epsilon(1e-12));
  }
  {
    // User 6: gender 1, age 6, occupation unknown (contributes nothing), zip 2.
    const Vector<double> U = colv(kP, 6) + colv(kWu, 1) + colv(kWu, 2 + 6) + colv(kWu, 30 + 2);
    const Vector<double> I = colv(kQ, 3) + 0.5 * (colv(kWi, 3) + colv(kWi, 0)) + colv(kWi, 4);
    const double bias = 3.25 + b(kBu, 6) + b(kBi, 3) + b(kBfu, 1) + b(kBfu, 8) + b(kBfu, 32) +
                        0.5 * (b(kBfi, 3) + b(kBfi, 0)) + b(kBfi, 4);
    CHECK(m.score(theta, ds, 6, 3) == Approx(bias + U.dot(I)).epsilon(1e-12));
  }
  // predict() agrees with score() row by row.
  const auto rows = test::all_rows(ds);
  Vector<double> out(static_cast<Eigen::Index>(rows.size()));
  m.predict(theta, RatingBatch{&ds, rows}, out);
  for (const RowIndex r : rows)
    CHECK(out[r] == Approx(m.score(theta, ds, ds.user(r), ds.item(r))).epsilon(1e-12));
}

TEST_CASE("SideFeatureMF: user features change the ranking of items", "[models][mf][side]") {
  const Dataset ds = test::tiny_dataset();
  const SideFeatureMF<double> m(ds, {.dims = 2});
  const auto& L = m.layout().blocks();
  // Items 1 and 4 differ only in genre. Item 1: genre {1}, year 1. Item 4: genre {0}, year 1. Same year, one genre each.
  const auto& genre = ds.item_features().fields[0];
  const auto& year = ds.item_features().fields[1];
  REQUIRE(genre.of(1).size() == 1);
  REQUIRE(genre.of(4).size() == 1);
  REQUIRE(genre.of(1)[0] == 1);
  REQUIRE(genre.of(4)[0] == 0);
  REQUIRE(year.of(1)[0] == year.of(4)[0]);
  // Only side-feature factors are non-zero: q_1 = q_4 = 0, no item biases. The gender factor of
  // women (category 0) likes genre 1 and dislikes genre 0; men (category 1) have no taste.
  Vector<double> theta = Vector<double>::Zero(m.num_parameters());
  theta.segment(L[kWu].offset + 2 * 0, 2) << 1.0, 0.0;   // w_gender=F
  theta.segment(L[kWi].offset + 2 * 1, 2) << 1.0, 0.5;   // w_genre=Comedy
  theta.segment(L[kWi].offset + 2 * 0, 2) << -1.0, 0.5;  // w_genre=Action
  // User 0 is F, user 1 is M.
  CHECK(m.score(theta, ds, 0, 1) == Approx(1.0));
  CHECK(m.score(theta, ds, 0, 4) == Approx(-1.0));
  CHECK(m.score(theta, ds, 1, 1) == Approx(0.0).margin(1e-15));
  CHECK(m.score(theta, ds, 1, 4) == Approx(0.0).margin(1e-15));
  // An occupation factor likewise reorders items (not an item-independent offset as in the
  // original study's code): user 1 has occupation 3; user 3 has occupation 3 too, and is F.
  theta.segment(L[kWu].offset + 2 * (9 + 3), 2) << 0.0, -4.0;  // w_occupation=3
  CHECK(m.score(theta, ds, 1, 1) == Approx(-2.0));  // (0,-4)·(1,0.5)
  CHECK(m.score(theta, ds, 1, 4) == Approx(-2.0));  // (0,-4)·(-1,0.5): same along dim 2
  theta.segment(L[kWu].offset + 2 * (9 + 3), 2) << -3.0, 0.0;
  CHECK(m.score(theta, ds, 1, 1) < m.score(theta, ds, 1, 4));  // occupation 3 prefers Action
  CHECK(m.score(theta, ds, 0, 1) > m.score(theta, ds, 0, 4));  // F with occupation 0: Comedy
}

TEST_CASE("SideFeatureMF: local segments and schema checks", "[models][mf][side]") {
  const Dataset ds = test::tiny_dataset();
  const SideFeatureMF<float> m(ds, {.dims = 2});
  const auto& L = m.layout().blocks();
  const std::uint32_t u = 2;
  std::vector<Segment> local;
  m.local_segments(RatingBatch{&ds, ds.by_user()[u]}, local);
  REQUIRE(local.size() == 2);
  CHECK(local[0] == Segment{L[kP].offset + 2 * u, 2});
  CHECK(local[1] == Segment{L[kBu].offset + u, 1});

  const SideFeatureMF<float> shared(ds, {.dims = 2, .shared_user = true});
  local.clear();
  const auto rows = test::all_rows(ds);
  shared.local_segments(RatingBatch{&ds, rows}, local);
  REQUIRE(local.size() == 2);  // the shared p₀ and b₀, once
  CHECK(local[0] == shared.layout().blocks()[kP].segment());

  // A data set with another schema (no item fields) is refused with a message naming the field.
  DatasetParts p;
  p.users = IdMap::from_ids({1});
  p.items = IdMap::from_ids({1});
  p.user = {0};
  p.item = {0};
  p.rating = {3.0f};
  const Dataset other(std::move(p));
  const RowIndex one[] = {0};
  Vector<float> theta = Vector<float>::Zero(m.num_parameters());
  try {
    (void)m.loss(theta, RatingBatch{&other, one});
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("'gender'") != std::string::npos);
  }
}

TEMPLATE_TEST_CASE("SideFeatureMF: gradient and HVP reject wrong sizes",
                   "[models][mf][side]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SideFeatureMF<TestType> m(ds, {.dims = 3});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows}, "SideFeatureMF");
}

}  // namespace unity_test_mf_side
