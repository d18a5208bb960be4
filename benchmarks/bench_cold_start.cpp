// Cold-start benchmark on ML-1M with the MeLU protocols (docs/protocols.md): for each base model
// (mf-bias and mf-side with a shared, adapted user vector p0; MeLU with adapted decision layers),
// a global model without adaptation, the global model fine-tuned on each test user's support set,
// and four meta-learners (first-order MAML, second-order MAML, Reptile, Meta-SGD), scored on the
// query sets of the four scenarios (MAE, RMSE, nDCG@1, nDCG@3) with the meta-training seconds.
// Also: query MAE against the support size K (user-cold, MAML vs fine-tuning), and the cost per
// task of second- and first-order MAML on the MeLU-sized model with 1 and 2 threads. For mf-bias
// and mf-side: the model trained with a vector per user and folded to the mean user, and an
// item-cold row where each (existing) test user adapts from their own trained vector instead;
// for mf-bias also meta-learners from the folded model and a TRANSDUCTIVE row for item-cold and
// user-item-cold (the new items' factors fitted on every test user's support ratings before any
// query is answered). Settings of these rows on validation analogues (see the code).
//
// Hyperparameters are chosen on VALIDATION tasks only: 10% of the warm (meta-training) users,
// seeded, are held out; the global models are fitted on the other warm users' ratings, every
// meta-learner is trained on the other warm tasks for each point of a small grid (inner step x
// outer step) with early stopping on the validation query loss, and the grid point with the
// lowest validation MAE is kept; the fine-tuning step of the global model is chosen the same way.
// The test scenarios are scored once, with the chosen settings.
//
//   bench_cold_start [--data DIR] [--quick] [--models mf-bias,mf-side,melu] [--md FILE]
//                    [--out FILE.csv] [--svg FILE.svg] [--svg-topn FILE.svg] [--threads T] [--seed S]
//                    [--skip-timing] [--timing-only] [--timing-repeats R] [--keep-untrained]
//                    [--model-option NAME=VALUE[:NAME=VALUE...]]  (e.g. hidden=100 for the whole-row models)
//                    [--fold-option NAME=VALUE[:...]]  (the per-user MF of mf-bias / mf-side: dims, reg, init-std)
//                    [--own-option NAME=VALUE[:...]]  (the item-cold own-vector row's per-user MF, on top of it;
//                                                      mf-side: item-reg, item-bias-reg)
//
// Also reported: MAE / RMSE after each method's MAE-optimal (median) calibration fitted on the
// validation tasks, model-free baselines (the user's support mean / median, popularity ranking)
// and a reference MF trained on every rating except the test query rows.
//
// Parameters no training rating touches (new items' factors, the release years of new items,
// unseen zip prefixes) are set to 0 in the global model (`--keep-untrained`: leave their random
// initial values).
// Exits 0 with a message when ML-1M is absent.

#include "bench_common.hpp"

#include <metarec/data/movielens.hpp>
#include <metarec/data/new_user.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/command_line.hpp>
#include <metarec/registry/all_models.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/recommend.hpp>
#include <metarec/report/item_scores.hpp>
#include <metarec/report/task_scores.hpp>

#include <metarec/metrics/median_calibration.hpp>
#include <metarec/metrics/ranking.hpp>
#include <metarec/models/mf/shared_user.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <numeric>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

using namespace metarec;
using namespace metarec::registry;
using report::predict_tasks;
using report::QueryMetrics;
using report::TaskPredictions;

namespace {

using metarec::bench::compiler;
using metarec::bench::cpu_model;
using metarec::bench::thread_cpu_seconds;

/// A base model of the benchmark: its registry entry, its meta-learning settings (the registry's,
/// with the values tuned here), the loop they give, and whether it is an MF model.
struct Setup {
  const ModelEntry* entry = nullptr;
  Settings settings;
  MetaConfig c;
  bool mf = false;
  bool melu = false;
  int global_epochs = 0;  ///< epochs of the global (non-meta) model every meta-learner starts from
};

/// The tuned setting of each base model (see docs/benchmarks.md).
Setup model_config(const Registry& reg, const std::string& model, bool quick, std::uint64_t seed,
                   const Settings& model_options = {}) {
  Setup st;
  st.entry = &reg.find(model);
  st.mf = model == "mf-bias" || model == "mf-side";
  st.melu = model == "melu";
  if (!st.entry->meta)
    throw std::invalid_argument("--models: '" + model + "' is not meta-trainable (metarec models lists those that are)");
  Settings user{{"inner-steps", "5"}, {"adapt", "local"}};
  if (!st.mf && !st.melu) {
    // The autoencoder and Boltzmann families (whole-row models): the registry's model settings
    // (its melu-* recipe's where it has one, e.g. autorec-u's 100 hidden units), the step grid
    // of `meta_grid`, 5 epochs of the global model, at most 3 meta-epochs (patience 1).
    user.set("pretrain-epochs", quick ? "1" : "5");
    user.set("epochs", quick ? "1" : "3");
    user.set("patience", "1");
  } else if (quick) {
    user.set("pretrain-epochs", st.mf ? "3" : "1");
    user.set("epochs", "1");
  }
  // mf-bias, mf-side, melu: the registry's melu-* recipe (what `metarec meta-train` runs with no
  // flags), whose steps are this benchmark's validation choice for second-order MAML: dims 16,
  // reg 0.01, init std 0.01 (items never rated in training keep factors near 0), at most 10
  // meta-epochs with patience 2 from 20 global epochs (MF); MeLU 32-d embeddings into 64-64, at
  // most 3 meta-epochs with patience 1 from 2 global epochs. From the global MeLU a large inner
  // step diverged (0.05: user-cold MAE 1.13); from a random initialisation (0.05, outer 1e-3)
  // MeLU reached a better item-cold MAE (0.886) but a worse user-cold one (0.80).
  // --model-option NAME=VALUE: given to every model that has option NAME (e.g. hidden=100);
  // MODEL.NAME=VALUE: to that model only (e.g. cf-nade-u.hidden=100).
  for (const auto& [key, v] : model_options.values()) {
    std::string k = key;
    if (const auto dot = k.find('.'); dot != std::string::npos) {
      if (k.substr(0, dot) != model) continue;
      k = k.substr(dot + 1);
    }
    if (std::any_of(st.entry->meta.options.begin(), st.entry->meta.options.end(),
                    [&](const OptionSpec& o) { return o.name == k; }))
      user.set(k, v);
  }
  st.settings = resolve_meta_settings(*st.entry, "melu-user-cold", user);
  st.c = MetaConfig::from(st.settings, seed);
  st.global_epochs = st.c.pretrain_epochs;
  return st;
}

/// The grids searched on the validation tasks: meta-learners' (inner step, outer step), and the
/// fine-tuning step of the global model.
std::vector<std::pair<double, double>> meta_grid(const Setup& st, bool quick) {
  if (quick) return {{st.c.inner_lr, st.c.outer_lr}};
  std::vector<std::pair<double, double>> g;
  if (!st.mf && !st.melu) {
    // The meta options' default steps and a 3x larger inner step. Not the recipe's: a recipe
    // holds this grid's choice, and a grid built around it would move with every run.
    auto option_default = [&](const char* name) {
      for (const OptionSpec& o : st.entry->meta.options)
        if (o.name == name) return std::stod(o.default_value);
      throw std::logic_error(std::string("meta_grid: no option ") + name);
    };
    const double inner = option_default("inner-lr"), outer = option_default("outer-lr");
    g.push_back({inner, outer});
    g.push_back({3 * inner, outer});
    return g;
  }
  const std::vector<double> inner = st.mf ? std::vector<double>{0.2, 0.5, 1.0}
                                          : std::vector<double>{0.01, 0.02};
  const std::vector<double> outer = st.mf ? std::vector<double>{0.001, 0.003}
                                          : std::vector<double>{0.0003, 0.001};
  for (const double a : inner)
    for (const double b : outer) g.push_back({a, b});
  return g;
}
std::vector<double> finetune_grid(const Setup& st) {
  if (st.mf) return {0.1, 0.2, 0.5, 1.0, 2.0};
  if (st.melu) return {0.003, 0.01, 0.03, 0.1};
  return {0.03, 0.1, 0.3, 1.0};
}

/// nDCG@k as the MeLU re-implementation in TensorFlow computes it (an unofficial convention; the
/// official MeLU code has no nDCG): the k items with the highest TRUE ratings, each with gain
/// 2^r − 1 discounted by log2(1 + its rank in the PREDICTED order of all the user's query items),
/// over the ideal DCG. Ties: by position in the query list (stable sorts). Mean over users.
double ndcg_melu_variant(const std::vector<float>& truth, const std::vector<float>& pred,
                         const std::vector<std::size_t>& offset, std::size_t k) {
  double total = 0;
  std::size_t users = 0;
  std::vector<std::size_t> by_truth, by_pred, rank;
  for (std::size_t t = 0; t + 1 < offset.size(); ++t) {
    const std::size_t a = offset[t], n = offset[t + 1] - a;
    if (n == 0) continue;
    by_truth.resize(n), by_pred.resize(n), rank.resize(n);
    for (std::size_t j = 0; j < n; ++j) by_truth[j] = by_pred[j] = j;
    std::stable_sort(by_truth.begin(), by_truth.end(),
                     [&](std::size_t x, std::size_t y) { return truth[a + x] > truth[a + y]; });
    std::stable_sort(by_pred.begin(), by_pred.end(),
                     [&](std::size_t x, std::size_t y) { return pred[a + x] > pred[a + y]; });
    for (std::size_t j = 0; j < n; ++j) rank[by_pred[j]] = j;
    double dcg = 0, idcg = 0;
    for (std::size_t j = 0; j < std::min(k, n); ++j) {
      const double gain = std::pow(2.0, static_cast<double>(truth[a + by_truth[j]])) - 1.0;
      idcg += gain / std::log2(static_cast<double>(j) + 2.0);
      dcg += gain / std::log2(static_cast<double>(rank[by_truth[j]]) + 2.0);
    }
    if (idcg > 0) total += dcg / idcg, ++users;
  }
  return users ? total / static_cast<double>(users) : 0.0;
}

struct Result {
  std::string model, method, scenario;
  QueryMetrics q;
  double seconds = 0;  ///< meta-training (or global training) seconds
  double ndcg3_variant = 0;  ///< nDCG@3, the TensorFlow MeLU re-implementation's convention
  double mae_cal = 0, rmse_cal = 0;  ///< with the MAE-optimal calibration fitted on validation
};

/// The true rating of every predicted row.
std::vector<float> truth_of(const Dataset& ds, const TaskPredictions& p) {
  std::vector<float> t(p.rows.size());
  for (std::size_t i = 0; i < p.rows.size(); ++i) t[i] = ds.rating(p.rows[i]);
  return t;
}

/// The MAE-optimal monotone map from a method's (clipped) prediction to a rating, fitted on its
/// predictions for the validation tasks.
metrics::MedianCalibration fit_calibration(const TaskPredictions& v, const Dataset& ds) {
  std::vector<float> clipped(v.score.size());
  for (std::size_t i = 0; i < v.score.size(); ++i)
    clipped[i] = std::clamp(v.score[i], ds.scale().min, ds.scale().max);
  const std::vector<float> truth = truth_of(ds, v);
  return metrics::MedianCalibration::fit(std::span<const float>(truth), std::span<const float>(clipped));
}

/// `report::adapt_and_score` plus the variant nDCG@3 and the calibrated MAE / RMSE, from one adaptation
/// per task.
Result score_predictions(const std::string& model_name, const std::string& method, const std::string& scenario,
                         const TaskPredictions& tp, const Dataset& ds, double seconds,
                         const metrics::MedianCalibration& cal) {
  Result r{model_name, method, scenario, report::score_tasks(ds, tp), seconds, 0, 0, 0};
  const std::vector<float> truth = truth_of(ds, tp);
  r.ndcg3_variant = ndcg_melu_variant(truth, tp.score, tp.offset, 3);  // ranked unclipped
  std::vector<float> calibrated(tp.score.size());
  for (std::size_t i = 0; i < tp.score.size(); ++i)
    calibrated[i] = static_cast<float>(cal(std::clamp(tp.score[i], ds.scale().min, ds.scale().max)));
  r.mae_cal = metrics::mae(std::span<const float>(truth), std::span<const float>(calibrated));
  r.rmse_cal = metrics::rmse(std::span<const float>(truth), std::span<const float>(calibrated));
  return r;
}

/// `score_predictions` of the model's predictions after adapting θ to each task.
Result score(const std::string& model_name, const std::string& method, const std::string& scenario,
             const MetaModel& model, const Vector<float>& theta, const Dataset& ds,
             const std::vector<Task>& tasks, const AdaptOptions& ao, double seconds,
             const metrics::MedianCalibration& cal, const Vector<float>* alpha = nullptr) {
  return score_predictions(model_name, method, scenario, model.predict_tasks(theta, alpha, tasks, ao), ds, seconds, cal);
}

/// A CSV field (RFC 4180): quoted, with inner quotes doubled, when it holds a comma, quote or newline
/// ("global, no adaptation").
std::string csv_field(const std::string& f) {
  if (f.find_first_of(",\"\n") == std::string::npos) return f;
  std::string q = "\"";
  for (const char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + '"';
}

/// Model-free baselines on a scenario's test tasks: every query rating predicted by the mean, or
/// the median, of the user's support ratings (MAE, RMSE).
struct Baseline {
  double mean_mae = 0, mean_rmse = 0, median_mae = 0, median_rmse = 0;
};
Baseline support_baselines(const Dataset& ds, const std::vector<Task>& tasks) {
  std::vector<double> truth, by_mean, by_median, r;
  for (const Task& t : tasks) {
    if (t.support.empty()) continue;
    r.clear();
    for (const RowIndex x : t.support) r.push_back(ds.rating(x));
    double mean = 0;
    for (const double x : r) mean += x;
    mean /= static_cast<double>(r.size());
    std::sort(r.begin(), r.end());
    const std::size_t h = r.size() / 2;
    const double median = r.size() % 2 ? r[h] : 0.5 * (r[h - 1] + r[h]);
    for (const RowIndex x : t.query)
      truth.push_back(ds.rating(x)), by_mean.push_back(mean), by_median.push_back(median);
  }
  return {metrics::mae(truth, by_mean), metrics::rmse(truth, by_mean), metrics::mae(truth, by_median),
          metrics::rmse(truth, by_median)};
}

/// nDCG@1 / @3 of a fixed score per query row (metrics::evaluate_query_ndcg).
std::pair<double, double> ndcg_of(const Dataset& ds, const std::vector<Task>& tasks,
                                  const std::vector<float>& item_score) {
  std::vector<RowIndex> rows;
  std::vector<float> score;
  for (const Task& t : tasks)
    for (const RowIndex x : t.query) rows.push_back(x), score.push_back(item_score[ds.item(x)]);
  const std::vector<std::size_t> ks{1, 3};
  const auto nd = metrics::evaluate_query_ndcg(ds, rows, score, ks);
  return {nd.mean[0], nd.mean[1]};
}

/// Tasks of `tasks` with at least `min_support` support rows, each support cut to a seeded random
/// subset of K rows.
std::vector<Task> with_support(const std::vector<Task>& tasks, std::size_t k, std::size_t min_support,
                               std::uint64_t seed) {
  std::vector<Task> out;
  for (const Task& t : tasks) {
    if (t.support.size() < min_support) continue;
    Task c = t;
    Rng rng(derive_seed(seed, 0x4B53484Fu, t.user));  // same subset order for every K
    rng.shuffle(std::span<RowIndex>(c.support));
    c.support.resize(k);
    std::sort(c.support.begin(), c.support.end());
    out.push_back(std::move(c));
  }
  return out;
}

/// Chooses the fine-tuning step of the global model on the validation tasks.
std::pair<double, double> pick_finetune_lr(const MetaModel& model, const Vector<float>& theta,
                                           const Dataset& ds, const std::vector<Task>& validation,
                                           const Setup& st) {
  double best = st.c.inner_lr, best_mae = std::numeric_limits<double>::infinity();
  for (const double lr : finetune_grid(st)) {
    AdaptOptions ao = st.c.adapt_options();
    ao.lr = lr;
    const double mae = report::score_tasks(ds, model.predict_tasks(theta, nullptr, validation, ao)).mae;
    if (std::isfinite(mae) && mae < best_mae) best_mae = mae, best = lr;
  }
  return {best, best_mae};
}

void set_threads(int t) {
#if defined(_OPENMP)
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

struct Cost {
  double wall_ms = 0;  ///< wall milliseconds per task
  double cpu_ms = 0;   ///< CPU milliseconds per task of the calling thread (all the work with 1 thread)
};

/// Cost per task of meta-training (outer steps over 32-task meta-batches of the warm tasks).
Cost ms_per_task(const MetaModel& model, const std::string& algo, const std::vector<Task>& tasks,
                 int threads, std::size_t n_tasks) {
  set_threads(threads);
  const auto [wall, cpu] = model.ms_per_task(algo, tasks, n_tasks);
  return {wall, cpu};
}

/// Biased MF at bench_mf's ML-1M setting (128 dims, reg 0.05), a row per user.
MatrixFactorization<float> mf128(const Dataset& ds, double mean) {
  return MatrixFactorization<float>(ds.num_users(), ds.num_items(),
                                    {.dims = 128, .reg = 0.05, .bias_reg = 0.05, .global_mean = mean});
}

/// Fits `mf` on `rows` by per-rating SGD at 0.005 (order from `seed`) from its initialisation
/// drawn with `init_seed`; returns the seconds.
double fit_mf128(const MatrixFactorization<float>& mf, Vector<float>& theta, const Dataset& ds,
                 std::span<const RowIndex> rows, std::uint64_t init_seed, std::uint64_t seed, int epochs) {
  theta.resize(mf.num_parameters());
  Rng rng(init_seed);
  mf.initialize(theta, rng);
  Sgd<float> opt{SgdOptions{.lr = 0.005}};
  return fit(mf, theta, opt, ds, rows, TrainOptions{.epochs = epochs, .batch_size = 1, .seed = seed}).seconds;
}

/// The method label of biased MF trained with a row per user, folded for new users.
const std::string kFoldLabel = "per-user MF (metarec train), mean user + fine-tuning";
/// ... and meta-trained from there: kFoldMetaPrefix + the algorithm's label.
const std::string kFoldMetaPrefix = "per-user MF, mean user, then ";

/// The method label of existing users adapted from their own trained vectors (item-cold).
const std::string kOwnUserLabel = "per-user MF, each existing user from their own vector + fine-tuning";

/// The method label of §4's transductive mode (item-cold and user-item-cold scenarios).
const std::string kTransductiveLabel =
    "per-user MF, TRANSDUCTIVE: new items (and users) fitted on all test users' support sets";

/// A block of an MF layout by name ("user_factors", "item_factors", "user_bias", "item_bias").
Block block_named(const ParameterLayout& lay, const std::string& name) {
  for (std::size_t b = 0; b < lay.names().size(); ++b)
    if (lay.names()[b] == name) return lay.blocks()[b];
  throw std::logic_error("bench_cold_start: the MF layout has no block '" + name + "'");
}

/// §4, new items learned from what arrives at test time. From `trained` (per-user biased MF, `per`)
/// and `folded` (the same model with its users folded into their mean, layout `shared`): every
/// user of `tasks` starts as the mean user, every item of `is_new` at 0 (factors and bias), and
/// `epochs` of per-rating SGD at `lr` run over the SUPPORT rows of all `tasks` (never a query
/// row); the users' and new items' parameters move, no other item is touched (a support row of a
/// new-item scenario has a new item). Returns the folded θ with the new items' columns from that
/// fit; `joint` (when not null) gets the per-user θ of the fit itself.
Vector<float> transduce(const MatrixFactorization<float>& per, const Vector<float>& trained,
                        const ParameterLayout& shared, const Vector<float>& folded, const Dataset& ds,
                        const std::vector<char>& is_new, std::span<const Task> tasks, int epochs, double lr,
                        std::uint64_t seed, Vector<float>* joint = nullptr) {
  Vector<float> th = trained;
  const ParameterLayout& lay = per.layout();
  const Block P = block_named(lay, "user_factors"), Q = block_named(lay, "item_factors");
  const Block bu = block_named(lay, "user_bias"), bi = block_named(lay, "item_bias");
  const Block P0 = block_named(shared, "user_factors"), bu0 = block_named(shared, "user_bias");
  const Block Qs = block_named(shared, "item_factors"), bis = block_named(shared, "item_bias");
  std::vector<RowIndex> pool;
  for (const Task& t : tasks) {
    pool.insert(pool.end(), t.support.begin(), t.support.end());
    const auto u = static_cast<Eigen::Index>(t.user);
    th.segment(P.column(u).offset, P.rows) = folded.segment(P0.offset, P0.rows);
    th[bu.offset + u] = folded[bu0.offset];
  }
  for (Eigen::Index i = 0; i < Q.cols; ++i)
    if (is_new[static_cast<std::size_t>(i)]) th.segment(Q.column(i).offset, Q.rows).setZero(), th[bi.offset + i] = 0.0f;
  if (epochs > 0 && !pool.empty()) {
    Sgd<float> opt{SgdOptions{.lr = lr}};
    (void)fit(per, th, opt, ds, pool, TrainOptions{.epochs = epochs, .batch_size = 1, .seed = seed});
  }
  Vector<float> out = folded;
  for (Eigen::Index i = 0; i < Q.cols; ++i)
    if (is_new[static_cast<std::size_t>(i)]) {
      out.segment(Qs.column(i).offset, Qs.rows) = th.segment(Q.column(i).offset, Q.rows);
      out[bis.offset + i] = th[bi.offset + i];
    }
  if (joint) *joint = std::move(th);
  return out;
}

/// A validation analogue of the new-item scenarios: a seeded 25% of the items rated in `warm_rows`
/// play the new items (`pseudo`); `rows` is `warm_rows` without their ratings; `is_new` marks the
/// items no warm row rates (the scenarios' new items).
struct NewItemAnalogue {
  std::vector<char> pseudo, is_new;
  std::vector<RowIndex> rows;
};
NewItemAnalogue new_item_analogue(const Dataset& ds, std::span<const RowIndex> warm_rows, std::uint64_t seed) {
  NewItemAnalogue a;
  std::vector<char> seen(ds.num_items(), 0);
  a.pseudo.assign(ds.num_items(), 0);
  a.is_new.assign(ds.num_items(), 0);
  for (const RowIndex r : warm_rows) seen[ds.item(r)] = 1;
  for (std::uint32_t i = 0; i < ds.num_items(); ++i) a.is_new[i] = seen[i] ? 0 : 1;
  Rng rng(derive_seed(seed, 0x54524E56u));  // "TRNV"
  for (std::uint32_t i = 0; i < ds.num_items(); ++i)
    if (seen[i] && rng.uniform() < 0.25) a.pseudo[i] = 1;
  for (const RowIndex r : warm_rows)
    if (!a.pseudo[ds.item(r)]) a.rows.push_back(r);
  return a;
}

/// Item-cold validation tasks for EXISTING users: the meta-training users' ratings (in
/// `warm_rows`) of the analogue's pseudo-new items, MeLU's rule (13 to 100 of them, the last 10
/// of a seeded shuffle the query, the rest the support); at most `cap` users, seeded. Their other
/// ratings stay in `a.rows`, so a per-user model refitted on `a.rows` knows them and not these items.
std::vector<Task> own_user_validation_tasks(const Dataset& ds, const NewItemAnalogue& a,
                                            std::span<const RowIndex> warm_rows, std::span<const Task> users,
                                            std::size_t cap, std::uint64_t seed) {
  std::vector<std::vector<RowIndex>> by_user(ds.num_users());
  for (const RowIndex r : warm_rows)
    if (a.pseudo[ds.item(r)]) by_user[ds.user(r)].push_back(r);
  std::vector<std::uint32_t> order;
  for (const Task& t : users) order.push_back(t.user);
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  Rng rng(derive_seed(seed, 0x4F574E55u));  // "OWNU"
  rng.shuffle(std::span<std::uint32_t>(order));
  std::vector<Task> out;
  for (const std::uint32_t u : order) {
    std::vector<RowIndex> mine = by_user[u];
    if (mine.size() < 13 || mine.size() > 100) continue;
    std::sort(mine.begin(), mine.end());
    rng.shuffle(std::span<RowIndex>(mine));
    const auto q = static_cast<std::ptrdiff_t>(mine.size() - 10);
    out.push_back(Task{u, {mine.begin(), mine.begin() + q}, {mine.begin() + q, mine.end()}});
    if (out.size() == cap) break;
  }
  return out;
}

/// The query predictions of the per-user θ of a transductive fit: each user's own fitted
/// parameters used as they are, no further adaptation.
TaskPredictions joint_predictions(const MatrixFactorization<float>& per, const Vector<float>& th,
                                  const Dataset& ds, std::span<const Task> tasks) {
  TaskPredictions tp;
  tp.offset.push_back(0);
  for (const Task& t : tasks) {
    tp.rows.insert(tp.rows.end(), t.query.begin(), t.query.end());
    tp.offset.push_back(tp.rows.size());
  }
  Vector<float> p(static_cast<Eigen::Index>(tp.rows.size()));
  if (!tp.rows.empty()) per.predict(th, RatingBatch{&ds, tp.rows, 0}, p);
  tp.score.assign(p.data(), p.data() + p.size());
  return tp;
}

/// One line of the support-size curve: a model's method, its figures for each K.
struct CurveSeries {
  std::string label{};
  bool baseline = false;  ///< drawn dashed (a fine-tuned baseline, EASE fold-in)
  int color = 0;          ///< one colour per model
  std::vector<double> mae{}, ndcg3{}, recall10{};  ///< empty: not drawn in that panel
};

/// The support-size curve: three panels (query MAE, query nDCG@3, Recall@10 over every unrated
/// item), one colour per model, its best meta-learning method solid and its best fine-tuned
/// baseline dashed.
std::string svg_curve(const std::vector<std::size_t>& ks, const std::vector<CurveSeries>& series) {
  const double PW = 330, H = 380, L = 58, R = 12, T = 44, B = 50, legend = 230;
  const double W = 3 * PW + legend;
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << L << "\" y=\"18\" font-size=\"14\">ML-1M melu-user-cold: support size K, each family's "
       "best meta-learning method (solid) vs its best fine-tuned baseline (dashed)</text>\n";
  const std::pair<const char*, std::vector<double> CurveSeries::*> panels[] = {
      {"query MAE (lower is better)", &CurveSeries::mae},
      {"query nDCG@3", &CurveSeries::ndcg3},
      {"Recall@10, every unrated item", &CurveSeries::recall10}};
  for (std::size_t p = 0; p < 3; ++p) {
    const double x0 = static_cast<double>(p) * PW;
    const auto member = panels[p].second;
    double lo = 1e9, hi = -1e9;
    for (const auto& s : series)
      for (const double v : s.*member) lo = std::min(lo, v), hi = std::max(hi, v);
    if (lo > hi) continue;
    const double pad = 0.05 * (hi - lo + 1e-9);
    lo -= pad, hi += pad;
    auto x = [&](std::size_t i) { return x0 + L + (PW - L - R) * static_cast<double>(i) / static_cast<double>(ks.size() - 1); };
    auto y = [&](double v) { return T + (H - T - B) * (hi - v) / (hi - lo); };
    o << "<text x=\"" << x0 + L << "\" y=\"" << T - 10 << "\">" << panels[p].first << "</text>\n"
      << "<line x1=\"" << x0 + L << "\" y1=\"" << H - B << "\" x2=\"" << x0 + PW - R << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n"
      << "<line x1=\"" << x0 + L << "\" y1=\"" << T << "\" x2=\"" << x0 + L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
    for (std::size_t i = 0; i < ks.size(); ++i)
      o << "<text x=\"" << x(i) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">" << ks[i] << "</text>\n";
    o << "<text x=\"" << x0 + (L + PW - R) / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">support ratings K</text>\n";
    for (int t = 0; t <= 4; ++t) {
      const double v = lo + (hi - lo) * t / 4.0;
      o << "<text x=\"" << x0 + L - 6 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">";
      o.precision(3);
      o << v << "</text>\n";
      o.precision(1);
      o << "<line x1=\"" << x0 + L << "\" y1=\"" << y(v) << "\" x2=\"" << x0 + PW - R << "\" y2=\"" << y(v) << "\" stroke=\"#ddd\"/>\n";
    }
    for (const auto& s : series) {
      const std::vector<double>& v = s.*member;
      if (v.size() != ks.size()) continue;
      const char* c = colors[static_cast<std::size_t>(s.color) % 7];
      o << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << c << "\""
        << (s.baseline ? " stroke-dasharray=\"5,4\"" : "") << " points=\"";
      for (std::size_t i = 0; i < ks.size(); ++i) o << x(i) << ',' << y(v[i]) << ' ';
      o << "\"/>\n";
      for (std::size_t i = 0; i < ks.size(); ++i)
        o << "<circle cx=\"" << x(i) << "\" cy=\"" << y(v[i]) << "\" r=\"2.5\" fill=\"" << c << "\"/>\n";
    }
  }
  for (std::size_t s = 0; s < series.size(); ++s) {
    const char* c = colors[static_cast<std::size_t>(series[s].color) % 7];
    const double yy = T + 10 + 18 * static_cast<double>(s);
    o << "<line x1=\"" << 3 * PW + 4 << "\" y1=\"" << yy - 4 << "\" x2=\"" << 3 * PW + 28 << "\" y2=\"" << yy - 4
      << "\" stroke-width=\"2\" stroke=\"" << c << "\"" << (series[s].baseline ? " stroke-dasharray=\"5,4\"" : "") << "/>\n"
      << "<text x=\"" << 3 * PW + 34 << "\" y=\"" << yy << "\" fill=\"" << c << "\">" << series[s].label << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

// ---- Top-N for new users (issue #16 §1): what `metarec adapt` and the recommend API return. ----
// For each test user of melu-user-cold, every item NOT in their support set is a candidate;
// relevant = the query items they rated >= 4 (users with none are skipped); Recall@10 and
// NDCG@10 (metrics::recall / metrics::ndcg, RecBole's conventions) of the 10 best-scored
// candidates, ties by lower item index.

/// One score per item, per task (the support items are masked when ranking).
using ItemScores = std::vector<std::vector<float>>;

template <class F>
ItemScores item_scores(const Dataset& ds, std::span<const Task> tasks, F&& score) {
  ItemScores out(tasks.size(), std::vector<float>(ds.num_items(), 0.0f));
  for (std::size_t t = 0; t < tasks.size(); ++t) score(tasks[t], out[t]);
  return out;
}

struct TopN {
  double recall = 0, ndcg = 0;
  std::size_t users = 0;
};

TopN top_n_of(const Dataset& ds, std::span<const Task> tasks, const ItemScores& scores, std::size_t k = 10) {
  TopN r;
  std::vector<std::uint32_t> relevant, exclude, ranked;
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    relevant.clear();
    for (const RowIndex x : tasks[t].query)
      if (ds.rating(x) >= 4.0f) relevant.push_back(ds.item(x));
    if (relevant.empty()) continue;
    std::sort(relevant.begin(), relevant.end());
    exclude.clear();
    for (const RowIndex x : tasks[t].support) exclude.push_back(ds.item(x));
    const auto scorer = [&](std::uint32_t, Eigen::Ref<Eigen::VectorXf> out) {
      out = Eigen::Map<const Eigen::VectorXf>(scores[t].data(), static_cast<Eigen::Index>(scores[t].size()));
    };
    ranked.clear();
    for (const auto& rec : report::top_n(scorer, tasks[t].user, ds.num_items(), exclude, k)) ranked.push_back(rec.item);
    r.recall += metrics::recall(ranked, relevant, k);
    r.ndcg += metrics::ndcg(ranked, relevant, k);
    ++r.users;
  }
  if (r.users) r.recall /= static_cast<double>(r.users), r.ndcg /= static_cast<double>(r.users);
  return r;
}

/// A rating model's scores: θ adapted to the user's support set through the serving path
/// (new_user_dataset + MetaModel::score_new_user, as `metarec adapt`), unclipped predicted ratings.
ItemScores model_item_scores(const MetaModel& model, const Vector<float>& theta, const Vector<float>* alpha,
                             const AdaptOptions& ao, const Dataset& ds, std::span<const Task> tasks) {
  return item_scores(ds, tasks, [&](const Task& t, std::vector<float>& s) {
    const Dataset one = new_user_dataset(ds, new_user_from(ds, t.user, t.support));
    const std::size_t n = t.support.size();
    std::vector<RowIndex> support(n), candidates(one.num_ratings() - n);
    std::iota(support.begin(), support.end(), RowIndex{0});
    std::iota(candidates.begin(), candidates.end(), static_cast<RowIndex>(n));
    const Vector<float> p = model.score_new_user(theta, alpha, ao, one, support, candidates);
    for (std::size_t j = 0; j < candidates.size(); ++j) s[one.item(candidates[j])] = p[static_cast<Eigen::Index>(j)];
  });
}

/// EASE fold-in scores (registry::ItemPrior, as `metarec adapt`) of each task's support set.
ItemScores prior_item_scores(const ItemPrior& prior, const Dataset& ds, std::span<const Task> tasks) {
  Matrix<float> out(ds.num_items(), 1);
  return item_scores(ds, tasks, [&](const Task& t, std::vector<float>& s) {
    prior.scores(ds, t.user, t.support, out);
    for (std::uint32_t i = 0; i < ds.num_items(); ++i) s[i] = out(i, 0);
  });
}

/// registry::blend_standardised over each task's candidates (items not in the support); the
/// support items' entries are left at 0 (they are masked when ranking).
ItemScores blend(const Dataset& ds, std::span<const Task> tasks, const ItemScores& a, const ItemScores& b, double w) {
  ItemScores out(tasks.size(), std::vector<float>(ds.num_items(), 0.0f));
  std::vector<char> in_support(ds.num_items(), 0);
  std::vector<std::uint32_t> cand;
  std::vector<float> x, y, z;
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    for (const RowIndex r : tasks[t].support) in_support[ds.item(r)] = 1;
    cand.clear(), x.clear(), y.clear();
    for (std::uint32_t i = 0; i < ds.num_items(); ++i)
      if (!in_support[i]) cand.push_back(i), x.push_back(a[t][i]), y.push_back(b[t][i]);
    z.resize(cand.size());
    blend_standardised(x, y, w, z);
    for (std::size_t j = 0; j < cand.size(); ++j) out[t][cand[j]] = z[j];
    for (const RowIndex r : tasks[t].support) in_support[ds.item(r)] = 0;
  }
  return out;
}

/// A row of the top-N table: validation and test figures (and the chosen setting).
struct TopNRow {
  std::string model, method, setting;
  TopN validation, test;
};

/// Horizontal bars of the top-N table's test Recall@10 and NDCG@10, one pair per row.
std::string svg_top_n(const std::vector<TopNRow>& rows) {
  const double L = 330, W = 760, bar = 9, gap = 8, T = 40;
  const double H = T + static_cast<double>(rows.size()) * (2 * bar + gap) + 40;
  double hi = 0;
  for (const TopNRow& r : rows) hi = std::max({hi, r.test.recall, r.test.ndcg});
  hi = std::max(hi * 1.1, 1e-9);
  auto x = [&](double v) { return L + (W - L - 70) * v / hi; };
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"10\" y=\"18\" font-size=\"14\">ML-1M melu-user-cold: top-10 over every unrated item "
       "(test users)</text>\n"
    << "<rect x=\"" << L << "\" y=\"24\" width=\"10\" height=\"8\" fill=\"#1f77b4\"/><text x=\"" << L + 14
    << "\" y=\"32\">Recall@10</text><rect x=\"" << L + 90 << "\" y=\"24\" width=\"10\" height=\"8\" "
       "fill=\"#ff7f0e\"/><text x=\"" << L + 104 << "\" y=\"32\">NDCG@10</text>\n";
  double y = T;
  for (const TopNRow& r : rows) {
    const std::string label = r.model == "-" ? r.method : r.model + " " + r.method;
    o << "<text x=\"" << L - 6 << "\" y=\"" << y + bar + 4 << "\" text-anchor=\"end\">" << label << "</text>\n";
    o.precision(3);
    for (const auto& [v, color] : {std::pair{r.test.recall, "#1f77b4"}, std::pair{r.test.ndcg, "#ff7f0e"}}) {
      o << "<rect x=\"" << L << "\" y=\"" << y << "\" width=\"" << x(v) - L << "\" height=\"" << bar
        << "\" fill=\"" << color << "\"/><text x=\"" << x(v) + 4 << "\" y=\"" << y + bar - 1 << "\">" << v
        << "</text>\n";
      y += bar;
    }
    o.precision(1);
    y += gap;
  }
  o << "</svg>\n";
  return o.str();
}

/// One meta-learner trained at every grid point; θ of the best validation MAE.
struct Tuned {
  Vector<float> theta, alpha;
  MetaConfig config;
  double validation_mae = std::numeric_limits<double>::infinity();
  double seconds = 0;          ///< meta-training seconds of the chosen run
  double search_seconds = 0;   ///< all grid runs
  std::uint64_t epochs = 0;    ///< epochs run by the chosen configuration
  std::uint64_t best_epoch = 0;
  bool refused = false;        ///< the model does not run this algorithm
};

Tuned tune(const MetaModel& model, const std::string& algo, const Vector<float>& global, const Dataset& ds,
           const std::vector<Task>& train, const std::vector<Task>& validation, const Setup& st,
           bool quick) {
  Tuned best;
  const std::string name = with_algorithm(algo, []<class A>(std::type_identity<A>) { return std::string(A::name); });
  for (const auto& [inner, outer] : meta_grid(st, quick)) {
    MetaConfig c = st.c;
    c.algo = algo;
    c.inner_lr = inner;
    c.outer_lr = outer;
    c.pretrain_epochs = 0;
    Vector<float> theta = global;  // every meta-learner starts from the global model
    MetaRun run;
    double mae = std::numeric_limits<double>::infinity();
    try {
      run = model.meta_train(theta, c, train, validation);
      const Vector<float>* alpha = run.alpha.size() ? &run.alpha : nullptr;
      mae = report::score_tasks(ds, model.predict_tasks(theta, alpha, validation, c.adapt_options())).mae;
    } catch (const numerical_error& e) {
      std::printf("    inner %g outer %g: diverged (%s)\n", inner, outer, e.what());
    } catch (const std::invalid_argument& e) {  // an algorithm the model refuses (the RBM's CD step)
      std::printf("    %s: not run (%s)\n", name.c_str(), e.what());
      best.refused = true;
      return best;
    }
    best.search_seconds += run.seconds;
    std::printf("    %s inner %g outer %g: validation MAE %.4f (%llu epochs, best %llu) %.1f s\n",
                name.c_str(), inner, outer, mae,
                static_cast<unsigned long long>(run.result.epochs),
                static_cast<unsigned long long>(run.result.best_epoch + 1), run.seconds);
    if (std::isfinite(mae) && mae < best.validation_mae) {
      best.validation_mae = mae;
      best.theta = theta;
      best.alpha = run.alpha;
      best.config = c;
      best.seconds = run.seconds;
      best.epochs = run.result.epochs;
      best.best_epoch = run.result.best_epoch + 1;
    }
  }
  if (!std::isfinite(best.validation_mae))
    throw std::runtime_error("every grid point diverged for " + name);
  return best;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args(std::vector<std::string>(argv + 1, argv + argc),
                  {"--data", "--models", "--algos", "--md", "--out", "--svg", "--threads", "--seed",
                   "--timing-repeats", "--svg-topn", "--model-option", "--fold-option", "--own-option"},
                  {"--quick", "--skip-timing", "--timing-only", "--keep-untrained"});
  if (args.has("--help")) {
    std::printf("usage: bench_cold_start [--data DIR] [--quick] [--models LIST] [--algos LIST] [--md FILE] "
                "[--out FILE.csv] [--svg FILE.svg] [--svg-topn FILE.svg] [--threads T] [--seed S] [--skip-timing] "
                "[--timing-only] [--timing-repeats R] [--keep-untrained] [--model-option [MODEL.]NAME=VALUE[:...]] "
                "[--fold-option [MODEL.]NAME=VALUE[:...]] [--own-option [MODEL.]NAME=VALUE[:...]]\n");
    return 0;
  }
  // NAME=VALUE[:NAME=VALUE...] of an option flag.
  auto option_list = [&](const char* flag) {
    Settings out;
    if (const auto mo = args.get(flag)) {
      std::string rest = *mo;
      while (!rest.empty()) {
        const auto colon = rest.find(':');
        const std::string kv = rest.substr(0, colon);
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
          throw std::invalid_argument(std::string(flag) + ": expected NAME=VALUE, found '" + kv + "'");
        out.set(kv.substr(0, eq), kv.substr(eq + 1));
        rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
      }
    }
    return out;
  };
  // --model-option: model settings for every model that has them (e.g. hidden=100 for the
  // whole-row models, whose registry widths make this benchmark take hours on two cores).
  const Settings model_options = option_list("--model-option");
  // --fold-option: the per-user MF of mf-bias and mf-side (dims, reg, init-std; [MODEL.]NAME=VALUE).
  const Settings fold_options = option_list("--fold-option");
  // --own-option: the per-user MF of the item-cold own-vector row, on top of the fold's settings.
  const Settings own_options = option_list("--own-option");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they are printed, also in a log file
  const std::string dir = bench::data_dir(args, "--data", "ml-1m");
  if (bench::ml1m_missing(dir, "bench_cold_start")) return 0;
  const bool quick = args.has("--quick");
  const bool timing_only = args.has("--timing-only");
  const bool keep_untrained = args.has("--keep-untrained");
  const int threads = args.number<int>("--threads", 2);
  const auto seed = args.number<std::uint64_t>("--seed", 42);
  const int repeats = args.number<int>("--timing-repeats", quick ? 1 : 3);
  const std::vector<std::string> models =
      timing_only ? std::vector<std::string>{} : args.words("--models", {"mf-bias", "mf-side", "melu"});
  set_threads(threads);

  const Dataset ds = load_movielens(dir);
  const std::vector<std::string> scenarios = melu_protocols("all");
  std::vector<ProtocolSplit> splits;
  for (const auto& s : scenarios) splits.push_back(make_protocol_split(s, ds, seed));
  const std::vector<Task>& warm_tasks = splits[1].train_tasks;  // the same for every scenario
  // Validation: a seeded 10% of the warm users, out of meta-training AND out of the global model.
  std::vector<Task> train_tasks, val_tasks;
  hold_out_tasks(warm_tasks, 0.1, seed, train_tasks, val_tasks);
  // the warm partition without the validation users
  const std::vector<RowIndex> warm_rows = rows_without_task_users(ds, splits[1].split.train, val_tasks);
  const double mean = ds.mean_rating(warm_rows);
  std::printf("data %s: %u users, %u items, %zu ratings; %zu warm tasks = %zu meta-training + %zu "
              "validation; threads %d%s\n",
              dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings(), warm_tasks.size(),
              train_tasks.size(), val_tasks.size(), threads, quick ? "; QUICK" : "");
  std::printf("machine: %s; compiler: %s; seed %llu\n", cpu_model().c_str(), compiler().c_str(),
              static_cast<unsigned long long>(seed));

  std::vector<Result> results;
  std::vector<std::string> settings;
  const std::vector<std::size_t> curve_k{1, 3, 5, 10, 20};
  std::vector<CurveSeries> curve;
  std::size_t curve_tasks = 0;
  std::vector<std::vector<Task>> curve_task_sets;  // per K: the same random K-subsets for every method
  for (const std::size_t k : curve_k) curve_task_sets.push_back(with_support(splits[1].test_tasks, k, curve_k.back(), seed));
  curve_tasks = curve_task_sets.front().size();
  std::vector<std::pair<std::string, std::string>> methods;
  {
    const std::vector<std::pair<std::string, std::string>> all{
        {"fomaml", "FOMAML"}, {"maml", "MAML (2nd order)"}, {"reptile", "Reptile"}, {"metasgd", "Meta-SGD"}};
    for (const std::string& a : args.words("--algos", {"fomaml", "maml", "reptile", "metasgd"})) {
      const auto it = std::find_if(all.begin(), all.end(), [&](const auto& m) { return m.first == a; });
      if (it == all.end())
        throw std::invalid_argument("--algos: unknown algorithm '" + a + "' (expected fomaml, maml, reptile or metasgd)");
      methods.push_back(*it);
    }
  }

  // Model-free baselines and references (not cold-start methods; docs/benchmarks.md): the user's
  // support mean / median; the items ranked by their mean training rating (popularity, shrunk
  // towards the mean by 10 pseudo-ratings); and, for the ranking metric's headroom, biased MF
  // at bench_mf's ML-1M setting trained on EVERY rating except the scenario's test query rows.
  struct Reference {
    Baseline support;
    double pop_ndcg1 = 0, pop_ndcg3 = 0;
    double mf_mae = 0, mf_ndcg1 = 0, mf_ndcg3 = 0;
  };
  std::vector<Reference> references(scenarios.size());
  if (!models.empty()) {
    std::vector<double> sum(ds.num_items(), 0.0), cnt(ds.num_items(), 0.0);
    for (const RowIndex r : warm_rows) sum[ds.item(r)] += ds.rating(r), cnt[ds.item(r)] += 1;
    std::vector<float> popularity(ds.num_items());
    for (std::size_t i = 0; i < popularity.size(); ++i)
      popularity[i] = static_cast<float>((sum[i] + 10.0 * mean) / (cnt[i] + 10.0));
    for (std::size_t s = 0; s < scenarios.size(); ++s) {
      Reference& ref = references[s];
      const auto& tasks = splits[s].test_tasks;
      ref.support = support_baselines(ds, tasks);
      std::tie(ref.pop_ndcg1, ref.pop_ndcg3) = ndcg_of(ds, tasks, popularity);
      if (quick) continue;
      std::vector<char> is_query(ds.num_ratings(), 0);
      for (const Task& t : tasks)
        for (const RowIndex x : t.query) is_query[x] = 1;
      std::vector<RowIndex> rows;
      for (RowIndex r = 0; r < ds.num_ratings(); ++r)
        if (!is_query[r]) rows.push_back(r);
      const MatrixFactorization<float> mf = mf128(ds, ds.mean_rating(rows));
      Vector<float> th;
      (void)fit_mf128(mf, th, ds, rows, derive_seed(seed, 0x52454655u), seed, 40);  // "REFU"
      std::vector<RowIndex> q;
      for (const Task& t : tasks) q.insert(q.end(), t.query.begin(), t.query.end());
      Vector<float> p(static_cast<Eigen::Index>(q.size()));
      mf.predict(th, RatingBatch{&ds, q, 0}, p);
      std::vector<float> score(p.data(), p.data() + p.size());
      double ae = 0;
      for (std::size_t k = 0; k < q.size(); ++k)
        ae += std::abs(std::clamp(score[k], ds.scale().min, ds.scale().max) - ds.rating(q[k]));
      ref.mf_mae = ae / static_cast<double>(std::max<std::size_t>(1, q.size()));
      const std::vector<std::size_t> ks{1, 3};
      const auto nd = metrics::evaluate_query_ndcg(ds, q, score, ks);
      ref.mf_ndcg1 = nd.mean[0], ref.mf_ndcg3 = nd.mean[1];
      std::printf("reference %s: support mean MAE %.4f, median MAE %.4f; popularity nDCG@3 %.4f; "
                  "MF on all other ratings MAE %.4f nDCG@3 %.4f\n", scenarios[s].c_str(),
                  ref.support.mean_mae, ref.support.median_mae, ref.pop_ndcg3, ref.mf_mae, ref.mf_ndcg3);
    }
  }

  // Top-N for the new users of melu-user-cold (validation: the held-out warm users, same rule):
  // popularity and EASE fold-in (λ chosen on validation NDCG@10), both from the same training
  // ratings as the global models.
  const std::vector<Task>& cold = splits[1].test_tasks;
  std::vector<TopNRow> topn;
  ItemScores ease_val, ease_test;
  std::vector<ItemScores> ease_curve;  // per K of the curve
  CurveSeries ease_series;
  if (!models.empty()) {
    std::vector<float> count(ds.num_items(), 0.0f);
    for (const RowIndex r : warm_rows) count[ds.item(r)] += 1.0f;
    const auto pop = [&](const Task&, std::vector<float>& s) { s = count; };
    topn.push_back({"-", "popularity", "training ratings per item", top_n_of(ds, val_tasks, item_scores(ds, val_tasks, pop)),
                    top_n_of(ds, cold, item_scores(ds, cold, pop))});
    TopN best;
    best.ndcg = -1;
    double best_reg = 0;
    for (const double reg : quick ? std::vector<double>{1000} : std::vector<double>{100, 300, 1000, 3000}) {
      const ItemPrior prior(ds, warm_rows, reg);
      ItemScores v = prior_item_scores(prior, ds, val_tasks);
      const TopN tv = top_n_of(ds, val_tasks, v);
      std::printf("  EASE fold-in lambda %g: validation Recall@10 %.4f NDCG@10 %.4f\n", reg, tv.recall, tv.ndcg);
      if (tv.ndcg > best.ndcg) best = tv, best_reg = reg, ease_val = std::move(v), ease_test = prior_item_scores(prior, ds, cold);
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "lambda %g", best_reg);
    topn.push_back({"-", "EASE fold-in", buf, best, top_n_of(ds, cold, ease_test)});
    // The support-size curve's EASE fold-in (same λ) for each K-subset.
    const ItemPrior prior(ds, warm_rows, best_reg);
    CurveSeries e{.label = "EASE fold-in (Recall@10 only)", .baseline = true, .color = 6};
    for (const auto& tasks : curve_task_sets) {
      ease_curve.push_back(prior_item_scores(prior, ds, tasks));
      e.recall10.push_back(top_n_of(ds, tasks, ease_curve.back()).recall);
    }
    ease_series = std::move(e);
  }
  // A rating model's list (θ adapted to the support set, ranked by predicted rating) and its blend
  // with EASE fold-in: z(EASE) + w z(predicted rating), w chosen on validation NDCG@10.
  // Returns the blend weight chosen.
  auto add_topn = [&](const MetaModel& model, const std::string& name, const std::string& method,
                      const Vector<float>& theta, const Vector<float>* alpha, const AdaptOptions& ao) -> double {
    const ItemScores v = model_item_scores(model, theta, alpha, ao, ds, val_tasks);
    const ItemScores c = model_item_scores(model, theta, alpha, ao, ds, cold);
    topn.push_back({name, method, "ranked by predicted rating", top_n_of(ds, val_tasks, v), top_n_of(ds, cold, c)});
    TopN best;
    best.ndcg = -1;
    double best_w = 0;
    for (const double w : {0.0, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0}) {
      const TopN x = top_n_of(ds, val_tasks, blend(ds, val_tasks, ease_val, v, w));
      if (x.ndcg > best.ndcg) best = x, best_w = w;
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "z(EASE) + %g z(predicted rating)", best_w);
    topn.push_back({name, method + " + EASE fold-in", buf, best, top_n_of(ds, cold, blend(ds, cold, ease_test, c, best_w))});
    std::printf("  top-N %s: test Recall@10 %.4f NDCG@10 %.4f; blended with EASE (w %g) %.4f / %.4f\n",
                method.c_str(), topn[topn.size() - 2].test.recall, topn[topn.size() - 2].test.ndcg, best_w,
                topn.back().test.recall, topn.back().test.ndcg);
    return best_w;
  };

  const Registry reg = all_models();
  for (const std::string& name : models) {
    const Setup base = model_config(reg, name, quick, seed, model_options);
    const std::unique_ptr<MetaModel> handle = base.entry->meta.build(ds, base.settings, mean);
    const MetaModel& model = *handle;
    {
      // Non-meta baselines: the global model (pooled ratings of the meta-training users), used as
      // is or fine-tuned with a step chosen on the validation tasks.
      Vector<float> global;
      const double gsec = model.fit_global(global, warm_rows, base.global_epochs,
                                           base.entry->meta.global_fit(base.settings), seed);
      const std::size_t reset = keep_untrained ? 0 : model.zero_untrained(global, warm_rows);
      MetaConfig ft = base.c;
      const auto [ft_lr, ft_mae] = pick_finetune_lr(model, global, ds, val_tasks, base);
      ft.inner_lr = ft_lr;
      std::ostringstream set;
      std::string fold_note;
      set << name << ":";
      const char* sep = " ";
      for (const char* key : {"dims", "hidden", "encoder", "cd-steps"})
        if (base.settings.has(key)) set << sep << key << ' ' << base.settings.text(key), sep = ", ";
      if (base.mf) set << ", reg " << base.settings.text("reg") << ", init std " << base.settings.text("init-std");
      set << ", " << base.c.inner_steps << " inner steps (" << base.c.adapt << "), meta-batch "
          << base.c.meta_batch << ", outer Adam, at most " << base.c.epochs
          << " meta-epochs (patience " << base.c.patience << ") from the global model (" << base.global_epochs
          << " epochs); fine-tuning step " << ft.inner_lr << " (validation MAE " << ft_mae << "); "
          << model.num_parameters() << " parameters, " << reset
          << " never touched by a training rating set to 0. Chosen on validation (inner step / outer step / epochs run, best epoch / validation MAE):";
      const auto cal_global =
          fit_calibration(model.predict_tasks(global, nullptr, val_tasks, AdaptOptions{.steps = 0}), ds);
      const auto cal_ft = fit_calibration(model.predict_tasks(global, nullptr, val_tasks, ft.adapt_options()), ds);
      for (std::size_t s = 0; s < scenarios.size(); ++s) {
        results.push_back(score(name, "global, no adaptation", scenarios[s], model, global, ds,
                                splits[s].test_tasks, AdaptOptions{.steps = 0}, gsec, cal_global));
        results.push_back(score(name, "global + fine-tuning", scenarios[s], model, global, ds,
                                splits[s].test_tasks, ft.adapt_options(), gsec, cal_ft));
      }
      const double ft_w = add_topn(model, name, "global + fine-tuning", global, nullptr, ft.adapt_options());
      // The support-size curve's methods (lowest validation MAE): the best meta-learning method
      // and the best fine-tuned baseline, each with the model it runs on.
      Tuned best_meta;
      std::string best_label;
      double best_w = 0;
      const MetaModel* best_model = &model;
      struct Baseline {
        const MetaModel* model;
        Vector<float> theta;
        AdaptOptions ao;
        double validation_mae, w;
        std::string label;
      } best_ft{&model, global, ft.adapt_options(), ft_mae, ft_w, "fine-tuned"};
      std::unique_ptr<MetaModel> folded;
      if (name == "mf-bias" || name == "mf-side") {
        // What `metarec adapt` does with a file from `metarec train --model mf-bias`: biased MF
        // with a row per user (bench_mf's ML-1M setting, as the reference above) trained on the
        // warm ratings less the validation users, its user columns folded into their mean
        // (shared_user_theta), then fine-tuned on each new user's support set; the step chosen on
        // the validation users. adapt's default for MF train files is this choice.
        Settings fold_settings{{"dims", "128"}, {"reg", "0.05"}, {"init-std", "0.1"}};
        auto apply_options = [&](Settings& to, const Settings& options) {  // [MODEL.]NAME=VALUE
          bool changed = false;
          for (const auto& [key, v] : options.values()) {
            const auto dot = key.find('.');
            if (dot == std::string::npos)
              to.set(key, v), changed = true;
            else if (key.substr(0, dot) == name)
              to.set(key.substr(dot + 1), v), changed = true;
          }
          return changed;
        };
        (void)apply_options(fold_settings, fold_options);
        const Setup fs = model_config(reg, name, quick, seed, fold_settings);
        // (mf-side: the same with its side features, 128 dims and reg 0.05 as for mf-bias, not
        // validated for it.)
        folded = fs.entry->meta.build(ds, fs.settings, mean);
        Vector<float> theta, trained;  // folded (what adapt serves) and per user (own start, transduction)
        const double fit_s = folded->fit_per_user(theta, warm_rows, quick ? 3 : 40, seed, &trained);
        // As for the global model: parameters no training rating touched (new items' factors and
        // biases) at 0, not their untrained draw.
        const std::size_t fold_reset = keep_untrained ? 0 : folded->zero_untrained(theta, warm_rows);
        AdaptOptions best_ao = fs.c.adapt_options();
        double best_mae = std::numeric_limits<double>::infinity();
        for (const double lr : {0.0, 0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 2.0}) {
          AdaptOptions ao = fs.c.adapt_options();
          ao.lr = lr;
          if (lr == 0.0) ao.steps = 0;
          const double mae = report::score_tasks(ds, folded->predict_tasks(theta, nullptr, val_tasks, ao)).mae;
          std::printf("  per-user MF, mean user + fine-tuning step %g: validation MAE %.4f\n", lr, mae);
          if (std::isfinite(mae) && mae < best_mae) best_mae = mae, best_ao = ao;
        }
        const std::string label = kFoldLabel;
        const auto cal = fit_calibration(folded->predict_tasks(theta, nullptr, val_tasks, best_ao), ds);
        for (std::size_t s = 0; s < scenarios.size(); ++s)
          results.push_back(score(name, label, scenarios[s], *folded, theta, ds, splits[s].test_tasks, best_ao, fit_s, cal));
        std::printf("  %s: step %g (%d steps), fit %.1f s; user-cold MAE %.4f\n", label.c_str(), best_ao.lr,
                    best_ao.steps, fit_s, results[results.size() - 3].q.mae);
        const double fold_w = add_topn(*folded, name, label, theta, nullptr, best_ao);
        if (best_mae < best_ft.validation_mae)
          best_ft = {folded.get(), theta, best_ao, best_mae, fold_w, "per-user MF, mean user, fine-tuned"};
        char buf[512];
        std::snprintf(buf, sizeof buf, " per-user MF (dims %s, reg %s, init std %s, 40 SGD epochs at 0.005) folded, %zu parameters never touched by a training rating set to 0: fine-tuning step %g (validation MAE %.4f);",
                      fs.settings.text("dims").c_str(), fs.settings.text("reg").c_str(), fs.settings.text("init-std").c_str(),
                      fold_reset, best_ao.steps == 0 ? 0.0 : best_ao.lr, best_mae);
        fold_note = buf;
        // Item-cold: EXISTING users rating new items. Each test user adapts from their OWN trained
        // vector (predict_tasks_own_users) instead of the mean user; parameters no training rating
        // touched (the new items' factors and biases) at 0, so with side features a new item is its
        // genres and year. The fine-tuning step is chosen on an item-cold validation analogue for
        // existing users: the per-user model refitted without a seeded 25% of the warm items, and the
        // meta-training users' ratings of those items as tasks (own_user_validation_tasks).
        const NewItemAnalogue analogue = new_item_analogue(ds, warm_rows, seed);
        Vector<float> fold_valid_theta, fold_valid_trained;
        (void)folded->fit_per_user(fold_valid_theta, analogue.rows, quick ? 3 : 40, seed, &fold_valid_trained);
        {
          // This row's per-user MF: the fold's, except that mf-side weighs its item ID parameters'
          // L2 more (item-reg 2, item-bias-reg 1: chosen on the validation analogue below by sweeps
          // of this row's per-user MF, docs/benchmarks.md; the fold's user-cold row is worse with them,
          // so the fold keeps its own), then --own-option.
          Settings own_settings = fold_settings;
          bool own_changed = false;
          if (name == "mf-side" && !fold_settings.has("item-reg") && !fold_settings.has("item-bias-reg")) {
            own_settings.set("item-reg", "2");
            own_settings.set("item-bias-reg", "1");
            own_changed = true;
          }
          own_changed = apply_options(own_settings, own_options) || own_changed;
          std::unique_ptr<MetaModel> own_model;
          const MetaModel* om = folded.get();
          Vector<float> vth = fold_valid_theta, own_vtrained, th = theta, own_trained;
          double own_fit_s = fit_s;
          if (own_changed) {
            const Setup os = model_config(reg, name, quick, seed, own_settings);
            own_model = os.entry->meta.build(ds, os.settings, mean);
            om = own_model.get();
            (void)om->fit_per_user(vth, analogue.rows, quick ? 3 : 40, seed, &own_vtrained);
            own_fit_s = om->fit_per_user(th, warm_rows, quick ? 3 : 40, seed, &own_trained);
          }
          const Vector<float>& vtrained = own_changed ? own_vtrained : fold_valid_trained;
          const Vector<float>& ttrained = own_changed ? own_trained : trained;
          std::string own_desc;
          for (const auto& [k, v] : own_settings.values()) own_desc += (own_desc.empty() ? "" : ", ") + k + " " + v;
          const std::vector<Task> otasks =
              own_user_validation_tasks(ds, analogue, warm_rows, train_tasks, quick ? 100 : 500, seed);
          (void)om->zero_untrained(vth, analogue.rows);
          (void)om->zero_untrained(th, warm_rows);
          // Grid: the step, adapting the user's vector and bias (the local segments) or the bias only.
          const Block user_bias = block_named(*om->layout(), "user_bias");
          // A user the per-user MF never saw (held out for validation) starts from the mean user.
          auto trained_on = [&](std::span<const RowIndex> rows) {
            std::vector<char> seen(ds.num_users(), 0);
            for (const RowIndex r : rows) seen[ds.user(r)] = 1;
            return seen;
          };
          const std::vector<char> seen_valid = trained_on(analogue.rows), seen_test = trained_on(warm_rows);
          AdaptOptions own_ao = fs.c.adapt_options();
          double own_v = std::numeric_limits<double>::infinity();
          TaskPredictions own_cal_v;
          for (const bool bias_only : {false, true})
            for (const double lr : {0.0, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0}) {
              if (bias_only && lr == 0.0) continue;
              AdaptOptions ao = fs.c.adapt_options();
              ao.lr = lr;
              if (lr == 0.0) ao.steps = 0;
              if (bias_only) ao.adapted = AdaptedSet::segments, ao.segments = {Segment{user_bias.offset, 1}};
              TaskPredictions vp = predict_tasks_own_users(*om, vth, vtrained, otasks, ao, seen_valid);
              const double mae = report::score_tasks(ds, vp).mae;
              std::printf("  %s, own vector + fine-tuning (%s) step %g: item-cold validation analogue (%zu tasks) MAE %.4f\n",
                          name.c_str(), bias_only ? "bias" : "vector and bias", lr, otasks.size(), mae);
              if (std::isfinite(mae) && mae < own_v) own_v = mae, own_ao = ao, own_cal_v = std::move(vp);
            }
          const bool own_bias_only = own_ao.adapted == AdaptedSet::segments;
          const double mean_user_v = report::score_tasks(ds, om->predict_tasks(vth, nullptr, otasks, best_ao)).mae;
          const auto cal = fit_calibration(own_cal_v, ds);
          for (std::size_t s = 0; s < scenarios.size(); ++s) {
            if (scenarios[s] != "melu-item-cold") continue;
            const auto t0 = std::chrono::steady_clock::now();
            const TaskPredictions tp = predict_tasks_own_users(*om, th, ttrained, splits[s].test_tasks, own_ao, seen_test);
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            results.push_back(score_predictions(name, kOwnUserLabel, scenarios[s], tp, ds, own_fit_s + sec, cal));
            std::printf("  %s, %s: step %g (%d steps, %s); MAE %.4f nDCG@3 %.4f (validation analogue: own %.4f, mean user %.4f)\n",
                        name.c_str(), kOwnUserLabel.c_str(), own_ao.steps == 0 ? 0.0 : own_ao.lr, own_ao.steps,
                        own_bias_only ? "bias only" : "vector and bias",
                        results.back().q.mae, results.back().q.ndcg3, own_v, mean_user_v);
          }
          std::snprintf(buf, sizeof buf, " existing users from their own vectors (item-cold; per-user MF: %s): step %g on the %s (validation analogue: %zu tasks, MAE %.4f; mean user %.4f);",
                        own_desc.c_str(), own_ao.steps == 0 ? 0.0 : own_ao.lr, own_bias_only ? "bias" : "vector and bias", otasks.size(), own_v, mean_user_v);
          fold_note += buf;
        }
        if (name == "mf-bias") {
          // §4, transductive (item-cold, user-item-cold): the new items' factors and biases are
          // fitted on every test user's SUPPORT ratings before any query is answered, then each
          // user adapts as above. Its settings (SGD epochs and step over the support pool, the
          // fine-tuning step) are chosen on a validation analogue: a seeded 25% of the warm items
          // play the new items, the per-user MF is refitted without their ratings, and the
          // validation users' ratings of those items are their tasks (support and query).
          const std::vector<char>& pseudo = analogue.pseudo;
          const std::vector<char>& is_new = analogue.is_new;
          std::vector<Task> vtasks;
          {
            Rng rng(derive_seed(seed, 0x54524E54u));  // "TRNT"
            for (const Task& t : val_tasks) {
              std::vector<RowIndex> mine;
              for (const auto* part : {&t.support, &t.query})
                for (const RowIndex r : *part)
                  if (pseudo[ds.item(r)]) mine.push_back(r);
              if (mine.size() < 6) continue;
              std::sort(mine.begin(), mine.end());
              rng.shuffle(std::span<RowIndex>(mine));
              const std::size_t nq = std::min<std::size_t>(10, mine.size() / 2);
              vtasks.push_back(Task{t.user, {mine.begin() + static_cast<std::ptrdiff_t>(nq), mine.end()},
                                    {mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(nq)}});
            }
          }
          const MatrixFactorization<float> per = mf128(ds, mean);  // the unfolded model's layout
          Vector<float> vtheta = fold_valid_theta, vtrained = fold_valid_trained;
          std::vector<char> vnew(ds.num_items(), 0);
          for (std::uint32_t i = 0; i < ds.num_items(); ++i) vnew[i] = (pseudo[i] || is_new[i]) ? 1 : 0;
          int best_e = 0;
          double best_tlr = 0.005, best_v = std::numeric_limits<double>::infinity();
          AdaptOptions t_ao = best_ao;
          bool best_joint = false;        // the joint fit's users as they are, or mean user + fine-tuning
          TaskPredictions best_cal_v;     // the chosen setting's validation predictions (calibration)
          const std::uint64_t tseed = derive_seed(seed, 0x5452414Eu);  // "TRAN"
          for (const int e : {0, 5, 10, 20, 40})
            for (const double tlr : {0.005, 0.02}) {
              if (e == 0 && tlr != 0.005) continue;
              Vector<float> joint;
              const Vector<float> th = transduce(per, vtrained, *folded->layout(), vtheta, ds, vnew, vtasks, e, tlr, tseed, &joint);
              if (e > 0) {
                // The users' parameters of the joint fit, as they are (no per-user fine-tuning).
                const TaskPredictions jp = joint_predictions(per, joint, ds, vtasks);
                const double mae = report::score_tasks(ds, jp).mae;
                std::printf("  transductive, validation analogue (%zu tasks): %d epochs at %g, joint fit as is: MAE %.4f\n",
                            vtasks.size(), e, tlr, mae);
                if (std::isfinite(mae) && mae < best_v)
                  best_v = mae, best_e = e, best_tlr = tlr, best_joint = true, best_cal_v = jp;
              }
              for (const double lr : {0.0, 0.1, 0.5}) {
                AdaptOptions ao = best_ao;
                ao.lr = lr;
                if (lr == 0.0) ao.steps = 0;
                TaskPredictions vp = folded->predict_tasks(th, nullptr, vtasks, ao);
                const double mae = report::score_tasks(ds, vp).mae;
                std::printf("  transductive, validation analogue (%zu tasks): %d epochs at %g, then mean user + fine-tuning step %g: "
                            "MAE %.4f\n", vtasks.size(), e, tlr, lr, mae);
                if (std::isfinite(mae) && mae < best_v)
                  best_v = mae, best_e = e, best_tlr = tlr, t_ao = ao, best_joint = false, best_cal_v = std::move(vp);
              }
            }
          const auto cal = fit_calibration(best_cal_v, ds);
          for (std::size_t s = 0; s < scenarios.size(); ++s) {
            if (scenarios[s].find("item-cold") == std::string::npos) continue;
            const auto& tasks = splits[s].test_tasks;
            Vector<float> joint;
            const auto t0 = std::chrono::steady_clock::now();
            const Vector<float> th = transduce(per, trained, *folded->layout(), theta, ds, is_new, tasks, best_e, best_tlr, tseed, &joint);
            const TaskPredictions tp = best_joint ? joint_predictions(per, joint, ds, tasks) : folded->predict_tasks(th, nullptr, tasks, t_ao);
            const double tsec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            results.push_back(score_predictions(name, kTransductiveLabel, scenarios[s], tp, ds, fit_s + tsec, cal));
            const double other = report::score_tasks(ds, best_joint ? folded->predict_tasks(th, nullptr, tasks, t_ao)
                                                                    : joint_predictions(per, joint, ds, tasks)).mae;
            const double inductive = report::score_tasks(ds, folded->predict_tasks(
                transduce(per, trained, *folded->layout(), theta, ds, is_new, tasks, 0, 0.0, tseed), nullptr, tasks, best_ao)).mae;
            std::printf("  %s, %s: %d epochs at %g, %s; MAE %.4f nDCG@3 %.4f (%s: MAE %.4f); inductive with new items at 0: MAE %.4f; "
                        "transduction %.2f s\n",
                        kTransductiveLabel.c_str(), scenarios[s].c_str(), best_e, best_tlr,
                        best_joint ? "joint fit as is" : "then mean user + fine-tuning", results.back().q.mae,
                        results.back().q.ndcg3, best_joint ? "then mean user + fine-tuning" : "joint fit as is", other,
                        inductive, tsec);
          }
          std::ostringstream tn;
          tn << " transductive (item-cold, user-item-cold): " << best_e << " SGD epochs at " << best_tlr
             << " over the test support pool, then ";
          if (best_joint)
            tn << "the joint fit's users as they are";
          else
            tn << "mean user + fine-tuning step " << (t_ao.steps == 0 ? 0.0 : t_ao.lr);
          tn << " (validation analogue: " << vtasks.size() << " tasks, MAE " << best_v << ");";
          fold_note += tn.str();
        }
        // The folded model as the meta-learners' starting point (first-order ones: second-order
        // MAML on 128 dims is slow on two cores), the grid and validation as for the others.
        for (const auto& [algo, label_algo] : methods) {
          if (name != "mf-bias" || (algo != "fomaml" && algo != "reptile")) continue;
          const Tuned t = tune(*folded, algo, theta, ds, train_tasks, val_tasks, fs, quick);
          const std::string lab = kFoldMetaPrefix + label_algo;
          const auto c2 = fit_calibration(folded->predict_tasks(t.theta, nullptr, val_tasks, t.config.adapt_options()), ds);
          for (std::size_t s = 0; s < scenarios.size(); ++s)
            results.push_back(score(name, lab, scenarios[s], *folded, t.theta, ds, splits[s].test_tasks,
                                    t.config.adapt_options(), t.seconds, c2));
          std::printf("  %s: inner %g outer %g; user-cold MAE %.4f\n", lab.c_str(), t.config.inner_lr,
                      t.config.outer_lr, results[results.size() - 3].q.mae);
          const double w = add_topn(*folded, name, lab, t.theta, nullptr, t.config.adapt_options());
          if (t.validation_mae < best_meta.validation_mae)
            best_meta = t, best_label = lab, best_w = w, best_model = folded.get();
          std::snprintf(buf, sizeof buf, " then %s %g / %g / %llu, %llu / %.4f;", label_algo.c_str(), t.config.inner_lr,
                        t.config.outer_lr, static_cast<unsigned long long>(t.epochs),
                        static_cast<unsigned long long>(t.best_epoch), t.validation_mae);
          fold_note += buf;
        }
      }
      for (const auto& [algo, label] : methods) {
        const Tuned t = tune(model, algo, global, ds, train_tasks, val_tasks, base, quick);
        if (t.refused) {
          set << " " << label << " not run (first-order algorithms only);";
          continue;
        }
        const Vector<float>* alpha = t.alpha.size() ? &t.alpha : nullptr;
        const auto cal = fit_calibration(model.predict_tasks(t.theta, alpha, val_tasks, t.config.adapt_options()), ds);
        for (std::size_t s = 0; s < scenarios.size(); ++s)
          results.push_back(score(name, label, scenarios[s], model, t.theta, ds, splits[s].test_tasks,
                                  t.config.adapt_options(), t.seconds, cal, alpha));
        char buf[200];
        std::snprintf(buf, sizeof buf, " %s %g / %g / %llu, %llu / %.4f;", label.c_str(),
                      t.config.inner_lr, t.config.outer_lr, static_cast<unsigned long long>(t.epochs),
                      static_cast<unsigned long long>(t.best_epoch), t.validation_mae);
        set << buf;
        std::printf("  %-18s meta-training %.1f s (grid %.1f s); user-cold MAE %.4f\n", label.c_str(),
                    t.seconds, t.search_seconds, results[results.size() - 3].q.mae);
        const double w = add_topn(model, name, label, t.theta, alpha, t.config.adapt_options());
        if (t.validation_mae < best_meta.validation_mae) best_meta = t, best_label = label, best_w = w, best_model = &model;
      }
      set << fold_note;
      settings.push_back(set.str());
      std::printf("\n%s\n", set.str().c_str());
      // Support-size curve (issue #16 §6): query MAE and nDCG@3, and Recall@10 of the list
      // `metarec adapt` serves (blend with EASE fold-in, the weight chosen on validation above).
      const int color = static_cast<int>(&name - models.data());
      auto curve_series = [&](const MetaModel& cm, const std::string& label, bool baseline, const Vector<float>& th,
                              const Vector<float>* al, const AdaptOptions& ao, double w) {
        CurveSeries c{.label = name + " " + label, .baseline = baseline, .color = color};
        for (std::size_t i = 0; i < curve_k.size(); ++i) {
          const auto& tasks = curve_task_sets[i];
          const auto q = report::score_tasks(ds, cm.predict_tasks(th, al, tasks, ao));
          c.mae.push_back(q.mae), c.ndcg3.push_back(q.ndcg3);
          if (!ease_curve.empty())
            c.recall10.push_back(
                top_n_of(ds, tasks, blend(ds, tasks, ease_curve[i], model_item_scores(cm, th, al, ao, ds, tasks), w)).recall);
        }
        return c;
      };
      if (!best_label.empty())
        curve.push_back(curve_series(*best_model, best_label, false, best_meta.theta,
                                     best_meta.alpha.size() ? &best_meta.alpha : nullptr,
                                     best_meta.config.adapt_options(), best_w));
      curve.push_back(curve_series(*best_ft.model, best_ft.label, true, best_ft.theta, nullptr, best_ft.ao, best_ft.w));
    }
  }

  // Cost per task, MeLU-sized model (six 32-d embeddings -> 64-64-1, decision layers adapted,
  // 5 inner steps, 32 tasks per meta-batch), on the warm tasks; `repeats` runs of each.
  struct Timing {
    std::string label;
    int threads;
    std::vector<Cost> runs;
  };
  std::vector<Timing> timing;
  struct Serving {
    std::string model, rank;
    double users_per_s = 0, p50_ms = 0, p99_ms = 0;
    std::size_t users = 0;
    int steps = 0;
  };
  std::vector<Serving> serving;
  if (!args.has("--skip-timing")) {
    const std::unique_ptr<MetaModel> melu =
        reg.find("melu").meta.build(ds, resolve_meta_settings(reg.find("melu"), "melu-user-cold", {}), mean);
    const std::size_t n = quick ? 128 : 512;
    for (const int t : {1, 2}) {
      Timing so{"second-order MAML", t, {}}, fo{"first-order MAML", t, {}};
      for (int r = 0; r < repeats; ++r) {
        so.runs.push_back(ms_per_task(*melu, "maml", warm_tasks, t, n));
        fo.runs.push_back(ms_per_task(*melu, "fomaml", warm_tasks, t, n));
      }
      timing.push_back(so);
      timing.push_back(fo);
    }
    // Serving (registry::recommend_new_user, what `metarec adapt` runs): each melu-user-cold test
    // user's ratings and side features in, θ adapted (5 inner steps), every unrated item scored
    // and the top 10 out; one thread; the EASE prior fitted once beforehand (not timed).
    set_threads(1);
    std::vector<NewUser> users;
    for (const Task& t : cold) users.push_back(new_user_from(ds, t.user, t.support));
    const ItemPrior prior(ds, warm_rows, 1000.0);
    for (const char* name : {"mf-bias", "melu"}) {
      if (users.empty()) break;
      const ModelEntry& e = reg.find(name);
      const Settings st = resolve_meta_settings(e, "melu-user-cold", {});
      const std::unique_ptr<MetaModel> m = e.meta.build(ds, st, mean);
      const Vector<float> theta = m->initial(seed);
      const AdaptOptions ao = MetaConfig::from(st, seed).adapt_options();
      for (const RankBy rank : {RankBy::rating, RankBy::blend}) {
        const RecommendOptions ro{.rank_by = rank, .top = 10};
        (void)recommend_new_user(*m, theta, nullptr, ao, &prior, ds, users.front(), ro);  // warm-up
        std::vector<double> ms;
        const auto t0 = std::chrono::steady_clock::now();
        for (const NewUser& u : users) {
          const auto a = std::chrono::steady_clock::now();
          (void)recommend_new_user(*m, theta, nullptr, ao, &prior, ds, u, ro);
          ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
        }
        const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::sort(ms.begin(), ms.end());
        const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ms.size())))]; };
        serving.push_back({name, rank == RankBy::rating ? "by predicted rating" : "blend with EASE fold-in",
                           static_cast<double>(users.size()) / total, at(0.5), at(0.99), users.size(), ao.steps});
      }
    }
    set_threads(threads);
  }
  double mean_support = 0;
  for (const Task& t : warm_tasks) mean_support += static_cast<double>(t.support.size());
  mean_support /= static_cast<double>(std::max<std::size_t>(1, warm_tasks.size()));

  // Report.
  std::ostringstream md;
  // Markdown helpers: a table head with the leading columns and one right-aligned column per
  // scenario; one row per model and method with `cell(result)` per scenario; two figures.
  auto scenario_head = [&](const std::vector<std::string>& lead, const char* suffix) {
    md << '|';
    for (const auto& l : lead) md << ' ' << l << " |";
    for (const auto& sc : scenarios) md << ' ' << sc << suffix << " |";
    md << "\n|";
    for (std::size_t i = 0; i < lead.size(); ++i) md << "---|";
    for (std::size_t i = 0; i < scenarios.size(); ++i) md << "---:|";
    md << "\n";
  };
  auto result_rows = [&](const std::vector<std::string>& method_list, auto&& cell) {
    for (const auto& model : models)
      for (const auto& method : method_list) {
        md << "| " << model << " | " << method << " |";
        for (const auto& sc : scenarios) {
          const auto r = std::find_if(results.begin(), results.end(), [&](const Result& x) {
            return x.model == model && x.method == method && x.scenario == sc;
          });
          md << ' ' << (r == results.end() ? std::string("-") : cell(*r)) << " |";
        }
        md << "\n";
      }
  };
  auto f4 = [](double a, double b) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4f / %.4f", a, b);
    return std::string(buf);
  };
  md << "machine: " << cpu_model() << "; compiler: " << compiler() << "; seed " << seed << "; "
     << threads << " threads" << (quick ? "; QUICK RUN" : "") << "\n\n";
  if (!models.empty()) {
    md << "Validation: " << val_tasks.size() << " of the " << warm_tasks.size()
       << " warm users held out (seeded); meta-training on the other " << train_tasks.size()
       << " tasks.\n\nSettings:\n\n";
    for (const auto& s : settings) md << "- " << s << "\n";
  }
  for (const auto& model : models) {
    md << "\n### " << model << "\n\n| method |";
    for (const auto& s : scenarios) md << ' ' << s << " MAE / RMSE / nDCG@1 / nDCG@3 |";
    md << " meta-train s |\n|---|";
    for (std::size_t s = 0; s < scenarios.size(); ++s) md << "---|";
    md << "---:|\n";
    std::vector<std::string> order{"global, no adaptation", "global + fine-tuning"};
    for (const auto& m : methods) order.push_back(m.second);
    order.push_back(kFoldLabel);
    order.push_back(kOwnUserLabel);
    order.push_back(kTransductiveLabel);
    for (const auto& m : methods) order.push_back(kFoldMetaPrefix + m.second);
    for (const auto& method : order) {
      if (method.rfind("per-user MF", 0) == 0 && std::none_of(results.begin(), results.end(), [&](const Result& r) {
            return r.model == model && r.method == method;
          }))
        continue;
      md << "| " << method << " |";
      double sec = -1;
      for (const auto& s : scenarios) {
        bool found = false;
        for (const Result& r : results)
          if (r.model == model && r.method == method && r.scenario == s) {
            char buf[128];
            std::snprintf(buf, sizeof buf, " %.4f / %.4f / %.4f / %.4f |", r.q.mae, r.q.rmse, r.q.ndcg1, r.q.ndcg3);
            md << buf;
            sec = r.seconds;
            found = true;
          }
        if (!found) md << " - |";
      }
      char buf[32];
      if (sec < 0)
        std::snprintf(buf, sizeof buf, " - |\n");
      else
        std::snprintf(buf, sizeof buf, " %.1f%s |\n", sec, method.rfind("global", 0) == 0 ? " (fit)" : "");
      md << buf;
    }
  }
  if (!models.empty()) {
    md << "\nMAE / RMSE with the MAE-optimal (median) calibration: each method's own monotone map "
          "from its clipped prediction to a rating, fitted on its predictions for the validation "
          "tasks (metrics::MedianCalibration); MSE-trained models predict means, the absolute error "
          "is smallest at medians.\n\n";
    scenario_head({"model", "method"}, " MAE / RMSE");
    std::vector<std::string> order{"global, no adaptation", "global + fine-tuning"};
    for (const auto& m : methods) order.push_back(m.second);
    result_rows(order, [&](const Result& r) { return f4(r.mae_cal, r.rmse_cal); });
    md << "\nModel-free baselines and references (not cold-start methods): the user's support "
          "mean or median for every query item; query items ranked by their mean training rating "
          "(shrunk towards the mean by 10 pseudo-ratings; new items have none, so only the "
          "scenarios on existing items are ranked); and biased MF (128 dims, bench_mf's ML-1M "
          "setting) trained on every rating except the scenario's test query rows: it knows "
          "every other rating of the test users and of the new items, so it bounds what the "
          "cold-start methods could reach.\n\n";
    scenario_head({"baseline"}, "");
    auto row = [&](const char* label, auto&& cell) {
      md << "| " << label << " |";
      for (std::size_t s = 0; s < scenarios.size(); ++s) md << ' ' << cell(s, references[s]) << " |";
      md << "\n";
    };
    row("support mean: MAE / RMSE", [&](std::size_t, const Reference& r) { return f4(r.support.mean_mae, r.support.mean_rmse); });
    row("support median: MAE / RMSE", [&](std::size_t, const Reference& r) { return f4(r.support.median_mae, r.support.median_rmse); });
    row("popularity ranking: nDCG@1 / nDCG@3", [&](std::size_t s, const Reference& r) {
      return scenarios[s].find("item-cold") != std::string::npos ? std::string("-") : f4(r.pop_ndcg1, r.pop_ndcg3);
    });
    if (!quick)
      row("MF on all other ratings: nDCG@1 / nDCG@3 (MAE)", [&](std::size_t, const Reference& r) {
        char buf[32];
        std::snprintf(buf, sizeof buf, " (%.4f)", r.mf_mae);
        return f4(r.mf_ndcg1, r.mf_ndcg3) + buf;
      });
    md << "\nnDCG@3 in the convention of an unofficial TensorFlow MeLU re-implementation (NOT our "
          "metric; see the notes): the 3 best items by true rating, discounted by their rank in the "
          "predicted order of all 10 query items.\n\n";
    scenario_head({"model", "method"}, "");
    result_rows({"global + fine-tuning", "MAML (2nd order)", "Meta-SGD"}, [](const Result& r) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", r.ndcg3_variant);
      return std::string(buf);
    });
  }
  if (!curve.empty()) {
    if (!ease_series.recall10.empty()) curve.push_back(ease_series);
    md << "\nSupport-size curve (issue #16 §6; melu-user-cold, the " << curve_tasks
       << " test users with >= 20 support ratings; K random support ratings, the same subsets for "
          "every method): per model, the meta-learning method and the fine-tuned baseline with the "
          "lowest validation MAE. Cells: query MAE / query nDCG@3 / Recall@10 of the served "
          "list (blend with EASE fold-in, weight chosen on validation; relevant = query ratings >= 4, "
          "candidates = every item not in the K support ratings).\n\n| method |";
    for (const auto k : curve_k) md << " K=" << k << " |";
    md << "\n|---|";
    for (std::size_t i = 0; i < curve_k.size(); ++i) md << "---|";
    md << "\n";
    for (const CurveSeries& c : curve) {
      md << "| " << c.label << " |";
      for (std::size_t i = 0; i < curve_k.size(); ++i) {
        char buf[64];
        if (c.mae.empty())
          std::snprintf(buf, sizeof buf, " - / - / %.4f |", c.recall10[i]);
        else if (c.recall10.empty())
          std::snprintf(buf, sizeof buf, " %.4f / %.4f / - |", c.mae[i], c.ndcg3[i]);
        else
          std::snprintf(buf, sizeof buf, " %.4f / %.4f / %.4f |", c.mae[i], c.ndcg3[i], c.recall10[i]);
        md << buf;
      }
      md << "\n";
    }
  }
  if (!topn.empty()) {
    std::size_t val_users = topn.front().validation.users, test_users = topn.front().test.users;
    md << "\nTop-10 for new users (what `metarec adapt` returns): the " << test_users
       << " melu-user-cold test users with a query item rated >= 4; candidates = EVERY item not in "
          "the user's support set (" << ds.num_items() << " items less the support), relevant = the "
          "query items rated >= 4; Recall@10 and NDCG@10 (binary, RecBole's conventions), mean over "
          "users. Rating models are adapted to the support set through the serving path "
          "(new_user_dataset + score_new_user) and rank by unclipped predicted rating. Settings "
          "(EASE's lambda, the blend weight w) chosen on the "
       << val_users << " validation users' NDCG@10.\n\n"
       << "| model | method | setting | validation NDCG@10 | test Recall@10 | test NDCG@10 |\n"
          "|---|---|---|---:|---:|---:|\n";
    for (const TopNRow& r : topn) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " %.4f | %.4f | %.4f |\n", r.validation.ndcg, r.test.recall, r.test.ndcg);
      md << "| " << r.model << " | " << r.method << " | " << r.setting << " |" << buf;
    }
  }
  if (!timing.empty()) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "\nMeta-training cost per task, MeLU-sized model (%zu-task subset of the warm "
                  "tasks, mean support %.1f ratings, query 10; %d run(s) each, min - max; CPU = "
                  "CPU time of the calling thread, which does all the work with 1 thread):\n\n"
                  "| algorithm | threads | CPU ms / task | wall ms / task |\n|---|---:|---:|---:|\n",
                  quick ? std::size_t{128} : std::size_t{512}, mean_support, repeats);
    md << buf;
    for (const auto& t : timing) {
      double cmin = 1e300, cmax = 0, wmin = 1e300, wmax = 0;
      for (const Cost& c : t.runs) {
        cmin = std::min(cmin, c.cpu_ms), cmax = std::max(cmax, c.cpu_ms);
        wmin = std::min(wmin, c.wall_ms), wmax = std::max(wmax, c.wall_ms);
      }
      if (t.threads == 1)
        std::snprintf(buf, sizeof buf, "| %s | 1 | %.3f - %.3f | %.3f - %.3f |\n", t.label.c_str(),
                      cmin, cmax, wmin, wmax);
      else
        std::snprintf(buf, sizeof buf, "| %s | %d | - | %.3f - %.3f |\n",
                      t.label.c_str(), t.threads, wmin, wmax);
      md << buf;
    }
  }
  if (!serving.empty()) {
    md << "\nServing a new user (registry::recommend_new_user, as `metarec adapt`; one thread): the "
       << serving.front().users << " melu-user-cold test users' ratings and side features in, θ adapted ("
       << serving.front().steps << " inner steps, the registry's inner loop), every unrated item of "
       << ds.num_items() << " scored, the top 10 out; EASE (λ 1000) fitted once beforehand. Latency per user:\n\n"
          "| model | ranking | users / s | p50 ms | p99 ms |\n|---|---|---:|---:|---:|\n";
    for (const Serving& v : serving) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "| %s | %s | %.0f | %.3f | %.3f |\n", v.model.c_str(), v.rank.c_str(),
                    v.users_per_s, v.p50_ms, v.p99_ms);
      md << buf;
    }
  }
  std::printf("\n%s", md.str().c_str());
  if (auto f = args.get("--md")) metarec::detail::write_file_atomically(*f, md.str(), "bench_cold_start");
  if (auto f = args.get("--out")) {
    std::ostringstream csv;
    csv << "model,method,scenario,mae,rmse,ndcg1,ndcg3,ndcg3_melu_tf_variant,tasks,seconds,"
           "mae_calibrated,rmse_calibrated,recall10,ndcg10\n";
    for (const Result& r : results)
      csv << csv_field(r.model) << ',' << csv_field(r.method) << ',' << csv_field(r.scenario) << ','
          << r.q.mae << ',' << r.q.rmse << ','
          << r.q.ndcg1 << ',' << r.q.ndcg3 << ',' << r.ndcg3_variant << ',' << r.q.tasks << ','
          << r.seconds << ',' << r.mae_cal << ',' << r.rmse_cal << ",,\n";
    for (const TopNRow& r : topn)
      csv << "topn," << csv_field(r.model + " " + r.method + " (" + r.setting + ")") << ",melu-user-cold,,,,,,"
          << r.test.users << ",,,," << r.test.recall << ',' << r.test.ndcg << '\n';
    for (const CurveSeries& c : curve)
      for (std::size_t i = 0; i < curve_k.size(); ++i) {
        csv << "curve," << csv_field(c.label) << ",melu-user-cold K=" << curve_k[i] << ',';
        if (!c.mae.empty()) csv << c.mae[i];
        csv << ",,,";
        if (!c.ndcg3.empty()) csv << c.ndcg3[i];
        csv << ",," << curve_tasks << ",,,,";
        if (!c.recall10.empty()) csv << c.recall10[i];
        csv << ",\n";
      }
    for (const auto& t : timing)
      for (const Cost& c : t.runs)
        csv << "timing," << t.label << " " << t.threads << " thread(s),cpu_ms " << c.cpu_ms
            << ",wall_ms " << c.wall_ms << ",,,,,,,,,,\n";
    for (const Serving& v : serving)
      csv << "serving," << csv_field(v.model + " " + v.rank) << ",users_per_s " << v.users_per_s << ",p50_ms "
          << v.p50_ms << ",p99_ms " << v.p99_ms << ",,,,,,,,,\n";
    metarec::detail::write_file_atomically(*f, csv.str(), "bench_cold_start");
  }
  if (auto f = args.get("--svg-topn"); f && !topn.empty())
    metarec::detail::write_file_atomically(*f, svg_top_n(topn), "bench_cold_start");
  if (auto f = args.get("--svg"); f && !curve.empty())
    metarec::detail::write_file_atomically(*f, svg_curve(curve_k, curve), "bench_cold_start");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_cold_start: %s\n", e.what());
  return 1;
}
