// SVD++ (SvdppMF): conformance, the prediction formula with training-only implicit sets, the
// generic per-rating step, and the whole-epoch delayed-implicit SGD against a plain reference.
#include "no_malloc.hpp"  // first: makes Eigen's malloc check live in every build type
#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/train/fused_sgd.hpp>
#include <metarec/data/split.hpp>
#include <metarec/data/synthetic.hpp>
#include <metarec/models/mf/svdpp.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/validation.hpp>
#include <metarec/train/trainer.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_mf_svdpp {

static_assert(Model<SvdppMF<float>> && Model<SvdppMF<double>>);
static_assert(HasSparseGradient<SvdppMF<float>> && HasSparseHessianVectorProduct<SvdppMF<double>>);
static_assert(HasLocalSegments<SvdppMF<float>>);
static_assert(HasSgdUpdate<SvdppMF<float>> && HasSgdUpdateRows<SvdppMF<double>>);
static_assert(has_exact_gradient<SvdppMF<double>>);

namespace {

// The implicit rows: every tiny row but rows 4, 9, 14, ..., so the batch has rows outside N(u).
std::vector<RowIndex> implicit_rows(const Dataset& ds) {
  std::vector<RowIndex> rows;
  for (const RowIndex r : test::all_rows(ds))
    if (r % 5 != 4) rows.push_back(r);
  return rows;
}

}  // namespace

TEMPLATE_TEST_CASE("SvdppMF conforms", "[models][svdpp]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto imp = implicit_rows(ds);
  const SvdppMF<TestType> model(ds, imp, {.dims = 3, .reg = 0.05, .bias_reg = 0.03, .implicit_reg = 0.07,
                                          .init_std = 0.1, .global_mean = ds.mean_rating()});
  CHECK(model.num_parameters() == 3 * (ds.num_users() + 2 * ds.num_items()) + ds.num_users() + ds.num_items());
  test::conforms(model, RatingBatch{&ds, rows});
}

TEST_CASE("SvdppMF: N(u) from the training rows only; prediction formula; local segments", "[models][svdpp]") {
  const Dataset ds = test::tiny_dataset();
  const auto imp = implicit_rows(ds);
  const SvdppMF<double> model(ds, imp, {.dims = 2, .global_mean = 3.5});
  // N(u) is exactly the items of u's implicit rows
  std::map<std::uint32_t, std::set<std::uint32_t>> expected;
  for (const RowIndex r : imp) expected[ds.user(r)].insert(ds.item(r));
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    const auto n = model.implicit_items(u);
    CHECK(std::set<std::uint32_t>(n.begin(), n.end()) == expected[u]);
  }
  Vector<double> theta(model.num_parameters());
  Rng rng(1);
  model.initialize(theta, rng);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] += 0.1 * rng.normal();
  const auto& L = model.layout().blocks();  // P, Q, Y, bu, bi
  const RowIndex r = 9;                     // a held-out row: its item is not in N(u)
  const auto u = ds.user(r), i = ds.item(r);
  REQUIRE(expected[u].count(i) == 0);
  REQUIRE(!expected[u].empty());
  Eigen::Vector2d z(theta[L[0].offset + 2 * u], theta[L[0].offset + 2 * u + 1]);
  Eigen::Vector2d ysum = Eigen::Vector2d::Zero();
  for (const auto j : expected[u]) ysum += Eigen::Vector2d(theta[L[2].offset + 2 * j], theta[L[2].offset + 2 * j + 1]);
  z += ysum / std::sqrt(static_cast<double>(expected[u].size()));
  const Eigen::Vector2d q(theta[L[1].offset + 2 * i], theta[L[1].offset + 2 * i + 1]);
  const double want = 3.5 + theta[L[3].offset + u] + theta[L[4].offset + i] + z.dot(q);
  Vector<double> out(1);
  const RowIndex one[] = {r};
  model.predict(theta, RatingBatch{&ds, one}, out);
  CHECK(out[0] == Approx(want).epsilon(1e-12));
  // many rows in one call give the same predictions as one row at a time
  const auto all = test::all_rows(ds);
  Vector<double> many(static_cast<Eigen::Index>(all.size()));
  model.predict(theta, RatingBatch{&ds, all}, many);
  for (std::size_t k = 0; k < all.size(); ++k) {
    model.predict(theta, RatingBatch{&ds, std::span<const RowIndex>(&all[k], 1)}, out);
    CHECK(many[static_cast<Eigen::Index>(k)] == Approx(out[0]).epsilon(1e-12));
  }
  std::vector<Segment> local;
  model.local_segments(RatingBatch{&ds, ds.by_user()[u]}, local);
  REQUIRE(local.size() == 2);
  CHECK(local[0] == Segment{L[0].offset + 2 * u, 2});
  CHECK(local[1] == Segment{L[3].offset + u, 1});
  CHECK_THROWS_AS(model.predict(theta, RatingBatch{&ds, all}, out), std::invalid_argument);
  const std::vector<RowIndex> bad{static_cast<RowIndex>(ds.num_ratings())};
  CHECK_THROWS_AS(SvdppMF<double>(ds, bad), std::invalid_argument);
  CHECK_THROWS_AS(SvdppMF<double>(ds, imp, {.dims = 0}), std::invalid_argument);
}

TEMPLATE_TEST_CASE("SvdppMF: sgd_update equals loss_and_gradient + Sgd::step on one rating", "[models][svdpp]",
                   float, double) {
  using S = TestType;
  const Dataset ds = test::tiny_dataset();
  const SvdppMF<S> model(ds, implicit_rows(ds), {.dims = 5, .init_std = 0.3, .global_mean = 3.0});
  Vector<S> theta(model.num_parameters());
  Rng rng(4);
  model.initialize(theta, rng);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] += static_cast<S>(0.1 * rng.normal());
  const double tol = std::is_same_v<S, float> ? 1e-6 : 1e-14;
  for (const RowIndex r : {RowIndex{0}, RowIndex{12}, RowIndex{35}}) {
    Vector<S> a = theta, b = theta, g(theta.size());
    const RowIndex one[] = {r};
    const S l1 = model.loss_and_gradient(a, RatingBatch{&ds, one}, g);
    Sgd<S> sgd{{.lr = 0.05}};
    sgd.reset(theta.size());
    sgd.step(a, g);
    const S l2 = model.sgd_update(b, ds, r, S(0.05));
    CHECK(l1 == Approx(l2).epsilon(tol));
    CHECK((a - b).cwiseAbs().maxCoeff() <= tol);
    CHECK((a - theta).cwiseAbs().maxCoeff() > 0);
  }
}

namespace {

// A plain reference of the whole-epoch delayed-implicit SGD (½e² convention written out
// separately, doubles throughout): users in order of first appearance, each user's rows in the
// given order; per rating p, q, b from their old values; at the end of the visit one y step.
void reference_epoch(const Dataset& ds, const std::vector<RowIndex>& imp, const std::vector<RowIndex>& rows,
                     int k, double mu, double lr, double reg, double breg, double yreg, double yscale,
                     Eigen::MatrixXd& P, Eigen::MatrixXd& Q, Eigen::MatrixXd& Y, Eigen::VectorXd& bu,
                     Eigen::VectorXd& bi) {
  std::map<std::uint32_t, std::set<std::uint32_t>> N;
  for (const RowIndex r : imp) N[ds.user(r)].insert(ds.item(r));
  std::vector<std::uint32_t> users;
  std::map<std::uint32_t, std::vector<RowIndex>> by_user;
  for (const RowIndex r : rows) {
    if (by_user[ds.user(r)].empty()) users.push_back(ds.user(r));
    by_user[ds.user(r)].push_back(r);
  }
  const double eta = 2 * lr, eta_y = eta * yscale;
  for (const auto u : users) {
    Eigen::VectorXd ys = Eigen::VectorXd::Zero(k);
    const double nrm = N[u].empty() ? 0.0 : 1.0 / std::sqrt(static_cast<double>(N[u].size()));
    for (const auto j : N[u]) ys += Y.col(j);
    ys *= nrm;
    Eigen::VectorXd acc = Eigen::VectorXd::Zero(k);
    for (const RowIndex r : by_user[u]) {
      const auto i = ds.item(r);
      const Eigen::VectorXd p = P.col(u), q = Q.col(i);
      const double err = ds.rating(r) - (mu + bu[u] + bi[i] + (p + ys).dot(q));
      acc += err * q;
      P.col(u) = p + eta * (err * q - reg * p);
      Q.col(i) = q + eta * (err * (p + ys) - reg * q);
      bu[u] += eta * (err - breg * bu[u]);
      bi[i] += eta * (err - breg * bi[i]);
    }
    for (const auto j : N[u]) Y.col(j) += eta_y * (nrm * acc - yreg * Y.col(j));
  }
}

}  // namespace

TEST_CASE("SvdppMF: sgd_update_rows is the delayed-implicit SGD of a plain reference", "[models][svdpp]") {
  SyntheticOptions so;
  so.users = 60;
  so.items = 50;
  so.min_ratings_per_user = 5;
  so.max_ratings_per_user = 30;
  so.seed = 5;
  const Dataset ds = make_synthetic(so).dataset;
  const Split s = random_ratio_split(ds, {.train = 0.8, .valid = 0.2, .test = 0.0}, 3);
  const int k = 6;
  const double mu = ds.mean_rating(s.train), lr = 0.01, reg = 0.05, breg = 0.02, yreg = 0.04, yscale = 0.3;
  const SvdppMF<double> model(ds, s.train, {.dims = k, .reg = reg, .bias_reg = breg, .implicit_reg = yreg,
                                            .implicit_lr_scale = yscale, .init_std = 0.1, .global_mean = mu});
  Vector<double> theta(model.num_parameters());
  Rng rng(8);
  model.initialize(theta, rng);
  for (Eigen::Index j = 0; j < theta.size(); ++j) theta[j] += 0.05 * rng.normal();  // y and biases too
  const auto& L = model.layout().blocks();
  Eigen::MatrixXd P = L[0].map(ConstVectorRef<double>(theta)), Q = L[1].map(ConstVectorRef<double>(theta)),
                  Y = L[2].map(ConstVectorRef<double>(theta));
  Eigen::VectorXd bu = L[3].map(ConstVectorRef<double>(theta)).row(0).transpose(),
                  bi = L[4].map(ConstVectorRef<double>(theta)).row(0).transpose();
  std::vector<RowIndex> order = s.train;
  double loss_sum = 0.0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    Rng shuffle(derive_seed(1, static_cast<std::uint64_t>(epoch)));
    shuffle.shuffle(std::span<RowIndex>(order));
    reference_epoch(ds, s.train, order, k, mu, lr, reg, breg, yreg, yscale, P, Q, Y, bu, bi);
    CHECK(model.sgd_update_rows(theta, ds, order, lr, loss_sum) == order.size());
  }
  const ConstVectorRef<double> t(theta);
  CHECK((L[0].map(t) - P).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((L[1].map(t) - Q).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((L[2].map(t) - Y).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((L[3].map(t).row(0).transpose() - bu).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((L[4].map(t).row(0).transpose() - bi).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(Y.cwiseAbs().maxCoeff() > 0.0);
  CHECK(std::isfinite(loss_sum));
  CHECK(loss_sum > 0.0);

  // a non-finite rating stops the loop at that rating's position, θ not updated by it
  Vector<double> bad = theta;
  const RowIndex r0 = order[3];
  bad[L[3].offset + ds.user(r0)] = std::numeric_limits<double>::infinity();
  double sum2 = 0.0;
  const std::size_t done = model.sgd_update_rows(bad, ds, order, lr, sum2);
  CHECK(done < order.size());
  CHECK(ds.user(order[done]) == ds.user(r0));
}

TEST_CASE("SvdppMF: fit's whole-epoch path lowers the validation RMSE", "[models][svdpp]") {
  const Dataset ds = make_synthetic(SyntheticOptions{.users = 300, .items = 200, .max_ratings_per_user = 150, .seed = 11}).dataset;
  const Split s = random_ratio_split(ds, {.train = 0.9, .valid = 0.1, .test = 0.0}, 2);
  const SvdppMF<float> model(ds, s.train, {.dims = 16, .global_mean = ds.mean_rating(s.train)});
  Vector<float> theta(model.num_parameters());
  Rng rng(3);
  model.initialize(theta, rng);
  const double before = rating_errors(model, theta, ds, s.valid).rmse;
  Sgd<float> sgd{{.lr = 0.01}};
  const auto res = fit(model, theta, sgd, ds, s.train,
                       {.epochs = 15, .batch_size = 1, .seed = 1, .patience = 3, .lr_decay = 0.95},
                       RmseOn{model, ds, s.valid});
  const double after = rating_errors(model, theta, ds, s.valid).rmse;
  INFO("valid RMSE " << before << " -> " << after);
  CHECK(after < before - 0.05);
  CHECK(sgd.lr() == 0.01);  // restored after the decay
  CHECK(model.implicit_items(ds.user(s.valid[0])).size() > 0);
  CHECK(res.history.size() >= 3);
}

TEST_CASE("SvdppMF: the per-rating steps do not allocate", "[models][svdpp]") {
  // This target is built with EIGEN_RUNTIME_NO_MALLOC: an Eigen allocation below would abort.
  const Dataset ds = test::tiny_dataset();
  const SvdppMF<float> model(ds, implicit_rows(ds), {.dims = 8, .global_mean = 3.0});
  Vector<float> theta(model.num_parameters());
  Rng rng(2);
  model.initialize(theta, rng);
  double sum = 0.0;
  {
    const test::MallocForbidden forbidden;
    for (RowIndex r = 0; r < 10; ++r) sum += static_cast<double>(model.sgd_update(theta, ds, r, 0.01f));
  }
  CHECK(std::isfinite(sum));
}

TEMPLATE_TEST_CASE("SvdppMF: gradient and HVP reject wrong sizes",
                   "[models][svdpp]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SvdppMF<TestType> m(ds, implicit_rows(ds), {.dims = 3});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows}, "SvdppMF");
}

TEST_CASE("SvdppMF: a progress callback observes fit's whole-epoch SGD and changes nothing", "[models][svdpp]") {
  const Dataset ds = make_synthetic(SyntheticOptions{.users = 80, .items = 60, .max_ratings_per_user = 40, .seed = 4}).dataset;
  const auto rows = test::all_rows(ds);
  const SvdppMF<float> model(ds, rows, {.dims = 8, .global_mean = ds.mean_rating()});
  Vector<float> start(model.num_parameters());
  Rng rng(2);
  model.initialize(start, rng);
  const TrainOptions o{.epochs = 3, .batch_size = 1, .seed = 6};
  struct Steps {  // a progress bar's hook: it only counts
    std::size_t calls = 0;
    double sum = 0;
    void on_batch_end(const BatchInfo& b) { ++calls, sum += b.loss; }
  };
  Vector<float> plain = start, observed = start;
  Sgd<float> oa{SgdOptions{.lr = 0.01}}, ob{SgdOptions{.lr = 0.01}};
  const TrainResult a = fit(model, plain, oa, ds, rows, o);
  Steps steps;
  const TrainResult b = fit(model, observed, ob, ds, rows, o, NoValidation{}, steps);
  CHECK(plain == observed);  // bitwise: the callback chose no other update path
  CHECK(a.final_train_loss == b.final_train_loss);
  CHECK(steps.calls == 3 * rows.size());
  CHECK(steps.sum > 0);
  // A callback that stops after 10 steps ends training there (θ moved by those steps only).
  struct StopAt {
    std::size_t n = 0;
    bool on_batch_end(const BatchInfo&) { return ++n >= 10; }
  } stop;
  Vector<float> stopped = start;
  Sgd<float> oc{SgdOptions{.lr = 0.01}};
  const TrainResult c = fit(model, stopped, oc, ds, rows, o, NoValidation{}, stop);
  CHECK(c.stopped_by_callback);
  CHECK(c.epochs_run == 1);
  CHECK(stop.n == 10);
  CHECK(stopped != start);
  CHECK(stopped != plain);
}

}  // namespace unity_test_mf_svdpp
