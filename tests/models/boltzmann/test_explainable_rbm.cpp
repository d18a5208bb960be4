// The explainable RBM: the neighbourhood explainability matrix and the MEP/MER metrics against
// hand computations, the model's direction contract, its conditional weights' share of the
// direction, and recommendations that carry their explanation.

#include "models/conformance.hpp"
#include "models/tiny_data.hpp"

#include <metarec/data/row_batch.hpp>
#include <metarec/models/boltzmann/explainable_rbm.hpp>
#include <metarec/report/item_scores.hpp>

#include <catch.hpp>

#include <array>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_explainable_rbm {

static_assert(Model<ExplainableRbm<float>>);
static_assert(!has_exact_gradient<ExplainableRbm<double>>);
static_assert(!HasHessianVectorProduct<ExplainableRbm<double>>);
static_assert(HasSparseGradient<ExplainableRbm<double>>);
static_assert(report::HasRowScores<ExplainableRbm<float>>);

namespace {

// 4 users × 5 items (cosine similarities worked out in the test below).
Dataset four_users() {
  DatasetParts p;
  p.users = IdMap::from_ids(std::vector<std::int64_t>{1, 2, 3, 4});
  p.items = IdMap::from_ids(std::vector<std::int64_t>{10, 11, 12, 13, 14});
  const std::vector<std::array<int, 3>> r{{0, 0, 5}, {0, 1, 3}, {1, 0, 4}, {1, 1, 2}, {1, 2, 5},
                                          {2, 3, 4}, {2, 4, 1}, {3, 0, 1}, {3, 3, 5}, {3, 4, 2}};
  for (const auto& [u, i, x] : r) {
    p.user.push_back(static_cast<std::uint32_t>(u));
    p.item.push_back(static_cast<std::uint32_t>(i));
    p.rating.push_back(static_cast<float>(x));
  }
  return Dataset(std::move(p));
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no exception";
}

}  // namespace

TEST_CASE("ExplainabilityMatrix: cosine neighbours and the share of them who rated each item", "[models][boltzmann][explainable]") {
  const Dataset ds = four_users();
  const auto rows = test::all_rows(ds);
  // cosine: s(0,1) = 26/√(34·45) = .665, s(0,3) = 5/√(34·30) = .157, s(1,3) = 4/√(45·30) = .109,
  // s(2,3) = 22/√(17·30) = .974, the others 0 (no shared item; not neighbours)
  const auto E = ExplainabilityMatrix::from_neighbours(ds, rows, {.neighbours = 2});
  REQUIRE(E.num_users() == 4);
  // user 0: neighbours 1 and 3 → item 0 rated by both, items 1–4 by one
  CHECK(E.score(0, 0) == 1.0f);
  for (std::uint32_t i = 1; i < 5; ++i) CHECK(E.score(0, i) == 0.5f);
  // user 1: neighbours 0 and 3 → item 2 (only user 1 rated it) is not explainable
  CHECK(E.score(1, 0) == 1.0f);
  CHECK_FALSE(E.explainable(1, 2));
  CHECK(E.row(1).size() == 4);
  // user 2: one neighbour with a positive similarity (3); the share still divides by k = 2
  CHECK(E.row(2).size() == 3);
  CHECK(E.score(2, 0) == 0.5f);
  CHECK(E.score(2, 1) == 0.0f);
  // user 3: neighbours 2 (.974) and 0 (.157, above user 1's .109)
  CHECK(E.score(3, 1) == 0.5f);
  CHECK_FALSE(E.explainable(3, 2));
  CHECK(E.explanation(0, 0) == "2 of your 2 nearest neighbours rated this");
  CHECK(E.explanation(3, 4) == "1 of your 2 nearest neighbours rated this");
  CHECK(E.explanation(1, 2) == "none of your 2 nearest neighbours rated this");
  // threshold θ = 0.5 keeps only the scores above it
  const auto E5 = ExplainabilityMatrix::from_neighbours(ds, rows, {.neighbours = 2, .threshold = 0.5});
  CHECK(E5.row(0).size() == 1);
  CHECK(E5.score(0, 0) == 1.0f);
  // rating-weighted: Σ_{v ∈ N(u)} r_vi / (k · R_max)
  const auto Ew = ExplainabilityMatrix::from_neighbours(ds, rows, {.neighbours = 2, .rating_weighted = true});
  CHECK(Ew.score(0, 0) == Approx((4.0 + 1.0) / 10.0));
  CHECK(Ew.score(0, 1) == Approx(2.0 / 10.0));
  CHECK(Ew.score(0, 2) == Approx(5.0 / 10.0));
  CHECK(message_of([&] { (void)ExplainabilityMatrix::from_neighbours(ds, rows, {.neighbours = 0}); }) ==
        "ExplainabilityMatrix::from_neighbours: neighbours must be >= 1 (got 0)");
}

TEST_CASE("ExplainabilityMatrix: MEP@n and MER@n by hand", "[models][boltzmann][explainable]") {
  const Dataset ds = four_users();
  const auto E = ExplainabilityMatrix::from_neighbours(ds, test::all_rows(ds), {.neighbours = 2});
  const std::vector<std::uint32_t> users{0, 2};
  const std::vector<std::vector<std::uint32_t>> lists{{2, 3, 1}, {0, 1}};
  const std::vector<std::vector<std::uint32_t>> seen{{0, 1}, {3, 4}};
  // user 0: items 2, 3 explainable (n = 2: the third is not counted): precision 1, recall 2/3
  // (candidates 2, 3, 4); user 2: item 0 explainable, 1 not: precision 1/2, recall 1/1
  const auto s = E.mean_explainability(users, lists, seen, 2);
  CHECK(s.mep == Approx(0.75));
  CHECK(s.mer == Approx((2.0 / 3.0 + 1.0) / 2.0));
  CHECK(s.users == 2);
  CHECK(s.mer_users == 2);
  CHECK(message_of([&] { (void)E.mean_explainability(users, lists, seen, 0); }).find("n must be >= 1") != std::string::npos);
}

TEMPLATE_TEST_CASE("ExplainableRbm: the direction contract; D's share is e_u times the hidden biases'",
                   "[models][boltzmann][explainable]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto Ep = std::make_shared<const ExplainabilityMatrix>(ExplainabilityMatrix::from_neighbours(ds, rows, {.neighbours = 3}));
  const ExplainabilityMatrix& E = *Ep;
  const WholeRows users(ds, rows, RowSide::user);
  const ExplainableRbm<TestType> m(Ep, {.rbm = {.hidden = 4, .cd_steps = 2, .weight_decay = 0.0, .init_std = 0.3}});
  CHECK(test::run_direction_conformance(m, users.batch(4), users.batch(5)).checks == 4);
  // one case: g_D[:, i] = e_ui · g_c for every explainable item, 0 elsewhere
  Vector<TestType> theta(m.num_parameters()), g(m.num_parameters());
  Rng rng(6);
  m.initialize(theta, rng);
  const RowExample ex = users.examples()[2];
  REQUIRE(!E.row(ex.entity).empty());
  (void)m.loss_and_gradient(theta, RowBatch{&ds, std::span<const RowExample>(&ex, 1), 3, RowSide::user}, g);
  const Block D = m.explainability_weights(), c = m.hidden_bias();
  const auto gc = g.segment(c.offset, c.rows);
  REQUIRE(gc.norm() > 0);
  for (std::uint32_t i = 0; i < ds.num_items(); ++i) {
    const auto gd = g.segment(D.offset + i * D.rows, D.rows);
    CHECK((gd - static_cast<TestType>(E.score(ex.entity, i)) * gc).cwiseAbs().maxCoeff() <= 1e-6);
  }
  // the conditional input changes the predictions
  Vector<TestType> p1(users.batch().num_targets()), p2(p1.size());
  m.predict(theta, users.batch(), p1);
  theta.segment(D.offset, D.size()).array() += TestType(0.5);
  m.predict(theta, users.batch(), p2);
  CHECK((p1 - p2).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("ExplainableRbm: every recommendation carries its explanation", "[models][boltzmann][explainable]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto Ep = std::make_shared<const ExplainabilityMatrix>(ExplainabilityMatrix::from_neighbours(ds, rows, {.neighbours = 3}));
  const ExplainabilityMatrix& E = *Ep;
  const WholeRows users(ds, rows, RowSide::user);
  const ExplainableRbm<float> m(Ep, {.rbm = {.hidden = 4, .init_std = 0.3}});
  Vector<float> theta(m.num_parameters());
  Rng rng(2);
  m.initialize(theta, rng);
  const report::ItemScorer<ExplainableRbm<float>> scorer(m, theta, ds, &users);
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    std::vector<std::uint32_t> rated;
    for (const RowIndex r : ds.by_user()[u]) rated.push_back(ds.item(r));
    const auto top = report::top_n(scorer, u, ds.num_items(), rated, 3);
    REQUIRE(!top.empty());
    for (const auto& rec : top) {
      const std::string why = E.explanation(u, rec.item);
      const auto raters = static_cast<int>(std::lround(E.score(u, rec.item) * 3.0f));
      CHECK(why == (raters == 0 ? std::string("none of your 3 nearest neighbours rated this")
                                : std::to_string(raters) + " of your 3 nearest neighbours rated this"));
    }
  }
  CHECK(message_of([&] { (void)ExplainableRbm<float>(Ep, {.rbm = {.hidden = 0}}); }) ==
        "ExplainableRbm: hidden must be >= 1 (got 0)");
  CHECK(message_of([&] { (void)ExplainableRbm<float>(nullptr); }) == "ExplainableRbm: the explainability matrix is null");
}

}  // namespace unity_test_explainable_rbm
