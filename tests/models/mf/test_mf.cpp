#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mf/matrix_factorization.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_mf {

namespace {
// An archetype that lacks predict(): the concept must reject it.
struct BrokenModel {
  using Scalar = float;
  using Batch = RatingBatch;
  Eigen::Index num_parameters() const { return 1; }
  void initialize(VectorRef<float>, Rng&) const {}
  float loss(const ConstVectorRef<float>&, const Batch&) const { return 0; }
  float loss_and_gradient(const ConstVectorRef<float>&, const Batch&, VectorRef<float>) const {
    return 0;
  }
};
}  // namespace

static_assert(Model<MatrixFactorization<float>>);
static_assert(Model<MatrixFactorization<double>>);
static_assert(HasSparseHessianVectorProduct<MatrixFactorization<double>>);
static_assert(HasLocalSegments<MatrixFactorization<float>>);
static_assert(!Model<int>);
static_assert(!Model<BrokenModel>);
static_assert(!HasPredict<BrokenModel>);
static_assert(has_exact_gradient<MatrixFactorization<float>>);

TEMPLATE_TEST_CASE("MatrixFactorization (biased) conforms", "[models][mf]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MatrixFactorization<TestType> mf(ds.num_users(), ds.num_items(),
                                         {.dims = 4, .reg = 0.05, .bias_reg = 0.03,
                                          .global_mean = ds.mean_rating()});
  test::conforms(mf, RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("MatrixFactorization (vanilla) conforms", "[models][mf]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MatrixFactorization<TestType> mf(ds.num_users(), ds.num_items(),
                                         {.dims = 3, .biases = false, .reg = 0.01});
  test::conforms(mf, RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("MatrixFactorization (shared user vector) conforms", "[models][mf]", float,
                   double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MatrixFactorization<TestType> mf(ds.num_users(), ds.num_items(),
                                         {.dims = 3, .shared_user = true});
  CHECK(mf.num_parameters() == 3 * (1 + ds.num_items()) + 1 + ds.num_items());
  test::conforms(mf, RatingBatch{&ds, rows});
}

TEST_CASE("MatrixFactorization: prediction formula and local segments", "[models][mf]") {
  const Dataset ds = test::tiny_dataset();
  const MatrixFactorization<double> mf(ds.num_users(), ds.num_items(),
                                       {.dims = 2, .global_mean = 3.5});
  Vector<double> theta(mf.num_parameters());
  Rng rng(1);
  mf.initialize(theta, rng);
  const auto& L = mf.layout().blocks();  // P, Q, bu, bi
  const RowIndex r = 5;
  const auto u = ds.user(r), i = ds.item(r);
  theta[L[2].offset + u] = 0.25;
  theta[L[3].offset + i] = -0.5;
  const double expected = 3.5 + 0.25 - 0.5 +
                          theta[L[0].offset + 2 * u] * theta[L[1].offset + 2 * i] +
                          theta[L[0].offset + 2 * u + 1] * theta[L[1].offset + 2 * i + 1];
  Vector<double> out(1);
  const RowIndex one[] = {r};
  mf.predict(theta, RatingBatch{&ds, one}, out);
  CHECK(out[0] == Approx(expected).epsilon(1e-12));

  std::vector<Segment> local;
  const auto user_rows = ds.by_user()[u];
  mf.local_segments(RatingBatch{&ds, user_rows}, local);
  REQUIRE(local.size() == 2);  // the user's factors and bias, once though the user has many rows
  CHECK(local[0] == Segment{L[0].offset + 2 * u, 2});
  CHECK(local[1] == Segment{L[2].offset + u, 1});
}

TEMPLATE_TEST_CASE("MatrixFactorization (biased): gradient and HVP reject wrong sizes",
                   "[models][mf]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MatrixFactorization<TestType> m(ds.num_users(), ds.num_items(), {.dims = 3});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows}, "MatrixFactorization");
}

TEMPLATE_TEST_CASE("MatrixFactorization (shared, vanilla): gradient and HVP reject wrong sizes",
                   "[models][mf]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MatrixFactorization<TestType> m(ds.num_users(), ds.num_items(),
                                        {.dims = 2, .biases = false, .shared_user = true});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows}, "MatrixFactorization");
}

}  // namespace unity_test_mf
