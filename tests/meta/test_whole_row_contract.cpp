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
#include "meta/whole_row_maml.hpp"
#include "meta/whole_row_toy.hpp"
#include "models/conformance.hpp"
#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <vector>

using namespace metarec;
using Toy = test::LinearItemItem<double>;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_whole_row_contract {

namespace {

Vector<double> toy_theta(const Toy& m, std::uint64_t seed = 4) {
  Vector<double> t(m.num_parameters());
  Rng rng(seed);
  m.initialize(t, rng);
  return t;
}

Task task_of(const Dataset& ds, std::uint32_t u) { return test::first_rows_task(ds, u); }

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
  test::check_meta_direction<TestType>(m, theta0, ds, MamlOptions{.inner_steps = 2, .inner_lr = 0.1});
  test::check_meta_training<TestType>(m, theta0, ds, MamlOptions{.inner_steps = 2, .inner_lr = 0.1, .epochs = 40},
                                      0.005);
}

}  // namespace unity_test_whole_row_contract
