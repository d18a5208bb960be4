#include "../models/conformance.hpp"
#include "../models/tiny_data.hpp"

#include <metarec/models/mlp/deepfm.hpp>
#include <metarec/models/mlp/nfm.hpp>
#include <metarec/models/mlp/wide_deep.hpp>
#include <metarec/models/mlp/xdeepfm.hpp>

using namespace metarec;

static_assert(Model<Nfm<float>> && Model<Nfm<double>>);
static_assert(Model<DeepFm<float>> && Model<DeepFm<double>>);
static_assert(Model<WideDeep<float>> && Model<WideDeep<double>>);
static_assert(Model<XDeepFm<float>> && Model<XDeepFm<double>>);
static_assert(HasSparseHessianVectorProduct<Nfm<double>>);
static_assert(HasSparseHessianVectorProduct<XDeepFm<float>>);
static_assert(HasLocalSegments<DeepFm<double>>);

namespace {
// Smooth hidden activation so float central differences stay meaningful (see test_melu.cpp).
FieldNetworkOptions small(bool side, nn::LossKind loss = nn::LossKind::bce) {
  return {.embedding_dim = 3, .hidden = {4}, .activation = nn::Activation::tanh,
          .side_features = side, .loss = loss, .embedding_std = 0.5, .cin_layers = {3, 2}};
}
}  // namespace

TEMPLATE_TEST_CASE("Nfm conforms", "[models][mlp][nfm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::run_conformance(Nfm<TestType>(ds, small(false)), RatingBatch{&ds, rows});
  test::run_conformance(Nfm<TestType>(ds, small(true, nn::LossKind::squared_error)),
                        RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("DeepFm conforms", "[models][mlp][deepfm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::run_conformance(DeepFm<TestType>(ds, small(false)), RatingBatch{&ds, rows});
  FieldNetworkOptions o = small(true, nn::LossKind::squared_error);
  o.hidden = {4, 3};
  o.dropout = 0.25;
  test::run_conformance(DeepFm<TestType>(ds, o), RatingBatch{&ds, rows, 4});
}

TEMPLATE_TEST_CASE("WideDeep conforms", "[models][mlp][wide_deep]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::run_conformance(WideDeep<TestType>(ds, small(false)), RatingBatch{&ds, rows});
  test::run_conformance(WideDeep<TestType>(ds, small(true, nn::LossKind::squared_error)),
                        RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("XDeepFm conforms", "[models][mlp][xdeepfm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::run_conformance(XDeepFm<TestType>(ds, small(false)), RatingBatch{&ds, rows});
  test::run_conformance(XDeepFm<TestType>(ds, small(true, nn::LossKind::squared_error)),
                        RatingBatch{&ds, rows});
}

TEST_CASE("FM family with ReLU conforms - double", "[models][mlp]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  FieldNetworkOptions o = small(true);
  o.activation = nn::Activation::relu;
  test::run_conformance(Nfm<double>(ds, o), RatingBatch{&ds, rows});
  test::run_conformance(DeepFm<double>(ds, o), RatingBatch{&ds, rows});
  test::run_conformance(WideDeep<double>(ds, o), RatingBatch{&ds, rows});
  test::run_conformance(XDeepFm<double>(ds, o), RatingBatch{&ds, rows});
}

namespace {
// Output of one row computed by hand from θ, given the MLP and CIN contributions by the models'
// own parts: the FM terms are checked independently.
template <class M>
double logit(const M& m, const Vector<double>& theta, const Dataset& ds, RowIndex r) {
  Vector<double> out(1);
  const RowIndex one[] = {r};
  m.predict(theta, RatingBatch{&ds, one}, out);
  return std::log(out[0] / (1 - out[0]));
}
}  // namespace

TEST_CASE("DeepFm: the FM part is w0 + Σ w_f + Σ_{f<g} <e_f, e_g>", "[models][mlp][deepfm]") {
  const Dataset ds = test::tiny_dataset();
  FieldNetworkOptions o = small(true);
  const DeepFm<double> deepfm(ds, o);
  const WideDeep<double> wd(ds, o);  // same layout minus nothing: wide = w0 + Σ w_f, deep = MLP
  REQUIRE(deepfm.num_parameters() == wd.num_parameters());
  Vector<double> theta(deepfm.num_parameters());
  Rng rng(12);
  deepfm.initialize(theta, rng);
  const RowIndex r = 17;
  // DeepFM − Wide&Deep on the same θ is exactly the FM second-order term.
  Matrix<double> E(deepfm.embeddings().rows(), 1);
  const RowIndex one[] = {r};
  deepfm.embeddings().gather<double>(theta, RatingBatch{&ds, one}, E);
  const Eigen::Index F = deepfm.embeddings().num_fields(), k = 3;
  double pairwise = 0;
  for (Eigen::Index f = 0; f < F; ++f)
    for (Eigen::Index g = f + 1; g < F; ++g)
      pairwise += E.col(0).segment(f * k, k).dot(E.col(0).segment(g * k, k));
  CHECK(logit(deepfm, theta, ds, r) - logit(wd, theta, ds, r) == Approx(pairwise).epsilon(1e-9));
}

TEST_CASE("XDeepFm: a one-layer CIN by hand", "[models][mlp][xdeepfm]") {
  const Dataset ds = test::tiny_dataset();
  FieldNetworkOptions o = small(false);  // user id and item id: m = 2 fields
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
  CHECK(logit(x, theta, ds, r) - logit(wd, theta_wd, ds, r) == Approx(cin).epsilon(1e-9));
}

TEST_CASE("FM family: local segments are the user's rows", "[models][mlp]") {
  const Dataset ds = test::tiny_dataset();
  const Nfm<double> m(ds, small(true));
  std::vector<Segment> local;
  m.local_segments(RatingBatch{&ds, ds.by_user()[4]}, local);
  REQUIRE(local.size() == 2);
  CHECK(local[0] == m.embeddings().fields()[0].table.column(4));
  CHECK(local[1] == m.linear_weights().fields()[0].table.column(4));
  CHECK_THROWS_AS(Nfm<double>(ds, {.user_id = false, .item_id = false}), std::invalid_argument);
}
