// RBM-CF (softmax RBM) and the Bernoulli RBM: the sampler against exact enumeration (the CD-k
// direction's expectation, the exact log-likelihood gradient, the free energy, the mean-field and
// exact predictions), the direction contract (seeding, sizes, sparse = dense, bitwise identical for
// 1 and 2 threads), bad input, and first-order MAML and Reptile on tiny data.

#include "models/boltzmann/rbm_enumeration.hpp"
#include "meta/whole_row_maml.hpp"
#include "models/conformance.hpp"
#include "models/tiny_data.hpp"

#include <metarec/data/row_batch.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta.hpp>
#include <metarec/models/boltzmann/bernoulli_rbm.hpp>
#include <metarec/models/boltzmann/cf_nade.hpp>
#include <metarec/models/boltzmann/rbm_cf.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/report/item_scores.hpp>

#include <catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_rbm {

using namespace metarec;

static_assert(Model<RbmCf<float>>);
static_assert(Model<RbmCf<double>>);
static_assert(!has_exact_gradient<RbmCf<double>>);
static_assert(!HasHessianVectorProduct<RbmCf<double>>);
static_assert(HasSparseGradient<RbmCf<float>>);
static_assert(HasLocalSegments<RbmCf<float>>);
static_assert(report::HasRowScores<RbmCf<float>>);
static_assert(Model<BernoulliRbm<double>>);
static_assert(!has_exact_gradient<BernoulliRbm<float>>);
static_assert(!HasHessianVectorProduct<BernoulliRbm<float>>);
static_assert(HasSparseGradient<BernoulliRbm<double>>);
static_assert(report::HasRowScores<BernoulliRbm<float>>);

namespace {

// One user rating items 0..2 with `ratings` (and item 3 with `held_out`).
Dataset one_user(std::vector<float> ratings, float held_out = 4.0f) {
  DatasetParts p;
  p.users = IdMap::from_ids(std::vector<std::int64_t>{1});
  p.items = IdMap::from_ids(std::vector<std::int64_t>{10, 11, 12, 13});
  for (std::uint32_t i = 0; i < ratings.size(); ++i) {
    p.user.push_back(0);
    p.item.push_back(i);
    p.rating.push_back(ratings[i]);
  }
  p.user.push_back(0);
  p.item.push_back(3);
  p.rating.push_back(held_out);
  return Dataset(std::move(p));
}

// B copies of one example: B independent chains per call.
struct Copies {
  std::vector<RowExample> examples;
  RowBatch batch(const Dataset& ds, std::uint64_t seed) const {
    return RowBatch{&ds, examples, seed, RowSide::user};
  }
};

// Mean of the model's direction over `calls` batches of `copies` chains each, and the standard
// error of that mean per coordinate (from the spread of the batch means).
template <class M>
std::pair<Eigen::VectorXd, Eigen::VectorXd> direction_mean(const M& m, const Vector<double>& theta,
                                                           const Dataset& ds, const RowExample& ex,
                                                           int copies, int calls) {
  Copies c{std::vector<RowExample>(static_cast<std::size_t>(copies), ex)};
  const Eigen::Index n = m.num_parameters();
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(n), sq = Eigen::VectorXd::Zero(n);
  Vector<double> g(n);
  for (int k = 0; k < calls; ++k) {
    (void)m.loss_and_gradient(theta, c.batch(ds, 1000 + static_cast<std::uint64_t>(k)), g);
    sum += g;
    sq += g.cwiseProduct(g);
  }
  const Eigen::VectorXd mean = sum / calls;
  const Eigen::VectorXd var = (sq / calls - mean.cwiseProduct(mean)).cwiseMax(0.0) * (calls / (calls - 1.0));
  return {mean, (var / calls).cwiseSqrt()};
}

// max_i |a_i − b_i| / (se_i + floor)
double worst_z(const Eigen::VectorXd& a, const Eigen::VectorXd& b, const Eigen::VectorXd& se, double floor = 1e-4) {
  return ((a - b).cwiseAbs().array() / (se.array() + floor)).maxCoeff();
}

// The softmax RBM of `m` on the three rated items of one_user, as an enumerable energy (levels of
// items 0, 1, 2 → v = k0 + K k1 + K² k2; F hidden units).
test::EnumeratedRbm softmax_energy(const RbmCf<double>& m, const Vector<double>& theta) {
  const int K = m.levels();
  const auto F = static_cast<int>(m.num_hidden());
  const Block W = m.weights(), b = m.visible_bias(), c = m.hidden_bias();
  test::EnumeratedRbm e;
  e.visible_states = K * K * K;
  e.hidden_units = F;
  auto level = [K](int v, int j) { return j == 0 ? v % K : j == 1 ? (v / K) % K : v / (K * K); };
  e.energy = [=, &theta](int v, int h) {
    double E = 0;
    for (int f = 0; f < F; ++f)
      if ((h >> f) & 1) E -= theta[c.offset + f];
    for (int j = 0; j < 3; ++j) {
      const int k = level(v, j);
      E -= theta[b.offset + j * K + k];
      for (int f = 0; f < F; ++f)
        if ((h >> f) & 1) E -= theta[W.offset + (j * K + k) * F + f];
    }
    return E;
  };
  e.neg_energy_gradient = [=, &theta](int v, int h) {
    Eigen::VectorXd g = Eigen::VectorXd::Zero(theta.size());
    for (int f = 0; f < F; ++f)
      if ((h >> f) & 1) g[c.offset + f] = 1;
    for (int j = 0; j < 3; ++j) {
      const int k = level(v, j);
      g[b.offset + j * K + k] = 1;
      for (int f = 0; f < F; ++f)
        if ((h >> f) & 1) g[W.offset + (j * K + k) * F + f] = 1;
    }
    return g;
  };
  return e;
}

Vector<double> spread_theta(const RbmCf<double>& m, std::uint64_t seed, double scale) {
  Vector<double> theta(m.num_parameters());
  Rng rng(seed);
  m.initialize(theta, rng);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] += scale * rng.normal();
  return theta;
}

}  // namespace

TEST_CASE("RbmCf: free energy equals −log Σ_h exp(−E(v, h))", "[models][boltzmann][rbm]") {
  const Dataset ds = one_user({2, 5, 3});
  const RbmCf<double> m(4, {.hidden = 2, .levels = 5, .weight_decay = 0.0, .init_std = 1.0});
  const Vector<double> theta = spread_theta(m, 3, 0.7);
  const test::EnumeratedRbm e = softmax_energy(m, theta);
  const std::vector<RowIndex> rows{0, 1, 2};
  const RowExample ex{0, rows, rows};
  const double fe = m.free_energy(theta, RowBatch{&ds, std::span<const RowExample>(&ex, 1), 0, RowSide::user});
  const int v0 = 1 + 5 * 4 + 25 * 2;  // levels of ratings 2, 5, 3
  CHECK(fe == Approx(e.free_energy(v0)).epsilon(1e-12));
}

TEST_CASE("RbmCf: the CD-k direction's expectation is the enumerated CD-k statistic and tends to the exact gradient",
          "[models][boltzmann][rbm][sampler]") {
  const Dataset ds = one_user({2, 5, 3});
  const std::vector<RowIndex> rows{0, 1, 2};
  const RowExample ex{0, rows, rows};
  const int v0 = 1 + 5 * 4 + 25 * 2;
  const RbmCf<double> m1(4, {.hidden = 2, .cd_steps = 1, .weight_decay = 0.0, .init_std = 1.5});
  const Vector<double> theta = spread_theta(m1, 5, 1.0);
  const test::EnumeratedRbm e = softmax_energy(m1, theta);
  const Eigen::VectorXd exact = e.log_likelihood_gradient(v0);
  const Eigen::VectorXd cd1 = e.cd_expectation(v0, 1);
  // the enumerated CD-k statistic converges to the exact gradient as k grows; CD-1 is biased
  const double bias1 = (cd1 - exact).cwiseAbs().maxCoeff();
  const double bias5 = (e.cd_expectation(v0, 5) - exact).cwiseAbs().maxCoeff();
  const double bias40 = (e.cd_expectation(v0, 40) - exact).cwiseAbs().maxCoeff();
  INFO("max |CD-k expectation − exact gradient|: k=1 " << bias1 << ", k=5 " << bias5 << ", k=40 " << bias40);
  CHECK(bias1 > 0.05);
  CHECK(bias5 < bias1);
  CHECK(bias40 < 1e-3);
  // the model's direction (descent: −ascent) averaged over 40 000 chains
  {
    const auto [mean, se] = direction_mean(m1, theta, ds, ex, 2000, 20);
    INFO("CD-1: worst z against the enumerated CD-1 statistic " << worst_z(-mean, cd1, se)
         << ", against the exact gradient " << worst_z(-mean, exact, se));
    CHECK(worst_z(-mean, cd1, se) < 5.0);
    CHECK(worst_z(-mean, exact, se) > 10.0);  // the known bias of CD-1, far outside the noise
  }
  {
    const RbmCf<double> m40(4, {.hidden = 2, .cd_steps = 40, .weight_decay = 0.0, .init_std = 1.5});
    const auto [mean, se] = direction_mean(m40, theta, ds, ex, 2000, 20);
    INFO("CD-40: worst z against the exact gradient " << worst_z(-mean, exact, se));
    CHECK(worst_z(-mean, exact, se) < 5.0);
  }
}

TEST_CASE("RbmCf: mean-field and exact predictions equal their enumerated definitions", "[models][boltzmann][rbm]") {
  const Dataset ds = one_user({2, 5, 3}, 4.0f);
  const std::vector<RowIndex> in{0, 1, 2}, out{3};
  const RowExample ex{0, in, out};
  const RowBatch batch{&ds, std::span<const RowExample>(&ex, 1), 9, RowSide::user};
  for (const RbmPrediction how : {RbmPrediction::mean_field, RbmPrediction::exact}) {
    const RbmCf<double> m(4, {.hidden = 3, .init_std = 1.0, .prediction = how});
    const Vector<double> theta = spread_theta(m, 8, 0.8);
    const int K = 5, F = 3;
    const Block W = m.weights(), b = m.visible_bias(), c = m.hidden_bias();
    const int lv[3] = {1, 4, 2};
    // hidden input from the three rated items
    Eigen::VectorXd a(F);
    for (int f = 0; f < F; ++f) {
      a[f] = theta[c.offset + f];
      for (int j = 0; j < 3; ++j) a[f] += theta[W.offset + (j * K + lv[j]) * F + f];
    }
    Eigen::VectorXd p(K);
    for (int k = 0; k < K; ++k) {
      if (how == RbmPrediction::mean_field) {
        double t = theta[b.offset + 3 * K + k];
        for (int f = 0; f < F; ++f) t += theta[W.offset + (3 * K + k) * F + f] / (1 + std::exp(-a[f]));
        p[k] = std::exp(t);
      } else {  // Σ_h exp(−E(v ∪ {item 3 at level k}, h)), the observed part's factor dropped
        double z = 0;
        for (int h = 0; h < (1 << F); ++h) {
          double ne = theta[b.offset + 3 * K + k];
          for (int f = 0; f < F; ++f)
            if ((h >> f) & 1) ne += a[f] + theta[W.offset + (3 * K + k) * F + f];
          z += std::exp(ne);
        }
        p[k] = z;
      }
    }
    p /= p.sum();
    double expected = 0;
    for (int k = 0; k < K; ++k) expected += (k + 1) * p[k];
    Vector<double> pred(1);
    m.predict(theta, batch, pred);
    INFO((how == RbmPrediction::mean_field ? "mean field" : "exact"));
    CHECK(pred[0] == Approx(expected).epsilon(1e-12));
    if (how == RbmPrediction::mean_field) CHECK(m.loss(theta, batch) == Approx((expected - 4.0) * (expected - 4.0)).epsilon(1e-12));
    Matrix<double> all(4, 1);
    m.score_all(theta, batch, all);
    CHECK(all(3, 0) == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("BernoulliRbm: the CD-k direction against enumeration", "[models][boltzmann][rbm][sampler]") {
  const Dataset ds = one_user({4, 2}, 5.0f);  // items 0 (liked), 1 (not liked), 2 unrated, 3 held out
  const std::vector<RowIndex> rows{0, 1};
  const RowExample ex{0, rows, rows};
  const BernoulliRbm<double> m(4, {.hidden = 2, .cd_steps = 1, .weight_decay = 0.0, .init_std = 1.5});
  Vector<double> theta(m.num_parameters());
  Rng rng(12);
  m.initialize(theta, rng);
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] += rng.normal();
  const Block W = m.weights(), b = m.visible_bias(), c = m.hidden_bias();
  test::EnumeratedRbm e;
  e.visible_states = 16;  // bits of the four items
  e.hidden_units = 2;
  e.energy = [&](int v, int h) {
    double E = 0;
    for (int f = 0; f < 2; ++f)
      if ((h >> f) & 1) E -= theta[c.offset + f];
    for (int j = 0; j < 4; ++j)
      if ((v >> j) & 1) {
        E -= theta[b.offset + j];
        for (int f = 0; f < 2; ++f)
          if ((h >> f) & 1) E -= theta[W.offset + j * 2 + f];
      }
    return E;
  };
  e.neg_energy_gradient = [&](int v, int h) {
    Eigen::VectorXd g = Eigen::VectorXd::Zero(theta.size());
    for (int f = 0; f < 2; ++f)
      if ((h >> f) & 1) g[c.offset + f] = 1;
    for (int j = 0; j < 4; ++j)
      if ((v >> j) & 1) {
        g[b.offset + j] = 1;
        for (int f = 0; f < 2; ++f)
          if ((h >> f) & 1) g[W.offset + j * 2 + f] = 1;
      }
    return g;
  };
  const int v0 = 1;  // item 0 liked; item 1 rated below the threshold; items 2, 3 zero
  const Eigen::VectorXd exact = e.log_likelihood_gradient(v0);
  const auto [mean1, se1] = direction_mean(m, theta, ds, ex, 2000, 20);
  CHECK(worst_z(-mean1, e.cd_expectation(v0, 1), se1) < 5.0);
  CHECK(worst_z(-mean1, exact, se1) > 10.0);
  const BernoulliRbm<double> m40(4, {.hidden = 2, .cd_steps = 40, .weight_decay = 0.0});
  const auto [mean40, se40] = direction_mean(m40, theta, ds, ex, 2000, 20);
  CHECK(worst_z(-mean40, exact, se40) < 5.0);
  // free energy of the data vector from the definition, through the score of every item
  const RowBatch batch{&ds, std::span<const RowExample>(&ex, 1), 0, RowSide::user};
  Matrix<double> scores(4, 1);
  m.score_all(theta, batch, scores);
  const double a0 = theta[c.offset] + theta[W.offset + 0], a1 = theta[c.offset + 1] + theta[W.offset + 1];
  const double p0 = 1 / (1 + std::exp(-a0)), p1 = 1 / (1 + std::exp(-a1));
  const double s2 = 1 / (1 + std::exp(-(theta[b.offset + 2] + theta[W.offset + 4] * p0 + theta[W.offset + 5] * p1)));
  CHECK(scores(2, 0) == Approx(s2).epsilon(1e-12));
}

TEMPLATE_TEST_CASE("RBMs: the direction contract (seeded, sized, sparse = dense)", "[models][boltzmann][rbm]", float,
                   double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user), items(ds, rows, RowSide::item);
  // fold-in examples (conditional cases): half the rows in, half out
  std::vector<RowIndex> first, second;
  for (const RowIndex r : rows) (r % 3 ? first : second).push_back(r);
  const WholeRows fold(ds, first, second, RowSide::user);
  auto run = [](const auto& m, const WholeRows& w) {
    CHECK(test::run_direction_conformance(m, w.batch(4), w.batch(5)).checks == 4);
  };
  run(RbmCf<TestType>(ds.num_items(), {.hidden = 4, .cd_steps = 2, .init_std = 0.3}), users);
  run(RbmCf<TestType>(ds.num_users(), {.hidden = 3, .init_std = 0.3}, RowSide::item), items);
  run(RbmCf<TestType>(ds.num_items(), {.hidden = 4, .like_threshold = 3.0f, .init_std = 0.3}), users);
  run(RbmCf<TestType>(ds.num_items(), {.hidden = 4, .cd_steps = 2, .init_std = 0.3, .mean_field_negative = true}), users);
  run(RbmCf<TestType>(ds.num_items(), {.hidden = 4, .init_std = 0.3}), fold);
  run(BernoulliRbm<TestType>(ds.num_items(), {.hidden = 4, .cd_steps = 2, .init_std = 0.3}), users);
  run(BernoulliRbm<TestType>(ds.num_items(), {.hidden = 4, .init_std = 0.3}), fold);
}

TEST_CASE("RBMs: the same seed gives bitwise the same direction for 1 and 2 threads", "[models][boltzmann][rbm]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows users(ds, test::all_rows(ds), RowSide::user);
  auto directions = [&](const auto& m) {
    Vector<float> theta(m.num_parameters());
    Rng rng(2);
    m.initialize(theta, rng);
    std::vector<Vector<float>> out;
    for (const int threads : {1, 2, 1}) {
#if defined(_OPENMP)
      omp_set_num_threads(threads);
#else
      (void)threads;
#endif
      Vector<float> g(m.num_parameters());
      const float l = m.loss_and_gradient(theta, users.batch(77), g);
      CHECK(std::isfinite(l));
      out.push_back(g);
    }
    CHECK(out[0] == out[1]);
    CHECK(out[0] == out[2]);
  };
  directions(RbmCf<float>(ds.num_items(), {.hidden = 8, .cd_steps = 3, .init_std = 0.5}));
  directions(RbmCf<float>(ds.num_items(), {.hidden = 8, .cd_steps = 2, .init_std = 0.5, .mean_field_negative = true}));
  directions(BernoulliRbm<float>(ds.num_items(), {.hidden = 8, .cd_steps = 3, .init_std = 0.5}));
#if defined(_OPENMP)
  omp_set_num_threads(omp_get_num_procs());
#endif
}

TEST_CASE("RbmCf: CD-k with more steps is another direction; the biases start at the level frequencies",
          "[models][boltzmann][rbm]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows users(ds, test::all_rows(ds), RowSide::user);
  const RbmCf<double> m1(ds.num_items(), {.hidden = 4, .cd_steps = 1, .init_std = 0.5});
  const RbmCf<double> m3(ds.num_items(), {.hidden = 4, .cd_steps = 3, .init_std = 0.5});
  Vector<double> theta(m1.num_parameters()), g1(theta.size()), g3(theta.size());
  Rng rng(4);
  m1.initialize(theta, rng);
  (void)m1.loss_and_gradient(theta, users.batch(1), g1);
  (void)m3.loss_and_gradient(theta, users.batch(1), g3);
  CHECK(g1 != g3);
  // with W = 0 and the frequency biases, each item's prediction is its mean training rating
  // (add-one smoothed over the five levels)
  Vector<double> t0 = Vector<double>::Zero(theta.size());
  m1.initialize_from_data(t0, users.batch());
  const WholeRows items(ds, test::all_rows(ds), RowSide::item);
  Matrix<double> scores(ds.num_items(), 1);
  const RowExample nobody{0, {}, {}};
  m1.score_all(t0, RowBatch{&ds, std::span<const RowExample>(&nobody, 1), 0, RowSide::user}, scores);
  for (const RowExample& ex : items.examples()) {
    double sum = 15.0;  // add-one: levels 1..5 once each
    for (const RowIndex r : ex.input) sum += std::round(ds.rating(r));
    CHECK(scores(ex.entity, 0) == Approx(sum / (static_cast<double>(ex.input.size()) + 5.0)).epsilon(1e-12));
  }
}

TEST_CASE("RBMs: bad input throws std::invalid_argument naming the function and the values", "[models][boltzmann][rbm]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows users(ds, test::all_rows(ds), RowSide::user), items(ds, test::all_rows(ds), RowSide::item);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  CHECK(message([] { RbmCf<float>(5, {.hidden = 0}); }) == "RbmCf: hidden must be >= 1 (got 0)");
  CHECK(message([] { RbmCf<float>(5, {.cd_steps = 0}); }) == "RbmCf: cd_steps must be >= 1 (got 0)");
  CHECK(message([] { RbmCf<float>(5, {.levels = 1}); }) == "RbmCf: levels must be in 2..255 (got 1)");
  CHECK(message([] { BernoulliRbm<float>(0); }) == "BernoulliRbm: the rows have no columns (0 items)");
  const RbmCf<float> m(ds.num_items(), {.hidden = 3});
  Vector<float> theta(m.num_parameters()), g(m.num_parameters()), out(3);
  Rng rng(1);
  m.initialize(theta, rng);
  CHECK(message([&] { (void)m.loss(theta, items.batch()); }) ==
        "RbmCf::loss: the batch has item rows, the model was built for user rows");
  const RbmCf<float> wide(ds.num_items() + 1, {.hidden = 3});
  Vector<float> tw(wide.num_parameters()), gw(wide.num_parameters());
  CHECK(message([&] { (void)wide.loss_and_gradient(tw, users.batch(), gw); }) ==
        "RbmCf::loss_and_gradient: a row of the batch has 9 columns, the model has 10; build it for this data set");
  CHECK(message([&] { m.predict(theta, users.batch(), out); }).find("RbmCf::predict: out has 3 entries for 37") == 0);
  Matrix<float> scores(3, 3);
  CHECK(message([&] { m.score_all(theta, users.batch(), scores); }) ==
        "RbmCf::score_all: out is 3 x 3, expected 9 x 7 (columns x examples)");
}

TEMPLATE_TEST_CASE("RbmCf under first-order MAML and Reptile", "[models][boltzmann][rbm][maml]", FirstOrderMaml, Reptile) {
  const Dataset ds = test::tiny_dataset();
  const RbmCf<double> m(ds.num_items(), {.hidden = 6, .weight_decay = 0.0, .init_std = 0.3});
  Vector<double> theta0(m.num_parameters());
  Rng rng(3);
  m.initialize(theta0, rng);
  m.initialize_from_data(theta0, WholeRows(ds, test::all_rows(ds), RowSide::user).batch());
  // the inner loop takes CD steps on the support set; FOMAML's direction is the query direction at
  // θ_k (the support clamped), Reptile's θ₀ − θ_k
  test::check_meta_direction<TestType>(m, theta0, ds, MamlOptions{.inner_steps = 2, .inner_lr = 0.5});
  // meta-training runs, stays finite and changes θ, reproducibly
  const std::vector<Task> tasks = test::every_user_task(ds);
  auto train = [&] {
    Vector<double> theta = theta0;
    TaskSampler sampler(tasks, 3, 5);
    Maml<RbmCf<double>, TestType> trainer(m, MamlOptions{.inner_steps = 2, .inner_lr = 0.5, .epochs = 10},
                                          Adam<double>(AdamOptions{.lr = 0.01}));
    (void)trainer.train(theta, ds, sampler);
    return theta;
  };
  const Vector<double> a = train();
  CHECK(a.allFinite());
  CHECK(a != theta0);
  CHECK(train() == a);
}

TEST_CASE("reset_untrained (RBM-CF, CF-NADE): a new item is predicted at the pooled rating distribution's mean "
          "and moves no hidden unit", "[models][boltzmann]") {
  const Dataset ds = test::tiny_dataset();
  // Items 7 and 8 are new: no training row. The models span every column (as the registry's
  // cold-start entries do), so only the reset makes them neutral.
  std::vector<RowIndex> train, rows_new;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) (ds.item(r) >= 7 ? rows_new : train).push_back(r);
  REQUIRE(!rows_new.empty());
  const WholeRows fit(ds, train, RowSide::user);
  // By hand: the add-one smoothed level frequencies of every training rating, and their mean.
  double counts[5] = {0, 0, 0, 0, 0};
  for (const RowIndex r : train) counts[static_cast<int>(ds.rating(r)) - 1] += 1;
  double expected = 0;
  for (int k = 0; k < 5; ++k) expected += (k + 1) * (counts[k] + 1) / (static_cast<double>(train.size()) + 5);
  // Per user with a new item: one trained row h held out; A predicts h and the new items from the
  // other trained rows, B predicts h from the other trained rows AND the new items.
  std::vector<RowIndex> a_in, a_out, b_in, b_out;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    std::vector<RowIndex> old_rows, new_rows;
    for (const RowIndex r : train) if (ds.user(r) == u) old_rows.push_back(r);
    for (const RowIndex r : rows_new) if (ds.user(r) == u) new_rows.push_back(r);
    if (new_rows.empty() || old_rows.size() < 2) continue;
    a_in.insert(a_in.end(), old_rows.begin() + 1, old_rows.end());
    a_out.push_back(old_rows.front());
    a_out.insert(a_out.end(), new_rows.begin(), new_rows.end());
    b_in.insert(b_in.end(), old_rows.begin() + 1, old_rows.end());
    b_in.insert(b_in.end(), new_rows.begin(), new_rows.end());
    b_out.push_back(old_rows.front());
  }
  REQUIRE(!b_out.empty());
  for (auto* v : {&a_in, &a_out, &b_in, &b_out}) std::sort(v->begin(), v->end());
  const WholeRows A(ds, a_in, a_out, RowSide::user), B(ds, b_in, b_out, RowSide::user);
  const auto check = [&](const auto& m, std::size_t per_column, const char* what) {
    INFO(what);
    Vector<double> theta(m.num_parameters());
    Rng rng(5);
    m.initialize(theta, rng);
    theta += Vector<double>::Constant(theta.size(), 0.3);  // every parameter away from its reset value
    CHECK(m.reset_untrained(theta, fit.batch()) == 2 * per_column);
    CHECK(m.reset_untrained(theta, fit.batch()) == 0);  // idempotent
    Vector<double> pa(static_cast<Eigen::Index>(A.batch().num_targets())), pb(static_cast<Eigen::Index>(B.batch().num_targets()));
    m.predict(theta, A.batch(), pa);
    m.predict(theta, B.batch(), pb);
    Eigen::Index k = 0, kb = 0;
    std::size_t new_targets = 0;
    for (const RowExample& ex : A.batch().examples)
      for (const RowIndex r : ex.target) {
        if (ds.item(r) >= 7) {
          CHECK(pa[k] == Approx(expected).epsilon(1e-12));
          ++new_targets;
        } else {
          CHECK(pa[k] == Approx(pb[kb]).epsilon(1e-12));  // the new items in B's input change nothing
          ++kb;
        }
        ++k;
      }
    CHECK(kb == pb.size());
    CHECK(new_targets > 0);
  };
  const std::size_t F = 3, K = 5, H = 4;
  check(RbmCf<double>(ds.num_items(), {.hidden = 3}, RowSide::user), F * K + K, "RBM-CF, mean field");
  check(RbmCf<double>(ds.num_items(), {.hidden = 3, .prediction = RbmPrediction::exact}, RowSide::user), F * K + K,
        "RBM-CF, exact marginal");
  check(CfNade<double>(ds.num_items(), {.hidden = {4}}, RowSide::user), 2 * H * K + K, "CF-NADE");
  check(CfNade<double>(ds.num_items(), {.hidden = {4, 2}}, RowSide::user), H * K + 2 * K + K, "CF-NADE, two layers");
}

}  // namespace unity_test_rbm
