// The autoencoder family under fit and every MAML variant, on the tiny data set: each model trains
// with fit over RowBatches (reproducibly), and each variant's meta-gradient is what it claims —
// second-order MAML and Meta-SGD against central differences of the adapted query loss (exact H·v),
// first-order MAML the query gradient at θ_k, Reptile θ₀ − θ_k — with the model's local segments
// adapted (and, once, every parameter).

#include <metarec/data/batch_source.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta.hpp>
#include <metarec/models/autoencoder.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/train/trainer.hpp>

#include "meta/meta_test_support.hpp"
#include "models/autoencoder/ae_test_support.hpp"

#include <catch.hpp>

#include <tuple>
#include <type_traits>

using namespace metarec;

namespace {

Task task_of(const Dataset& ds, std::uint32_t u) {
  Task t;
  t.user = u;
  const auto rows = ds.by_user()[u];
  for (std::size_t k = 0; k < rows.size(); ++k) (k < 3 ? t.support : t.query).push_back(rows[k]);
  return t;
}

// One small instance of each model (double), in a tuple so a test runs them all.
auto models(const Dataset& ds, const std::vector<RowIndex>& rows) {
  return std::make_tuple(
      AutoRec<double>(ds, {.side = RowSide::user, .hidden = 3, .reg = 0.1}, rows),
      DeepRec<double>(ds, {.encoder = {3, 2}, .dropout = 0.2}, rows),
      Cdae<double>(ds, {.hidden = 3, .corruption = 0.2, .negatives = 1}),
      MultVae<double>(ds, {.hidden = {3}, .latent = 2, .dropout = 0.2, .beta = 0.2}),
      MultVae<double>(ds, {.variational = false, .hidden = {3}, .latent = 2, .dropout = 0.2}),
      Svae<double>(ds, {.embedding = 3, .rnn = 3, .hidden = 3, .latent = 2, .next_k = 2}),
      Ease<double>(ds, {.reg = 2.0}, rows));
}

template <class M>
AdaptedSet adapted_set() {
  if constexpr (HasLocalSegments<M>) return AdaptedSet::local;
  return AdaptedSet::all;
}

template <class Algorithm, class M>
void check_meta_gradient(const M& m, const Dataset& ds) {
  INFO(M::model_name << " under " << Algorithm::name);
  const Vector<double> theta0 = test::theta_of(m, 4);
  const Task t = task_of(ds, 6);
  const auto tb = MetaBatchTraits<RowBatch>::make(ds, t, 1, 2);
  const MamlOptions options{.inner_steps = 2, .inner_lr = 0.1, .adapted = adapted_set<M>()};
  Maml<M, Algorithm> maml(m, options, Adam<double>(AdamOptions{.lr = 0.02}));
  Vector<double> g(m.num_parameters());
  const double lq = maml.meta_gradient(theta0, tb.support, tb.query, g);
  const AdaptOptions ao = maml.adapt_options();
  const Vector<double> theta_k = adapt(m, theta0, tb.support, ao);
  CHECK(lq == Approx(static_cast<double>(m.loss(theta_k, tb.query))).epsilon(1e-12));
  CHECK((theta_k - theta0).norm() > 0);
  if constexpr (std::is_same_v<Algorithm, SecondOrderMaml> || std::is_same_v<Algorithm, MetaSgd>) {
    const auto f = [&](const Vector<double>& x) {
      return static_cast<double>(m.loss(adapt(m, x, tb.support, ao), tb.query));
    };
    const auto r = test::check_against_differences(f, theta0, g);
    INFO("worst scaled error " << r.worst << ", largest |derivative| " << r.largest);
    CHECK(r.worst <= 1.0);
    CHECK(r.largest > 1e-3);
  } else if constexpr (std::is_same_v<Algorithm, FirstOrderMaml>) {
    Vector<double> gq(m.num_parameters());
    (void)m.loss_and_gradient(theta_k, tb.query, gq);
    CHECK((g - gq).cwiseAbs().maxCoeff() <= 1e-12);
  } else {
    CHECK((g - (theta0 - theta_k)).cwiseAbs().maxCoeff() <= 1e-12);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("every autoencoder meta-trains under every MAML variant", "[models][autoencoder][meta]",
                   SecondOrderMaml, FirstOrderMaml, Reptile, MetaSgd) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  std::apply([&](const auto&... m) { (check_meta_gradient<TestType>(m, ds), ...); }, models(ds, rows));
}

TEST_CASE("second-order MAML adapting every parameter of an autoencoder", "[models][autoencoder][meta]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const Cdae<double> m(ds, {.hidden = 3, .corruption = 0.2, .negatives = 1});
  const Vector<double> theta0 = test::theta_of(m, 4);
  const Task task = task_of(ds, 3);  // the batches point into it
  const auto tb = MetaBatchTraits<RowBatch>::make(ds, task, 1, 2);
  Maml<Cdae<double>, SecondOrderMaml> maml(m, {.inner_steps = 1, .inner_lr = 0.2});
  Vector<double> g(m.num_parameters());
  (void)maml.meta_gradient(theta0, tb.support, tb.query, g);
  const AdaptOptions ao = maml.adapt_options();
  const auto r = test::check_against_differences(
      [&](const Vector<double>& x) { return static_cast<double>(m.loss(adapt(m, x, tb.support, ao), tb.query)); },
      theta0, g);
  CHECK(r.worst <= 1.0);
}

TEST_CASE("every autoencoder trains with fit over RowBatches, reproducibly", "[models][autoencoder][meta]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user);
  std::apply(
      [&](const auto&... m) {
        auto run = [&](const auto& model, std::uint64_t seed) {
          INFO(std::remove_cvref_t<decltype(model)>::model_name);
          Vector<double> theta = test::theta_of(model, 1);
          RowBatches source(users, 3, seed);
          Adam<double> opt{AdamOptions{.lr = 0.05}};
          const TrainResult r = fit(model, theta, opt, source, {.epochs = 25});
          CHECK(r.history.back().train_loss < r.history.front().train_loss);
          return theta;
        };
        auto same = [&](const auto& model) {
          const Vector<double> a = run(model, 7);
          CHECK(run(model, 7) == a);
          CHECK(run(model, 8) != a);
        };
        (same(m), ...);
      },
      models(ds, rows));
}

#ifdef METAREC_HAS_OPENMP
#include <metarec/data/synthetic.hpp>
#include <omp.h>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_ae_meta {

TEST_CASE("autoencoders: the same numbers on one and on two threads", "[models][autoencoder]") {
  // Large enough for the parallel paths (examples, hidden-row slices) to run.
  const Dataset ds = make_synthetic({.users = 200, .items = 150, .min_ratings_per_user = 20,
                                     .max_ratings_per_user = 80}).dataset;
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user);
  const RowBatch b = users.batch(9);
  const int before = omp_get_max_threads();
  auto check = [&](const auto& m) {
    INFO(std::remove_cvref_t<decltype(m)>::model_name);
    const auto theta = test::theta_of(m, 2);
    auto run = [&](int threads) {
      omp_set_num_threads(threads);
      Vector<float> g(m.num_parameters());
      const float l = m.loss_and_gradient(theta, b, g);
      Matrix<float> s(ds.num_items(), static_cast<Eigen::Index>(b.size()));
      m.score_all(theta, b, s);
      return std::make_tuple(l, g, s);
    };
    const auto one = run(1), two = run(2);
    CHECK(std::get<0>(one) == std::get<0>(two));
    CHECK(std::get<1>(one) == std::get<1>(two));
    CHECK(std::get<2>(one) == std::get<2>(two));
  };
  check(AutoRec<float>(ds, {.side = RowSide::user, .hidden = 128, .reg = 1.0}, rows));
  check(Cdae<float>(ds, {.hidden = 128, .negatives = 2}));
  check(MultVae<float>(ds, {.hidden = {64}, .latent = 16}));
  check(Svae<float>(ds, {.embedding = 32, .rnn = 48, .hidden = 32, .latent = 16}));
  omp_set_num_threads(before);
}
#endif

}  // namespace unity_test_ae_meta
