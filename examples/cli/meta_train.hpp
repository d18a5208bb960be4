#pragma once
// `metarec meta-train`: meta-train a cold-start model (mf-bias and mf-side with a shared,
// adapted user vector p0; melu with adapted decision layers) with MAML, first-order MAML, Reptile
// or Meta-SGD on the warm tasks of a MeLU protocol, then report query MAE / RMSE / nDCG@1 / nDCG@3
// on the protocol's test tasks after K inner steps. `--save` writes θ (and Meta-SGD's α) with the
// model configuration, for `metarec adapt`.
//
// The helpers here (MetaConfig, with_meta_model, meta_train_model, evaluate_tasks, fit_global)
// are also used by benchmarks/bench_cold_start.cpp and examples/cli/adapt.hpp.

#include "args.hpp"

#include <metarec/core/error.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/data/split.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta/adapt.hpp>
#include <metarec/meta/maml.hpp>
#include <metarec/metrics/evaluation.hpp>
#include <metarec/metrics/regression.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/models/mlp/melu.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/callbacks.hpp>
#include <metarec/train/serialize.hpp>
#include <metarec/train/trainer.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec::cli {

/// Everything `metarec meta-train` can set. Negative numbers mean "the model's default".
struct MetaConfig {
  std::string model = "mf-bias";  ///< mf-bias | mf-side | melu
  std::string algo = "maml";      ///< maml | fomaml | reptile | metasgd
  int inner_steps = 5;
  double inner_lr = -1;           ///< mf: 0.5, melu: 0.05
  double outer_lr = -1;           ///< mf: 0.01, melu: 0.001
  std::uint32_t meta_batch = 32;
  int epochs = 10;
  std::string adapt = "local";    ///< local (p0/b0 or the decision layers) | all
  int dims = -1;                  ///< MF latent dims (16) / MeLU embedding width (32)
  std::vector<Eigen::Index> hidden = {64, 64};  ///< MeLU decision layers
  double reg = 0.01;              ///< MF L2
  double init_std = 0.1;          ///< MF factors start N(0, init_std²)
  int pretrain_epochs = 0;        ///< > 0: start meta-training from the global model (fit_global)
  int patience = 0;               ///< early stopping on validation tasks (0: off; needs validation)
  std::uint64_t seed = 42;
  int threads = 1;
};

inline bool is_mf(const std::string& model) { return model == "mf-bias" || model == "mf-side"; }

/// Fills the model-dependent defaults.
inline MetaConfig with_defaults(MetaConfig c) {
  const bool mf = is_mf(c.model);
  if (c.inner_lr < 0) c.inner_lr = mf ? 0.5 : 0.05;
  if (c.outer_lr < 0) c.outer_lr = mf ? 0.01 : 0.001;
  if (c.dims < 0) c.dims = mf ? 16 : 32;
  return c;
}

inline const std::vector<std::string>& meta_model_names() {
  static const std::vector<std::string> n{"mf-bias", "mf-side", "melu"};
  return n;
}
inline const std::vector<std::string>& meta_algo_names() {
  static const std::vector<std::string> n{"maml", "fomaml", "reptile", "metasgd"};
  return n;
}

/// Builds the model named by `c.model` on `ds` (μ = `mean`) and calls `f(model)`.
template <class F>
decltype(auto) with_meta_model(const MetaConfig& c, const Dataset& ds, double mean, F&& f) {
  if (c.model == "mf-bias") {
    const MatrixFactorization<float> m(
        ds.num_users(), ds.num_items(),
        {.dims = c.dims, .biases = true, .reg = c.reg, .bias_reg = c.reg, .init_std = c.init_std,
         .global_mean = mean, .shared_user = true});
    return f(m);
  }
  if (c.model == "mf-side") {
    const SideFeatureMF<float> m(ds, {.dims = c.dims, .reg = c.reg, .bias_reg = c.reg,
                                      .feature_reg = c.reg, .init_std = c.init_std,
                                      .global_mean = mean,
                                      .shared_user = true});
    return f(m);
  }
  if (c.model == "melu") {
    MeluModelOptions o;
    o.embedding_dim = c.dims;
    o.hidden = c.hidden;
    const Melu<float> m(ds, o);
    return f(m);
  }
  std::string known;
  for (const auto& n : meta_model_names()) known += (known.empty() ? "" : ", ") + n;
  throw UsageError("unknown --model '" + c.model + "' (known: " + known + ")");
}

inline AdaptOptions adapt_options(const MetaConfig& c) {
  return AdaptOptions{.steps = c.inner_steps, .lr = c.inner_lr,
                      .adapted = c.adapt == "all" ? AdaptedSet::all : AdaptedSet::local};
}

/// Query metrics of a set of tasks after adaptation.
struct QueryMetrics {
  double mae = 0, rmse = 0, ndcg1 = 0, ndcg3 = 0;
  std::size_t tasks = 0, rows = 0;
};

/// Every task's query rows (task after task) and the model's prediction for each after adapting θ
/// to the task's support set (`ao`; Meta-SGD's α when not null); `offset[t]` is where task t's rows
/// start. Predictions are the model's own (unclipped). Parallel over tasks (OpenMP), results
/// independent of the thread count.
struct TaskPredictions {
  std::vector<RowIndex> rows;
  std::vector<float> score;
  std::vector<std::size_t> offset;  ///< tasks + 1 entries
};

template <class M>
TaskPredictions predict_tasks(const M& model, const Vector<float>& theta, const Dataset& ds,
                              std::span<const Task> tasks, const AdaptOptions& ao,
                              const Vector<float>* alpha = nullptr) {
  TaskPredictions out;
  out.offset.assign(tasks.size() + 1, 0);
  for (std::size_t t = 0; t < tasks.size(); ++t) out.offset[t + 1] = out.offset[t] + tasks[t].query.size();
  out.rows.resize(out.offset.back());
  out.score.resize(out.offset.back());
  std::exception_ptr error;
  const auto n_tasks = static_cast<std::ptrdiff_t>(tasks.size());
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 4)
#endif
  for (std::ptrdiff_t t = 0; t < n_tasks; ++t) {
    try {
      const Task& task = tasks[static_cast<std::size_t>(t)];
      const RatingBatch support{&ds, task.support, 0}, query{&ds, task.query, 0};
      const Vector<float> adapted =
          ao.steps > 0 ? metarec::adapt(model, theta, support, ao, alpha) : theta;
      Vector<float> p(static_cast<Eigen::Index>(task.query.size()));
      model.predict(adapted, query, p);
      for (std::size_t k = 0; k < task.query.size(); ++k) {
        const std::size_t at = out.offset[static_cast<std::size_t>(t)] + k;
        out.rows[at] = task.query[k];
        out.score[at] = p[static_cast<Eigen::Index>(k)];
      }
    } catch (...) {
#if defined(_OPENMP)
#pragma omp critical
#endif
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return out;
}

/// Scores query predictions: MAE and RMSE over all query rows (predictions clipped to the rating
/// scale, as every rating predictor is used), MeLU's nDCG@1/@3 (gain 2^r − 1) averaged over users,
/// ranking by the model's score itself (clipping would tie every item predicted above 5 or below
/// 1 and leave their order to the item index).
inline QueryMetrics score_predictions(const Dataset& ds, const TaskPredictions& p) {
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

/// Adapts θ to every task's support set and scores the query predictions (`predict_tasks`,
/// `score_predictions`).
template <class M>
QueryMetrics evaluate_tasks(const M& model, const Vector<float>& theta, const Dataset& ds,
                            std::span<const Task> tasks, const AdaptOptions& ao,
                            const Vector<float>* alpha = nullptr) {
  return score_predictions(ds, predict_tasks(model, theta, ds, tasks, ao, alpha));
}

template <class M>
double fit_global(const M& model, Vector<float>& theta, const Dataset& ds,
                  std::span<const RowIndex> rows, const MetaConfig& c, int epochs);

/// The result of meta-training.
struct MetaRun {
  double seconds = 0;           ///< meta-training (outer loop) seconds
  double pretrain_seconds = 0;  ///< global pre-training seconds (pretrain_epochs > 0)
  Vector<float> alpha;  ///< Meta-SGD's learned α (empty otherwise)
  MamlResult result;
};

/// Meta-trains θ with `Algorithm`; with `validation` tasks, θ ends as the epoch with the lowest
/// mean validation query loss (early stopping after `c.patience` epochs without improvement).
template <class Algorithm, class M>
MetaRun meta_train_with(const M& model, Vector<float>& theta, const Dataset& ds,
                        std::span<const Task> tasks, const MetaConfig& c,
                        std::span<const Task> validation = {}) {
  MamlOptions o;
  o.inner_steps = c.inner_steps;
  o.inner_lr = c.inner_lr;
  o.adapted = c.adapt == "all" ? AdaptedSet::all : AdaptedSet::local;
  o.epochs = static_cast<std::uint64_t>(c.epochs);
  o.seed = c.seed;
  o.patience = c.patience;
  Maml<M, Algorithm> maml(model, o, Adam<float>(AdamOptions{.lr = c.outer_lr}));
  TaskSampler sampler(tasks, c.meta_batch, c.seed);
  MetaRun run;
  const auto t0 = std::chrono::steady_clock::now();
  run.result = maml.train(theta, ds, sampler, validation);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if constexpr (Algorithm::learns_alpha) run.alpha = maml.alpha();
  return run;
}

/// Meta-trains θ with `c.algo` on `tasks`. θ starts from the seed's random initialisation, or,
/// with `c.pretrain_epochs > 0`, from the global model fitted on `pretrain_rows`.
template <class M>
MetaRun meta_train_model(const M& model, Vector<float>& theta, const Dataset& ds,
                         std::span<const Task> tasks, const MetaConfig& c,
                         std::span<const RowIndex> pretrain_rows = {}) {
  double pre = 0;
  if (c.pretrain_epochs > 0) {
    pre = fit_global(model, theta, ds, pretrain_rows, c, c.pretrain_epochs);
  } else {
    theta.resize(model.num_parameters());
    Rng rng(derive_seed(c.seed, 0x494E4954u));  // "INIT"
    model.initialize(theta, rng);
  }
  MetaRun run;
  if (c.algo == "maml") run = meta_train_with<SecondOrderMaml>(model, theta, ds, tasks, c);
  else if (c.algo == "fomaml") run = meta_train_with<FirstOrderMaml>(model, theta, ds, tasks, c);
  else if (c.algo == "reptile") run = meta_train_with<Reptile>(model, theta, ds, tasks, c);
  else if (c.algo == "metasgd") run = meta_train_with<MetaSgd>(model, theta, ds, tasks, c);
  else throw UsageError("unknown --algo '" + c.algo + "' (known: maml, fomaml, reptile, metasgd)");
  run.pretrain_seconds = pre;
  return run;
}

/// The non-meta baseline: the same model trained on the pooled rows (`fit`). MF: per-rating SGD;
/// MeLU: Adam on mini-batches. Returns the training seconds.
template <class M>
double fit_global(const M& model, Vector<float>& theta, const Dataset& ds,
                  std::span<const RowIndex> rows, const MetaConfig& c, int epochs) {
  theta.resize(model.num_parameters());
  Rng rng(derive_seed(c.seed, 0x494E4954u));
  model.initialize(theta, rng);
  TrainResult r;
  if (is_mf(c.model)) {
    Sgd<float> opt{SgdOptions{.lr = 0.01}};
    r = fit(model, theta, opt, ds, rows, TrainOptions{.epochs = epochs, .batch_size = 1, .seed = c.seed});
  } else {
    Adam<float> opt{AdamOptions{.lr = 1e-3}};
    r = fit(model, theta, opt, ds, rows, TrainOptions{.epochs = epochs, .batch_size = 64, .seed = c.seed});
  }
  return r.seconds;
}

/// Protocol names from `--protocol`: one name, a comma-separated list, or `all` (the four MeLU
/// scenarios).
inline std::vector<std::string> melu_protocols(const std::string& spec) {
  if (spec == "all") return {"melu-warm", "melu-user-cold", "melu-item-cold", "melu-user-item-cold"};
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = spec.find(',', start);
    out.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const auto& p : out)
    if (p.rfind("melu-", 0) != 0)
      throw UsageError("--protocol: '" + p + "' is not a MeLU protocol (melu-warm, melu-user-cold, "
                       "melu-item-cold, melu-user-item-cold or all)");
  return out;
}

/// The configuration stored in a saved meta-model (key=value lines), and its reader.
inline std::string meta_config_string(const MetaConfig& c, double mean, const std::string& data,
                                      const Dataset& ds, bool has_alpha) {
  std::ostringstream s;
  s << "model=" << c.model << "\nalgo=" << c.algo << "\ninner_steps=" << c.inner_steps
    << "\ninner_lr=" << metarec::detail::json_number(c.inner_lr) << "\nadapt=" << c.adapt
    << "\ndims=" << c.dims << "\nhidden=";
  for (std::size_t k = 0; k < c.hidden.size(); ++k) s << (k ? "," : "") << c.hidden[k];
  const DataFingerprint fp = data_fingerprint(ds);
  s << "\nreg=" << metarec::detail::json_number(c.reg)
    << "\ninit_std=" << metarec::detail::json_number(c.init_std)
    << "\nglobal_mean=" << metarec::detail::json_number(mean) << "\nseed=" << c.seed
    << "\nalpha=" << (has_alpha ? 1 : 0) << "\ndata=" << data << "\nusers=" << ds.num_users()
    << "\nitems=" << ds.num_items() << "\nfingerprint=" << fp.ratings << ':' << fp.hash << '\n';
  return s.str();
}

inline std::map<std::string, std::string> parse_config(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

/// Parameter-file model name of a meta-trained model.
inline std::string meta_file_model(const std::string& model) { return "meta:" + model; }

inline void print_meta_train_help() {
  std::printf(
      "usage: metarec meta-train --model M --algo A [options] [--json]\n\n"
      "Meta-trains a cold-start model on the warm tasks of a MeLU protocol and reports, for each\n"
      "scenario, the query MAE, RMSE, nDCG@1 and nDCG@3 of the test tasks after K inner steps on\n"
      "their support sets, and the meta-training time.\n\n"
      "  --model M         mf-bias, mf-side (both with a shared, adapted user vector p0) or melu\n"
      "  --algo A          maml (second order), fomaml, reptile or metasgd (maml)\n"
      "  --inner-steps K   inner gradient steps per task (5)\n"
      "  --inner-lr A      inner step size (mf: 0.5, melu: 0.05)\n"
      "  --outer-lr B      Adam step size of the outer loop (mf: 0.01, melu: 0.001)\n"
      "  --meta-batch N    tasks per outer step (32)\n"
      "  --epochs E        passes over the meta-training tasks (10)\n"
      "  --protocol P      melu-warm, melu-user-cold, melu-item-cold, melu-user-item-cold, a\n"
      "                    comma-separated list, or all (melu-user-cold)\n"
      "  --data DIR        MovieLens directory (default: $METAREC_DATA or the shipped sample)\n"
      "  --adapt all|local what the inner loop adapts: local = p0, b0 (mf) or the decision layers\n"
      "                    (melu); all = every parameter the support set touches (local)\n"
      "  --dims D          MF latent dims (16) / MeLU embedding width (32)\n"
      "  --hidden LIST     MeLU decision layers (64,64)\n"
      "  --reg X           MF L2 regularisation (0.01)\n"
      "  --init-std X      MF factors start N(0, X^2) (0.1)\n"
      "  --pretrain-epochs N  start from the global model trained N epochs on the pooled warm\n"
      "                    ratings (0: random initialisation)\n"
      "  --threads T       OpenMP threads across the tasks of a meta-batch (1); same results\n"
      "  --seed S          seed of the protocol, initialisation and task order (42)\n"
      "  --save FILE       write theta (+ alpha for metasgd) and the model configuration\n"
      "  --json            print a JSON object as the last line\n");
}

inline std::string metrics_json(const QueryMetrics& q) {
  using metarec::detail::json_number;
  return "{\"mae\":" + json_number(q.mae) + ",\"rmse\":" + json_number(q.rmse) + ",\"ndcg@1\":" +
         json_number(q.ndcg1) + ",\"ndcg@3\":" + json_number(q.ndcg3) +
         ",\"tasks\":" + std::to_string(q.tasks) + ",\"rows\":" + std::to_string(q.rows) + "}";
}

inline int run_meta_train(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"--model", "--algo", "--inner-steps", "--inner-lr", "--outer-lr", "--meta-batch",
                   "--epochs", "--protocol", "--data", "--adapt", "--threads", "--seed", "--save",
                   "--dims", "--hidden", "--reg", "--pretrain-epochs", "--init-std"},
                  {});
  if (args.has("--help")) {
    print_meta_train_help();
    return 0;
  }
  MetaConfig c;
  c.model = args.get_or("--model", c.model);
  c.algo = args.get_or("--algo", c.algo);
  c.inner_steps = args.number<int>("--inner-steps", c.inner_steps);
  c.inner_lr = args.number<double>("--inner-lr", c.inner_lr);
  c.outer_lr = args.number<double>("--outer-lr", c.outer_lr);
  c.meta_batch = args.number<std::uint32_t>("--meta-batch", c.meta_batch);
  c.epochs = args.number<int>("--epochs", c.epochs);
  c.adapt = args.get_or("--adapt", c.adapt);
  c.threads = args.number<int>("--threads", c.threads);
  c.seed = args.number<std::uint64_t>("--seed", c.seed);
  c.dims = args.number<int>("--dims", c.dims);
  c.hidden = args.list<Eigen::Index>("--hidden", c.hidden);
  c.reg = args.number<double>("--reg", c.reg);
  c.pretrain_epochs = args.number<int>("--pretrain-epochs", c.pretrain_epochs);
  c.init_std = args.number<double>("--init-std", c.init_std);
  const std::string save = args.get_or("--save", "");
  const bool json = args.has("--json");
  bool known_model = false, known_algo = false;
  for (const auto& n : meta_model_names()) known_model |= n == c.model;
  for (const auto& n : meta_algo_names()) known_algo |= n == c.algo;
  if (!known_model) throw UsageError("unknown --model '" + c.model + "' (known: mf-bias, mf-side, melu)");
  if (!known_algo)
    throw UsageError("unknown --algo '" + c.algo + "' (known: maml, fomaml, reptile, metasgd)");
  if (c.adapt != "all" && c.adapt != "local")
    throw UsageError("--adapt must be all or local (got '" + c.adapt + "')");
  if (c.inner_steps < 0) throw UsageError("--inner-steps must be >= 0");
  if (args.has("--inner-lr") && !(c.inner_lr > 0)) throw UsageError("--inner-lr must be > 0");
  if (args.has("--outer-lr") && !(c.outer_lr > 0)) throw UsageError("--outer-lr must be > 0");
  if (c.meta_batch < 1) throw UsageError("--meta-batch must be >= 1");
  if (c.epochs < 0) throw UsageError("--epochs must be >= 0");
  if (!(c.init_std >= 0)) throw UsageError("--init-std must be >= 0");
  if (c.pretrain_epochs < 0) throw UsageError("--pretrain-epochs must be >= 0");
  if (c.threads < 1) throw UsageError("--threads must be >= 1");
  if (args.has("--dims") && c.dims < 1) throw UsageError("--dims must be >= 1");
  for (const auto h : c.hidden)
    if (h < 1) throw UsageError("--hidden: every size must be >= 1");
  c = with_defaults(c);
  const std::vector<std::string> protocols = melu_protocols(args.get_or("--protocol", "melu-user-cold"));
#if defined(_OPENMP)
  omp_set_num_threads(c.threads);
#endif

  if (!save.empty() && std::filesystem::path(save).has_parent_path())
    std::filesystem::create_directories(std::filesystem::path(save).parent_path());
  const std::string dir = default_data_dir(args);
  const Dataset ds = load_movielens(dir);
  std::vector<ProtocolSplit> splits;
  for (const auto& p : protocols) splits.push_back(make_protocol_split(p, ds, c.seed));
  // Every MeLU scenario meta-trains on the same warm tasks (same seed).
  const std::vector<Task>& train_tasks = splits.front().train_tasks;
  if (train_tasks.empty())
    throw std::runtime_error("the protocol has no meta-training tasks on " + dir);
  const double mean = ds.mean_rating(splits.front().split.train);

  return with_meta_model(c, ds, mean, [&](const auto& model) {
    Vector<float> theta;
    const MetaRun run = meta_train_model(model, theta, ds, train_tasks, c, splits.front().split.train);
    const Vector<float>* alpha = run.alpha.size() > 0 ? &run.alpha : nullptr;
    std::vector<QueryMetrics> results;
    for (const auto& s : splits)
      results.push_back(evaluate_tasks(model, theta, ds, s.test_tasks, adapt_options(c), alpha));
    if (!save.empty()) {
      Vector<float> payload(theta.size() + (alpha ? alpha->size() : 0));
      payload.head(theta.size()) = theta;
      if (alpha) payload.tail(alpha->size()) = *alpha;
      save_parameters<float>(save, meta_file_model(c.model),
                             meta_config_string(c, mean, dir, ds, alpha != nullptr), payload);
    }
    std::printf("model %s  algo %s  data %s (%u users, %u items, %zu ratings)\n", c.model.c_str(),
                c.algo.c_str(), dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings());
    std::printf("parameters %lld  inner %d steps x %g (%s)  outer Adam %g  meta-batch %u  epochs %d\n",
                static_cast<long long>(model.num_parameters()), c.inner_steps, c.inner_lr,
                c.adapt.c_str(), c.outer_lr, c.meta_batch, c.epochs);
    std::printf("meta-training %zu tasks, %.2f s (%d thread%s)", train_tasks.size(), run.seconds,
                c.threads, c.threads == 1 ? "" : "s");
    if (c.pretrain_epochs > 0)
      std::printf("; pre-training %d epochs, %.2f s", c.pretrain_epochs, run.pretrain_seconds);
    std::printf("\n");
    std::printf("%-22s %6s %7s %7s %7s %7s\n", "scenario", "tasks", "MAE", "RMSE", "nDCG@1", "nDCG@3");
    for (std::size_t k = 0; k < splits.size(); ++k)
      std::printf("%-22s %6zu %7.4f %7.4f %7.4f %7.4f\n", protocols[k].c_str(), results[k].tasks,
                  results[k].mae, results[k].rmse, results[k].ndcg1, results[k].ndcg3);
    if (!save.empty()) std::printf("saved %s\n", save.c_str());
    if (json) {
      std::string scen;
      for (std::size_t k = 0; k < splits.size(); ++k)
        scen += (k ? "," : "") + ("\"" + protocols[k] + "\":" + metrics_json(results[k]));
      std::printf(
          "{\"model\":\"%s\",\"algo\":\"%s\",\"data\":\"%s\",\"seed\":%llu,\"inner_steps\":%d,"
          "\"inner_lr\":%s,\"outer_lr\":%s,\"meta_batch\":%u,\"epochs\":%d,\"adapt\":\"%s\","
          "\"parameters\":%lld,\"train_tasks\":%zu,\"meta_train_seconds\":%s,\"pretrain_epochs\":%d,"
          "\"pretrain_seconds\":%s,\"scenarios\":{%s}}\n",
          c.model.c_str(), c.algo.c_str(), json_escape(dir).c_str(),
          static_cast<unsigned long long>(c.seed), c.inner_steps,
          metarec::detail::json_number(c.inner_lr).c_str(),
          metarec::detail::json_number(c.outer_lr).c_str(), c.meta_batch, c.epochs,
          c.adapt.c_str(), static_cast<long long>(model.num_parameters()), train_tasks.size(),
          metarec::detail::json_number(run.seconds).c_str(), c.pretrain_epochs,
          metarec::detail::json_number(run.pretrain_seconds).c_str(), scen.c_str());
    }
    return 0;
  });
}

}  // namespace metarec::cli
