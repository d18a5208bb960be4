// EASE: conformance in float and double, the closed form against gradient descent, the zero
// diagonal, fold-in scores.

#include <metarec/core/error.hpp>
#include <metarec/models/autoencoder/ease.hpp>

#include <Eigen/LU>

#include "models/autoencoder/ae_test_support.hpp"
#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"

#include <catch.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_ease {

static_assert(Model<Ease<float>> && HasHessianVectorProduct<Ease<double>> && !HasLocalSegments<Ease<float>>);

TEMPLATE_TEST_CASE("EASE conforms", "[models][autoencoder]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  test::conforms(Ease<TestType>(ds, {.reg = 3.0}, rows), w.batch());
  test::conforms(Ease<TestType>(ds, {.reg = 0.5, .binary = false, .init_std = 0.1}), w.batch());
}

TEST_CASE("EASE: every entry point rejects wrong sizes", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows w(ds, test::all_rows(ds), RowSide::user);
  test::check_entry_point_sizes(Ease<double>(ds, {.reg = 1.0}), w.batch(), "Ease");
}

TEST_CASE("EASE: the closed form is the minimiser gradient descent finds, with a zero diagonal", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  const RowBatch all = w.batch();
  const Ease<double> m(ds, {.reg = 2.0}, rows);
  REQUIRE(m.examples() == all.size());
  const Eigen::Index n = m.num_parameters();
  Vector<double> closed(n);
  m.fit_closed_form(closed, all);
  const Eigen::Index items = ds.num_items();
  const Eigen::Map<const Matrix<double>> B(closed.data(), items, items);
  CHECK(B.diagonal().isZero(0));
  // The closed form is a stationary point: the gradient vanishes.
  Vector<double> g(n);
  (void)m.loss_and_gradient(closed, all, g);
  CHECK(g.cwiseAbs().maxCoeff() < 1e-12);
  // Gradient descent from a random start reaches it (the loss is a convex quadratic).
  Vector<double> theta(n);
  Rng rng(3);
  m.initialize(theta, rng);
  const double start = m.loss(theta, all);
  for (int step = 0; step < 4000; ++step) {
    (void)m.loss_and_gradient(theta, all, g);
    theta -= 0.1 * g;
  }
  INFO("loss: start " << start << ", descent " << m.loss(theta, all) << ", closed form " << m.loss(closed, all));
  CHECK((theta - closed).cwiseAbs().maxCoeff() < 1e-7);
  CHECK(m.loss(closed, all) <= m.loss(theta, all));
  // The closed form is B = I − P diag(1/diag P), P = (XᵀX + λI)⁻¹ (θ's column c = row c of B).
  Matrix<double> X = Matrix<double>::Zero(ds.num_users(), items);
  for (const RowIndex r : rows) X(ds.user(r), ds.item(r)) = 1.0;
  const Matrix<double> P = (X.transpose() * X + 2.0 * Matrix<double>::Identity(items, items)).inverse();
  Matrix<double> expected = Matrix<double>::Identity(items, items) - P * P.diagonal().cwiseInverse().asDiagonal();
  CHECK((B.transpose() - expected).cwiseAbs().maxCoeff() < 1e-10);
}

TEST_CASE("EASE: a new user's scores are x B, from their items alone", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const test::HalfRows half(ds);
  const Ease<double> m(ds, {.reg = 1.0}, half.train);
  Vector<double> theta(m.num_parameters());
  const WholeRows train(ds, half.train, RowSide::user);
  m.fit_closed_form(theta, train.batch());
  const Eigen::Index items = ds.num_items();
  const Eigen::Map<const Matrix<double>> Bt(theta.data(), items, items);  // column c = row c of B
  const WholeRows fold(ds, half.train, half.held_out, RowSide::user);
  const RowBatch b = fold.batch();
  Matrix<double> scores(items, static_cast<Eigen::Index>(b.size()));
  m.score_all(theta, b, scores);
  Vector<double> pred(static_cast<Eigen::Index>(b.num_targets()));
  m.predict(theta, b, pred);
  Eigen::Index k = 0;
  for (std::size_t e = 0; e < b.size(); ++e) {
    Vector<double> x = Vector<double>::Zero(items);
    for (const RowIndex r : b.examples[e].input) x[ds.item(r)] = 1.0;
    const Vector<double> s = Bt.transpose().transpose() * x;  // Σ_c x_c B(c, :)
    CHECK((scores.col(static_cast<Eigen::Index>(e)) - s).cwiseAbs().maxCoeff() < 1e-12);
    for (const RowIndex r : b.examples[e].target) CHECK(pred[k++] == Approx(s[ds.item(r)]));
  }
  // λ = 0 on the tiny (rank-deficient) data: not positive definite, a numerical error.
  const Ease<double> singular(ds, {.reg = 0.0});
  CHECK_THROWS_AS(singular.fit_closed_form(theta, train.batch()), numerical_error);
  Matrix<double> wrong(items + 1, 1);
  CHECK_THROWS_WITH(m.score_all(theta, b, wrong), Catch::Contains("Ease::score_all"));
}

}  // namespace unity_test_ease
