#include "fm_family_common.hpp"

#include <metarec/train/fused_sgd.hpp>
#include <metarec/models/mlp/deepfm.hpp>
#include <metarec/models/mlp/wide_deep.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/trainer.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_deepfm {

static_assert(Model<DeepFm<float>> && Model<DeepFm<double>>);
static_assert(HasLocalSegments<DeepFm<double>>);

TEMPLATE_TEST_CASE("DeepFm conforms", "[models][mlp][deepfm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::conforms(DeepFm<TestType>(ds, test::small_fm(false)), RatingBatch{&ds, rows});
  FieldNetworkOptions o = test::small_fm(true, nn::LossKind::squared_error);
  o.hidden = {4, 3};
  o.dropout = 0.25;
  test::conforms(DeepFm<TestType>(ds, o), RatingBatch{&ds, rows, 4});
}

TEST_CASE("DeepFm with ReLU conforms - double", "[models][mlp]") {
  test::run_relu_conformance<DeepFm<double>>();
}

TEST_CASE("DeepFm: the FM part is w0 + Σ w_f + Σ_{f<g} <e_f, e_g>", "[models][mlp][deepfm]") {
  const Dataset ds = test::tiny_dataset();
  FieldNetworkOptions o = test::small_fm(true);
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
  CHECK(test::logit(deepfm, theta, ds, r) - test::logit(wd, theta, ds, r) == Approx(pairwise).epsilon(1e-9));
}

TEST_CASE("DeepFm with batch normalisation conforms - double", "[models][mlp][deepfm][batch_norm]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  FieldNetworkOptions o = test::small_fm(true);
  o.hidden = {4, 3};
  o.batch_norm = true;
  test::conforms(DeepFm<double>(ds, o), RatingBatch{&ds, rows});
}

TEST_CASE("DeepFm with batch normalisation: predict uses the running statistics",
          "[models][mlp][deepfm][batch_norm]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  FieldNetworkOptions o = test::small_fm(false);
  o.batch_norm = true;
  const DeepFm<double> m(ds, o);
  const DeepFm<double> plain(ds, test::small_fm(false));
  REQUIRE(m.num_parameters() == plain.num_parameters() + 4 * 4);  // γ, β, mean, var of 4 units
  Vector<double> theta(m.num_parameters());
  Rng rng(3);
  m.initialize(theta, rng);
  const RatingBatch batch{&ds, rows};
  Vector<double> p0(static_cast<Eigen::Index>(rows.size())), p1(p0.size());
  m.predict(theta, batch, p0);
  const Vector<double> before = theta;
  m.update_running_statistics(theta, batch);
  // Only the running statistics moved, and predictions changed with them.
  const auto& bn = m.mlp().batch_norms().at(0);
  Vector<double> diff = theta - before;
  CHECK(diff.segment(bn.running_mean.offset, 8).norm() > 0);
  diff.segment(bn.running_mean.offset, 8).setZero();
  CHECK(diff.isZero(0.0));
  m.predict(theta, batch, p1);
  CHECK((p1 - p0).norm() > 0);
  // Without batch normalisation the hook does nothing.
  Vector<double> t2(plain.num_parameters());
  plain.initialize(t2, rng);
  const Vector<double> t2_before = t2;
  plain.update_running_statistics(t2, batch);
  CHECK(t2 == t2_before);
}

TEST_CASE("DeepFm with batch normalisation: fit updates the running statistics after each step",
          "[models][mlp][deepfm][batch_norm]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  FieldNetworkOptions o = test::small_fm(false);
  o.batch_norm = true;
  const DeepFm<double> m(ds, o);
  static_assert(HasRunningStatistics<DeepFm<double>>);
  Vector<double> theta(m.num_parameters());
  Rng rng(5);
  m.initialize(theta, rng);
  Vector<double> manual = theta;

  // One epoch, one batch holding every row: fit = one SGD step, then the statistics update.
  Sgd<double> sgd({.lr = 0.1});
  fit(m, theta, sgd, ds, rows, TrainOptions{.epochs = 1, .batch_size = rows.size(), .seed = 9});

  const RatingBatch batch{&ds, rows};
  Vector<double> g(m.num_parameters());
  m.loss_and_gradient(manual, batch, VectorRef<double>(g));
  manual -= 0.1 * g;
  const auto& bn = m.mlp().batch_norms().at(0);
  const Vector<double> stepped = manual;
  m.update_running_statistics(manual, batch);
  REQUIRE((manual - stepped).segment(bn.running_mean.offset, 8).norm() > 0);  // the update moves them
  // Same θ up to summation order (fit shuffles the rows of its one batch).
  CHECK((theta - manual).lpNorm<Eigen::Infinity>() < 1e-12);
}

}  // namespace unity_test_deepfm
