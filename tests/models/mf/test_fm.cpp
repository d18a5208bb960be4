#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mf/factorization_machine.hpp>

#include <set>
#include <string>
#include <utility>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_fm {

static_assert(Model<FactorizationMachine<float>>);
static_assert(Model<FactorizationMachine<double>>);
static_assert(HasSparseHessianVectorProduct<FactorizationMachine<float>>);
static_assert(HasSparseHessianVectorProduct<FactorizationMachine<double>>);
static_assert(HasLocalSegments<FactorizationMachine<double>>);

TEMPLATE_TEST_CASE("FactorizationMachine conforms (ids, side fields, time bins)", "[models][fm]",
                   float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const FactorizationMachine<TestType> fm(ds, {.dims = 3, .reg = 0.05, .bias_reg = 0.03,
                                               .global_mean = ds.mean_rating(), .time_bins = 4});
  CHECK(fm.num_features() == 7 + 9 + 40 + 7 + 4);
  CHECK(fm.num_parameters() == 1 + 4 * fm.num_features());
  test::conforms(fm, RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("FactorizationMachine conforms (ids only, i.e. biased MF)", "[models][fm]",
                   float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const FactorizationMachine<TestType> fm(
      ds, {.dims = 2, .user_features = false, .item_features = false});
  CHECK(fm.num_features() == 7 + 9);
  test::conforms(fm, RatingBatch{&ds, rows});
}

TEST_CASE("FactorizationMachine: field offsets never collide", "[models][fm]") {
  const Dataset ds = test::tiny_dataset();
  const FactorizationMachine<double> fm(ds, {.dims = 2, .time_bins = 5});
  const auto& fields = fm.fields();
  REQUIRE(fields.size() == 2 + 4 + 2 + 1);
  CHECK(fields[0].name == "user_id");
  CHECK(fields[1].name == "item_id");
  CHECK(fields[2].name == "user:gender");
  CHECK(fields[6].name == "item:genre");
  CHECK(fields[8].name == "time_bin");
  // Every distinct (field, value) pair gets its own feature index, inside [0, n).
  std::set<Eigen::Index> seen;
  std::size_t pairs = 0;
  for (std::size_t f = 0; f < fields.size(); ++f) {
    for (std::uint32_t v = 0; v < fields[f].cardinality; ++v) {
      const Eigen::Index j = fm.feature_index(f, v);
      CHECK(j >= 0);
      CHECK(j < fm.num_features());
      seen.insert(j);
      ++pairs;
    }
    CHECK_THROWS_AS((void)fm.feature_index(f, fields[f].cardinality), std::invalid_argument);
  }
  CHECK(seen.size() == pairs);
  CHECK(static_cast<Eigen::Index>(pairs) == fm.num_features());
  // In particular user u and item u (same value, different fields) differ, as do "gender = 1" and
  // "age = 1", which share the value index 1.
  CHECK(fm.feature_index(0, 3) != fm.feature_index(1, 3));
  CHECK(fm.feature_index(2, 1) != fm.feature_index(3, 1));
  // The active features of each row are distinct indices as well (one per field, or the values
  // of a multi-hot field).
  for (const RowIndex r : test::all_rows(ds)) {
    std::set<Eigen::Index> active;
    std::size_t count = 0;
    fm.for_each_feature(ds, r, [&](Eigen::Index j, double) {
      active.insert(j);
      ++count;
    });
    CHECK(active.size() == count);
  }
}

TEST_CASE("FactorizationMachine: prediction equals the O(n²) pairwise formula", "[models][fm]") {
  const Dataset ds = test::tiny_dataset();
  const int k = 3;
  const FactorizationMachine<double> fm(ds, {.dims = k, .time_bins = 6});
  const Eigen::Index n = fm.num_features();
  Vector<double> theta(fm.num_parameters());
  Rng rng(31);
  for (Eigen::Index j = 0; j < theta.size(); ++j) theta[j] = rng.normal(0.0, 0.7);
  const auto& L = fm.layout().blocks();  // w0, w, V
  const double w0 = theta[L[0].offset];
  const auto w = theta.segment(L[1].offset, n);
  const Eigen::Map<const Matrix<double>> V(theta.data() + L[2].offset, k, n);
  const auto rows = test::all_rows(ds);
  Vector<double> pred(static_cast<Eigen::Index>(rows.size()));
  fm.predict(theta, RatingBatch{&ds, rows}, pred);
  const auto& fields = fm.fields();
  const std::int64_t t0 = ds.time(0), t1 = ds.time(static_cast<RowIndex>(ds.num_ratings() - 1));
  for (const RowIndex r : rows) {
    // Dense x built here from the data, independently of the model's feature visitor.
    Vector<double> x = Vector<double>::Zero(n);
    const std::uint32_t u = ds.user(r), i = ds.item(r);
    x[fm.feature_index(0, u)] = 1;
    x[fm.feature_index(1, i)] = 1;
    for (std::size_t f = 0; f < 4; ++f) {
      const auto vals = ds.user_features().fields[f].of(u);
      for (const auto c : vals) x[fm.feature_index(2 + f, c)] += 1.0 / static_cast<double>(vals.size());
    }
    for (std::size_t f = 0; f < 2; ++f) {
      const auto vals = ds.item_features().fields[f].of(i);
      for (const auto c : vals) x[fm.feature_index(6 + f, c)] += 1.0 / static_cast<double>(vals.size());
    }
    const auto bin = static_cast<std::uint32_t>((ds.time(r) - t0) * 6 / (t1 - t0 + 1));
    REQUIRE(fields[8].name == "time_bin");
    x[fm.feature_index(8, bin)] = 1;
    double y = w0 + w.dot(x);
    for (Eigen::Index a = 0; a < n; ++a)
      for (Eigen::Index b = a + 1; b < n; ++b) y += V.col(a).dot(V.col(b)) * x[a] * x[b];
    CHECK(pred[r] == Approx(y).epsilon(1e-12));
  }
  // A multi-hot genre row is present, so the 1/n weights were exercised.
  CHECK(ds.item_features().fields[0].of(0).size() == 2);
}

TEST_CASE("FactorizationMachine: time bins need timestamps; local segments", "[models][fm]") {
  const Dataset no_times = test::tiny_dataset(3, false);
  CHECK_THROWS_WITH(FactorizationMachine<float>(no_times, {.time_bins = 3}),
                    Catch::Contains("timestamps"));
  CHECK_NOTHROW(FactorizationMachine<float>(no_times, {.time_bins = 0}));

  const Dataset ds = test::tiny_dataset();
  // A model with a time field refuses batches of a data set without times.
  const FactorizationMachine<float> timed(ds, {.dims = 2, .time_bins = 3});
  const Vector<float> zero = Vector<float>::Zero(timed.num_parameters());
  const auto untimed_rows = test::all_rows(no_times);
  CHECK_THROWS_WITH(timed.loss(zero, RatingBatch{&no_times, untimed_rows}),
                    Catch::Contains("timestamps"));

  const FactorizationMachine<float> fm(ds, {.dims = 2});
  const auto& L = fm.layout().blocks();
  const std::uint32_t u = 4;
  std::vector<Segment> local;
  fm.local_segments(RatingBatch{&ds, ds.by_user()[u]}, local);
  REQUIRE(local.size() == 2);
  CHECK(local[0] == Segment{L[1].offset + u, 1});
  CHECK(local[1] == Segment{L[2].offset + 2 * u, 2});
}

TEMPLATE_TEST_CASE("FactorizationMachine: gradient and HVP reject wrong sizes",
                   "[models][fm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const FactorizationMachine<TestType> m(ds, {.dims = 2, .time_bins = 4});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows}, "FactorizationMachine");
}

}  // namespace unity_test_fm
