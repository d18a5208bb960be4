// The contract is open to whole-row models: a toy linear item-item model (whole_row_toy.hpp),
// written against the public concepts only, passes the conformance suite, trains with `fit` over
// `RowBatches`, and meta-trains with every MAML variant, predicting each task's query from its
// support set (MetaBatchTraits<RowBatch>).

#include <metarec/data/batch_source.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/trainer.hpp>

#include "meta/meta_test_support.hpp"
#include "meta/whole_row_toy.hpp"
#include "models/conformance.hpp"
#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <vector>

using namespace metarec;
using Toy = test::LinearItemItem<double>;

namespace {

Vector<double> toy_theta(const Toy& m, std::uint64_t seed = 4) {
  Vector<double> t(m.num_parameters());
  Rng rng(seed);
  m.initialize(t, rng);
  return t;
}

// One user task of the tiny data set: the first 3 rows support, the rest query.
Task task_of(const Dataset& ds, std::uint32_t u) {
  Task t;
  t.user = u;
  const auto rows = ds.by_user()[u];
  for (std::size_t k = 0; k < rows.size(); ++k) (k < 3 ? t.support : t.query).push_back(rows[k]);
  return t;
}

}  // namespace

TEST_CASE("whole rows: examples, targets and columns", "[meta][whole_rows]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user);
  REQUIRE(users.size() == ds.num_users());
  for (const RowExample& ex : users.examples()) {
    CHECK(ex.input.size() == ds.by_user().count(ex.entity));
    CHECK(ex.input.data() == ex.target.data());
  }
  const WholeRows items(ds, rows, RowSide::item);
  std::size_t with_rows = 0;
  for (std::uint32_t i = 0; i < ds.num_items(); ++i) with_rows += ds.by_item().count(i) > 0 ? 1 : 0;
  CHECK(items.size() == with_rows);
  const RowBatch b = items.batch(3);
  CHECK(b.num_targets() == ds.num_ratings());
  CHECK(b.num_columns() == ds.num_users());
  for (const RowExample& ex : b.examples)
    for (const RowIndex r : ex.input) {
      CHECK(ds.item(r) == ex.entity);
      CHECK(b.column(r) == ds.user(r));
    }
  // fold-in: input from one half, targets from the other; users without targets are not examples
  std::vector<RowIndex> first, second;
  for (const RowIndex r : rows) (r % 2 ? second : first).push_back(r);
  const WholeRows fold(ds, first, second, RowSide::user);
  for (const RowExample& ex : fold.examples()) {
    CHECK(!ex.target.empty());
    for (const RowIndex r : ex.input) CHECK(r % 2 == 0);
    for (const RowIndex r : ex.target) CHECK(r % 2 == 1);
  }
  CHECK_THROWS_AS(WholeRows(ds, std::vector<RowIndex>{9999}, RowSide::user), std::invalid_argument);
}

TEST_CASE("RowBatches: every example once per epoch, reproducible from (seed, epoch)", "[meta][whole_rows]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows users(ds, test::all_rows(ds), RowSide::user);
  RowBatches a(users, 3, 11), b(users, 3, 11), c(users, 3, 12);
  auto entities = [](RowBatches& s, std::uint64_t e) {
    s.start_epoch(e);
    std::vector<std::uint32_t> out;
    std::vector<std::uint64_t> seeds;
    for (std::size_t k = 0; k < s.num_batches(); ++k) {
      const RowBatch batch = s.batch(k);
      seeds.push_back(batch.seed);
      for (const RowExample& ex : batch.examples) out.push_back(ex.entity);
    }
    return std::make_pair(out, seeds);
  };
  const auto e0 = entities(a, 0);
  CHECK(e0.first.size() == users.size());
  std::vector<std::uint32_t> sorted = e0.first;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  (void)entities(b, 5);
  CHECK(entities(b, 0) == e0);  // epoch 0 does not depend on the epochs started before it
  CHECK(entities(c, 0).second != e0.second);
  CHECK(a.num_batches() == (users.size() + 2) / 3);
  CHECK_THROWS_AS(RowBatches(users, 0, 1), std::invalid_argument);
}

TEST_CASE("a toy whole-row model conforms (gradient and HVP)", "[meta][whole_rows]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows users(ds, test::all_rows(ds), RowSide::user);
  test::conforms(Toy(ds.num_items()), users.batch());
  const Task t = task_of(ds, 2);
  const auto tb = MetaBatchTraits<RowBatch>::make(ds, t, 1, 2);
  test::conforms(Toy(ds.num_items()), tb.query);
}

TEST_CASE("a toy whole-row model trains with fit over RowBatches", "[meta][whole_rows]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows users(ds, test::all_rows(ds), RowSide::user);
  const Toy m(ds.num_items());
  auto run = [&](std::uint64_t seed) {
    Vector<double> theta = toy_theta(m);
    RowBatches source(users, 2, seed);
    Adam<double> opt{AdamOptions{.lr = 0.05}};
    const TrainResult r = fit(m, theta, opt, source, {.epochs = 30});
    CHECK(r.epochs_run == 30);
    CHECK(r.history.back().train_loss < 0.5 * r.history.front().train_loss);
    return theta;
  };
  const Vector<double> a = run(1);
  CHECK(run(1) == a);
  CHECK(run(2) != a);
}

TEST_CASE("the query batch of a whole-row task reads the support set", "[meta][whole_rows]") {
  const Dataset ds = test::tiny_dataset();
  const Toy m(ds.num_items());
  const Vector<double> theta = toy_theta(m);
  const Task t = task_of(ds, 4);
  REQUIRE(t.query.size() >= 1);
  const auto tb = MetaBatchTraits<RowBatch>::make(ds, t, 1, 2);
  REQUIRE(tb.support.size() == 1);
  CHECK(tb.support.examples[0].input.size() == t.support.size());
  CHECK(tb.support.examples[0].target.size() == t.support.size());
  CHECK(tb.query.examples[0].input.data() == tb.support.examples[0].input.data());
  CHECK(tb.query.examples[0].target.size() == t.query.size());
  CHECK(tb.query.examples[0].entity == 4u);
  Vector<double> from_support(static_cast<Eigen::Index>(t.query.size()));
  m.predict(theta, tb.query, from_support);
  const RowExample blind{4, {}, t.query};
  Vector<double> without(static_cast<Eigen::Index>(t.query.size()));
  m.predict(theta, RowBatch{&ds, std::span<const RowExample>(&blind, 1), 0, RowSide::user}, without);
  CHECK((from_support - without).cwiseAbs().maxCoeff() > 1e-3);
}

TEMPLATE_TEST_CASE("every MAML variant meta-trains the toy whole-row model", "[meta][whole_rows]",
                   SecondOrderMaml, FirstOrderMaml, Reptile, MetaSgd) {
  const Dataset ds = test::tiny_dataset();
  const Toy m(ds.num_items());
  const Vector<double> theta0 = toy_theta(m);
  const Task t = task_of(ds, 6);
  const auto tb = MetaBatchTraits<RowBatch>::make(ds, t, 1, 2);
  const MamlOptions options{.inner_steps = 2, .inner_lr = 0.1};
  Maml<Toy, TestType> maml(m, options, Adam<double>(AdamOptions{.lr = 0.02}));
  Vector<double> g(m.num_parameters());
  const double lq = maml.meta_gradient(theta0, tb.support, tb.query, g);
  const AdaptOptions ao = maml.adapt_options();
  const Vector<double> theta_k = adapt(m, theta0, tb.support, ao);
  CHECK(lq == Approx(static_cast<double>(m.loss(theta_k, tb.query))).epsilon(1e-12));
  if constexpr (std::is_same_v<TestType, SecondOrderMaml> || std::is_same_v<TestType, MetaSgd>) {
    const auto f = [&](const Vector<double>& x) {
      return static_cast<double>(m.loss(adapt(m, x, tb.support, ao), tb.query));
    };
    const auto r = test::check_against_differences(f, theta0, g);
    INFO("worst scaled error " << r.worst << ", largest |derivative| " << r.largest);
    CHECK(r.worst <= 1.0);
    CHECK(r.largest > 1e-3);
  } else if constexpr (std::is_same_v<TestType, FirstOrderMaml>) {
    Vector<double> gq(m.num_parameters());
    (void)m.loss_and_gradient(theta_k, tb.query, gq);
    CHECK((g - gq).cwiseAbs().maxCoeff() <= 1e-12);
  } else {
    CHECK((g - (theta0 - theta_k)).cwiseAbs().maxCoeff() <= 1e-12);
  }
  // Meta-training on the users' tasks lowers what the algorithm descends: the mean adapted query
  // loss for the MAML variants; for Reptile (whose direction θ₀ − θ_k pulls θ towards each task's
  // support-adapted parameters, not towards the query) the support loss before adaptation.
  std::vector<Task> tasks;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) tasks.push_back(task_of(ds, u));
  Vector<double> theta = theta0;
  struct Trace {
    std::vector<double> support;
    void on_step(const MamlStepInfo& i) { support.push_back(i.support_loss); }
  } trace;
  const double before = maml.validation_loss(theta, ds, tasks);
  TaskSampler sampler(tasks, 3, 5);
  Maml<Toy, TestType> trainer(m, MamlOptions{.inner_steps = 2, .inner_lr = 0.1, .epochs = 40},
                              Adam<double>(AdamOptions{.lr = 0.005}));
  (void)trainer.train(theta, ds, sampler, trace);
  const double after = trainer.validation_loss(theta, ds, tasks);
  INFO(TestType::name << ": adapted query loss " << before << " -> " << after);
  REQUIRE(trace.support.size() >= 6);
  const auto n = trace.support.size();
  const double first = trace.support[0] + trace.support[1] + trace.support[2];
  const double last = trace.support[n - 1] + trace.support[n - 2] + trace.support[n - 3];
  INFO("support loss before adaptation, first three steps " << first << ", last three " << last);
  if constexpr (std::is_same_v<TestType, Reptile>)
    CHECK(last < first);
  else
    CHECK(after < before);
}
