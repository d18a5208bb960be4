#pragma once
/// @file task_scores.hpp
/// @brief Cold-start reports: adapt θ to each task's support set, predict its query
/// (`predict_tasks`), and score the predictions (`score_tasks`: MAE, RMSE, MeLU's nDCG@1/@3).
/// Works for every batch type with a `MetaBatchTraits` (meta/meta_batch.hpp): a rating model
/// predicts the query rows; a whole-row model predicts them from the support set.

#include <metarec/core/concepts.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta/adapt.hpp>
#include <metarec/meta/meta_batch.hpp>
#include <metarec/metrics/full_ranking.hpp>
#include <metarec/metrics/regression.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <span>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec::report {

/// Every task's query rows (task after task) and the model's prediction for each, after adapting θ
/// to the task's support set; `offset[t]` is where task t's rows start. Predictions are the
/// model's own (unclipped).
struct TaskPredictions {
  std::vector<RowIndex> rows;
  std::vector<float> score;
  std::vector<std::size_t> offset;  ///< tasks + 1 entries
};

/// Query metrics of a set of tasks after adaptation.
struct QueryMetrics {
  double mae = 0, rmse = 0, ndcg1 = 0, ndcg3 = 0;
  std::size_t tasks = 0, rows = 0;
};

/// Adapts θ to every task's support set with `ao` (and Meta-SGD's α when not null) and predicts
/// its query (see the file comment). Parallel over tasks (OpenMP); the result does not depend on
/// the thread count. With `ao.steps == 0` θ is used as it is.
/// @throws whatever the model throws, for the lowest task index that threw.
template <Model M>
TaskPredictions predict_tasks(const M& model, const Vector<typename M::Scalar>& theta,
                              const Dataset& ds, std::span<const Task> tasks, const AdaptOptions& ao,
                              const Vector<typename M::Scalar>* alpha = nullptr) {
  using S = typename M::Scalar;
  TaskPredictions out;
  out.offset.assign(tasks.size() + 1, 0);
  for (std::size_t t = 0; t < tasks.size(); ++t) out.offset[t + 1] = out.offset[t] + tasks[t].query.size();
  out.rows.resize(out.offset.back());
  out.score.resize(out.offset.back());
  std::vector<std::exception_ptr> errors(tasks.size());
  const auto n_tasks = static_cast<std::ptrdiff_t>(tasks.size());
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 4)
#endif
  for (std::ptrdiff_t t = 0; t < n_tasks; ++t) {
    try {
      const Task& task = tasks[static_cast<std::size_t>(t)];
      const auto tb = MetaBatchTraits<typename M::Batch>::make(ds, task, 0, 0);
      const Vector<S> adapted = ao.steps > 0 ? metarec::adapt(model, theta, tb.support, ao, alpha) : theta;
      Vector<S> p(static_cast<Eigen::Index>(task.query.size()));
      model.predict(adapted, tb.query, p);
      for (std::size_t k = 0; k < task.query.size(); ++k) {
        const std::size_t at = out.offset[static_cast<std::size_t>(t)] + k;
        out.rows[at] = task.query[k];
        out.score[at] = static_cast<float>(p[static_cast<Eigen::Index>(k)]);
      }
    } catch (...) {
      errors[static_cast<std::size_t>(t)] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

/// Scores query predictions: MAE and RMSE over all query rows (predictions clipped to the rating
/// scale, as every rating predictor is used), MeLU's nDCG@1/@3 (gain 2^r − 1) averaged over users,
/// ranking by the model's score itself (clipping would tie every item predicted above the scale's
/// top and leave their order to the item index).
inline QueryMetrics score_tasks(const Dataset& ds, const TaskPredictions& p) {
  QueryMetrics q;
  q.tasks = p.offset.empty() ? 0 : p.offset.size() - 1;
  q.rows = p.rows.size();
  if (p.rows.empty()) return q;
  std::vector<float> pred(p.rows.size()), truth(p.rows.size());
  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    pred[i] = std::clamp(p.score[i], ds.scale().min, ds.scale().max);
    truth[i] = ds.rating(p.rows[i]);
  }
  q.mae = metrics::mae(std::span<const float>(truth), std::span<const float>(pred));
  q.rmse = metrics::rmse(std::span<const float>(truth), std::span<const float>(pred));
  const std::vector<std::size_t> ks{1, 3};
  const auto nd = metrics::evaluate_query_ndcg(ds, p.rows, p.score, ks);
  q.ndcg1 = nd.mean[0];
  q.ndcg3 = nd.mean[1];
  return q;
}

/// `predict_tasks` then `score_tasks`.
template <Model M>
QueryMetrics adapt_and_score(const M& model, const Vector<typename M::Scalar>& theta,
                             const Dataset& ds, std::span<const Task> tasks, const AdaptOptions& ao,
                             const Vector<typename M::Scalar>* alpha = nullptr) {
  return score_tasks(ds, predict_tasks(model, theta, ds, tasks, ao, alpha));
}

}  // namespace metarec::report
