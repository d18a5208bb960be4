#pragma once
// MAML checks shared by the whole-row models' tests (the toy item-item model, CF-NADE, the RBM):
// the tasks of a small data set, each algorithm's meta-direction against its definition (second
// order: against central differences of the adapted query loss), and meta-training that lowers what
// the algorithm descends.

#include <metarec/data/row_batch.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta.hpp>

#include "meta/meta_test_support.hpp"

#include <catch.hpp>

#include <type_traits>
#include <vector>

namespace metarec::test {

/// User u's task: the first `support` of their rows support, the rest query.
inline Task first_rows_task(const Dataset& ds, std::uint32_t u, std::size_t support = 3) {
  Task t;
  t.user = u;
  const auto rows = ds.by_user()[u];
  for (std::size_t k = 0; k < rows.size(); ++k) (k < support ? t.support : t.query).push_back(rows[k]);
  return t;
}

/// Every user's task (first_rows_task).
inline std::vector<Task> every_user_task(const Dataset& ds) {
  std::vector<Task> tasks;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) tasks.push_back(first_rows_task(ds, u));
  return tasks;
}

/// Algorithm A's meta-direction on user 6's task equals its definition: second-order MAML and
/// Meta-SGD the derivative of the adapted query loss (central differences), first-order MAML the
/// query gradient (or direction) at θ_k, Reptile θ₀ − θ_k; the returned query loss is L_q(θ_k).
template <class A, class M>
void check_meta_direction(const M& m, const Vector<double>& theta0, const Dataset& ds, const MamlOptions& options) {
  const Task t = first_rows_task(ds, 6);
  const auto tb = MetaBatchTraits<RowBatch>::make(ds, t, 1, 2);
  Maml<M, A> maml(m, options, Adam<double>(AdamOptions{.lr = 0.02}));
  Vector<double> g(m.num_parameters());
  const double lq = maml.meta_gradient(theta0, tb.support, tb.query, g);
  const AdaptOptions ao = maml.adapt_options();
  const Vector<double> theta_k = adapt(m, theta0, tb.support, ao);
  CHECK(theta_k != theta0);
  CHECK(lq == Approx(static_cast<double>(m.loss(theta_k, tb.query))).epsilon(1e-12));
  if constexpr (std::is_same_v<A, SecondOrderMaml> || std::is_same_v<A, MetaSgd>) {
    const auto f = [&](const Vector<double>& x) {
      return static_cast<double>(m.loss(adapt(m, x, tb.support, ao), tb.query));
    };
    const auto r = check_against_differences(f, theta0, g);
    INFO("worst scaled error " << r.worst << ", largest |derivative| " << r.largest);
    CHECK(r.worst <= 1.0);
    CHECK(r.largest > 1e-3);
  } else if constexpr (std::is_same_v<A, FirstOrderMaml>) {
    Vector<double> gq(m.num_parameters());
    (void)m.loss_and_gradient(theta_k, tb.query, gq);
    CHECK((g - gq).cwiseAbs().maxCoeff() <= 1e-12);
  } else {
    CHECK((g - (theta0 - theta_k)).cwiseAbs().maxCoeff() <= 1e-12);
  }
}

/// Meta-training on every user's task lowers what A descends: the mean adapted query loss for the
/// MAML variants; for Reptile (whose direction θ₀ − θ_k pulls θ towards each task's support-adapted
/// parameters, not towards the query) the support loss before adaptation.
template <class A, class M>
void check_meta_training(const M& m, const Vector<double>& theta0, const Dataset& ds, MamlOptions options,
                         double outer_lr) {
  const std::vector<Task> tasks = every_user_task(ds);
  Vector<double> theta = theta0;
  struct Trace {
    std::vector<double> support;
    void on_step(const MamlStepInfo& i) { support.push_back(i.support_loss); }
  } trace;
  Maml<M, A> trainer(m, options, Adam<double>(AdamOptions{.lr = outer_lr}));
  const double before = trainer.validation_loss(theta, ds, tasks);
  TaskSampler sampler(tasks, 3, 5);
  (void)trainer.train(theta, ds, sampler, trace);
  const double after = trainer.validation_loss(theta, ds, tasks);
  INFO(A::name << ": adapted query loss " << before << " -> " << after);
  REQUIRE(trace.support.size() >= 6);
  const auto n = trace.support.size();
  const double first = trace.support[0] + trace.support[1] + trace.support[2];
  const double last = trace.support[n - 1] + trace.support[n - 2] + trace.support[n - 3];
  INFO("support loss before adaptation, first three steps " << first << ", last three " << last);
  if constexpr (std::is_same_v<A, Reptile>)
    CHECK(last < first);
  else
    CHECK(after < before);
}

}  // namespace metarec::test
