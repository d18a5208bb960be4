// CF-NADE: the conformance suite (exact gradient and Hessian-vector product against finite
// differences, sparse = dense) in float and double, one and two hidden layers, user and item
// cases, training and conditional cases; the ordinal cost and the prediction against hand
// computations; bitwise identical for 1 and 2 threads; bad input; every MAML variant.

#include "meta/whole_row_maml.hpp"
#include "models/conformance.hpp"
#include "models/tiny_data.hpp"

#include <metarec/data/row_batch.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta.hpp>
#include <metarec/models/boltzmann/cf_nade.hpp>
#include <metarec/report/item_scores.hpp>

#include <catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_cf_nade {

using namespace metarec;

static_assert(Model<CfNade<float>>);
static_assert(has_exact_gradient<CfNade<double>>);
static_assert(HasSparseHessianVectorProduct<CfNade<float>>);
static_assert(HasSparseHessianVectorProduct<CfNade<double>>);
static_assert(HasLocalSegments<CfNade<double>>);
static_assert(report::HasRowScores<CfNade<float>>);

TEMPLATE_TEST_CASE("CfNade conforms (one and two layers, users and items, training and conditional cases)",
                   "[models][boltzmann][nade]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user), items(ds, rows, RowSide::item);
  std::vector<RowIndex> first, second;
  for (const RowIndex r : rows) (r % 3 ? first : second).push_back(r);
  const WholeRows fold(ds, first, second, RowSide::user);
  test::conforms(CfNade<TestType>(ds.num_items(), {.hidden = {5}, .ordinal_weight = 1.0}, RowSide::user), users.batch(3));
  test::conforms(CfNade<TestType>(ds.num_items(), {.hidden = {4, 3}, .ordinal_weight = 0.6, .reg = 0.05}, RowSide::user),
                 users.batch(4));
  test::conforms(CfNade<TestType>(ds.num_users(), {.hidden = {4}, .ordinal_weight = 0.0, .reg = 0.02}, RowSide::item),
                 items.batch(5));
  test::conforms(CfNade<TestType>(ds.num_items(), {.hidden = {3, 4}, .ordinal_weight = 0.5, .reg = 0.01}, RowSide::user),
                 fold.batch(6));
}

TEST_CASE("CfNade: the ordinal and regular costs and the prediction by hand", "[models][boltzmann][nade]") {
  const Dataset ds = test::tiny_dataset();
  // a conditional case with no input: h = tanh(c) = 0, so s_k = Σ_{l≤k} b_j[l]
  const RowIndex row = 0;
  const std::uint32_t j = ds.item(row);
  const int r = static_cast<int>(std::lround(ds.rating(row))) - 1;
  const RowExample ex{ds.user(row), {}, std::span<const RowIndex>(&row, 1)};
  const RowBatch batch{&ds, std::span<const RowExample>(&ex, 1), 0, RowSide::user};
  for (const double lambda : {0.0, 0.3, 1.0}) {
    const CfNade<double> m(ds.num_items(), {.hidden = {3}, .ordinal_weight = lambda});
    Vector<double> theta(m.num_parameters());
    Rng rng(2);
    m.initialize(theta, rng);
    const Block b = m.layout().blocks().back();  // output biases, K × columns
    const double bj[5] = {0.3, -0.2, 0.5, 0.1, -0.4};
    for (int k = 0; k < 5; ++k) theta[b.offset + j * 5 + k] = bj[k];
    double s[5], acc = 0;
    for (int k = 0; k < 5; ++k) s[k] = acc += bj[k];
    auto lse = [&](int lo, int hi) {
      double z = 0;
      for (int k = lo; k <= hi; ++k) z += std::exp(s[k]);
      return std::log(z);
    };
    double ord = 0;
    for (int k = 0; k <= r; ++k) ord += lse(0, k) - s[k];
    for (int k = r; k < 5; ++k) ord += lse(k, 4) - s[k];
    const double reg = lse(0, 4) - s[r];
    INFO("lambda " << lambda << ", level " << r);
    CHECK(m.loss(theta, batch) == Approx((1 - lambda) * reg + lambda * ord).epsilon(1e-12));
    Vector<double> pred(1);
    m.predict(theta, batch, pred);
    double z = 0, e = 0;
    for (int k = 0; k < 5; ++k) {
      z += std::exp(s[k]);
      e += (k + 1) * std::exp(s[k]);
    }
    CHECK(pred[0] == Approx(e / z).epsilon(1e-12));
  }
}

TEST_CASE("CfNade: training cases draw their ordering from the seed; threads do not change a bit",
          "[models][boltzmann][nade]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows items(ds, test::all_rows(ds), RowSide::item);
  const CfNade<float> m(ds.num_users(), {.hidden = {6, 5}, .reg = 0.01}, RowSide::item);
  Vector<float> theta(m.num_parameters());
  Rng rng(3);
  m.initialize(theta, rng);
  m.initialize_from_data(theta, items.batch());
  CHECK(m.loss(theta, items.batch(1)) != m.loss(theta, items.batch(2)));
  std::vector<Vector<float>> g;
  for (const int threads : {1, 2}) {
#if defined(_OPENMP)
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    Vector<float> x(m.num_parameters());
    (void)m.loss_and_gradient(theta, items.batch(1), x);
    g.push_back(x);
  }
#if defined(_OPENMP)
  omp_set_num_threads(omp_get_num_procs());
#endif
  CHECK(g[0] == g[1]);
}

TEST_CASE("CfNade: the output biases start at the columns' level frequencies", "[models][boltzmann][nade]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user), items(ds, rows, RowSide::item);
  const CfNade<double> m(ds.num_items(), {.hidden = {3}, .init_scale = 0.0}, RowSide::user);
  Vector<double> theta(m.num_parameters());
  Rng rng(1);
  m.initialize(theta, rng);
  m.initialize_from_data(theta, users.batch());
  Matrix<double> scores(ds.num_items(), 1);
  const RowExample nobody{0, {}, {}};
  m.score_all(theta, RowBatch{&ds, std::span<const RowExample>(&nobody, 1), 0, RowSide::user}, scores);
  for (const RowExample& ex : items.examples()) {
    double sum = 15.0;
    for (const RowIndex r : ex.input) sum += std::round(ds.rating(r));
    CHECK(scores(ex.entity, 0) == Approx(sum / (static_cast<double>(ex.input.size()) + 5.0)).epsilon(1e-12));
  }
}

TEST_CASE("CfNade: bad input throws std::invalid_argument naming the function and the values", "[models][boltzmann][nade]") {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  CHECK(message([] { CfNade<float>(5, {.hidden = {}}); }) == "CfNade: hidden must list one or two layer sizes (got 0)");
  CHECK(message([] { CfNade<float>(5, {.hidden = {4, 0}}); }) == "CfNade: hidden layer sizes must be >= 1 (got 0)");
  CHECK(message([] { CfNade<float>(5, {.ordinal_weight = 1.5}); }) ==
        "CfNade: ordinal_weight must be in [0, 1] (got 1.500000)");
  const Dataset ds = test::tiny_dataset();
  const WholeRows users(ds, test::all_rows(ds), RowSide::user);
  const CfNade<float> m(ds.num_users(), {.hidden = {3}}, RowSide::item);
  Vector<float> theta(m.num_parameters()), g(m.num_parameters());
  CHECK(message([&] { (void)m.loss_and_gradient(theta, users.batch(), g); }) ==
        "CfNade::loss_and_gradient: the batch has user rows, the model was built for item rows");
  Vector<float> v(m.num_parameters() + 1), hv(m.num_parameters());
  CHECK(message([&] { m.hessian_vector_product(theta, users.batch(), v, hv); })
            .find("CfNade::hessian_vector_product (v): vector has") == 0);
}

TEMPLATE_TEST_CASE("every MAML variant meta-trains CF-NADE", "[models][boltzmann][nade][maml]", SecondOrderMaml,
                   FirstOrderMaml, Reptile, MetaSgd) {
  const Dataset ds = test::tiny_dataset();
  const CfNade<double> m(ds.num_items(), {.hidden = {4}, .ordinal_weight = 0.5, .reg = 0.01}, RowSide::user);
  Vector<double> theta0(m.num_parameters());
  Rng rng(4);
  m.initialize(theta0, rng);
  test::check_meta_direction<TestType>(m, theta0, ds, MamlOptions{.inner_steps = 2, .inner_lr = 0.1});
  test::check_meta_training<TestType>(m, theta0, ds, MamlOptions{.inner_steps = 2, .inner_lr = 0.1, .epochs = 30}, 0.01);
}

}  // namespace unity_test_cf_nade
