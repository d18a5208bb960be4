#include "fm_family_common.hpp"

#include <metarec/models/mlp/xdeepfm.hpp>
#include <metarec/models/mlp/wide_deep.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_xdeepfm {

static_assert(Model<XDeepFm<float>> && Model<XDeepFm<double>>);
static_assert(HasSparseHessianVectorProduct<XDeepFm<float>>);

TEMPLATE_TEST_CASE("XDeepFm conforms", "[models][mlp][xdeepfm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::conforms(XDeepFm<TestType>(ds, test::small_fm(false)), RatingBatch{&ds, rows});
  test::conforms(XDeepFm<TestType>(ds, test::small_fm(true, nn::LossKind::squared_error)),
                        RatingBatch{&ds, rows});
}

TEST_CASE("XDeepFm with ReLU conforms - double", "[models][mlp]") {
  test::run_relu_conformance<XDeepFm<double>>();
}

TEST_CASE("XDeepFm: a one-layer CIN by hand", "[models][mlp][xdeepfm]") {
  const Dataset ds = test::tiny_dataset();
  FieldNetworkOptions o = test::small_fm(false);  // user id and item id: m = 2 fields
  o.cin_layers = {2};
  const XDeepFm<double> x(ds, o);
  const WideDeep<double> wd(ds, o);
  Vector<double> theta_wd(wd.num_parameters());
  Rng rng(2);
  wd.initialize(theta_wd, rng);
  // xDeepFM's layout is Wide&Deep's followed by the CIN blocks: W¹ (2 × 2·2) then w (2).
  Vector<double> theta(x.num_parameters());
  REQUIRE(x.num_parameters() == wd.num_parameters() + 8 + 2);
  theta.head(wd.num_parameters()) = theta_wd;
  for (Eigen::Index k = 0; k < 10; ++k) theta[wd.num_parameters() + k] = 0.1 * (k + 1) - 0.4;
  const RowIndex r = 5;
  Matrix<double> E(6, 1);
  const RowIndex one[] = {r};
  x.embeddings().gather<double>(theta, RatingBatch{&ds, one}, E);
  const auto W = Eigen::Map<const Matrix<double>>(theta.data() + wd.num_parameters(), 2, 4);
  const auto w = theta.segment(wd.num_parameters() + 8, 2);
  double cin = 0;
  for (int h = 0; h < 2; ++h)
    for (int d = 0; d < 3; ++d) {
      double xh = 0;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) xh += W(h, j * 2 + i) * E(i * 3 + d, 0) * E(j * 3 + d, 0);
      cin += w[h] * xh;
    }
  CHECK(test::logit(x, theta, ds, r) - test::logit(wd, theta_wd, ds, r) == Approx(cin).epsilon(1e-9));
}

}  // namespace unity_test_xdeepfm
