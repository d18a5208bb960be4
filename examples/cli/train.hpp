#pragma once
// `metarec train`: train one model on a protocol's split and report its metrics on each split:
// MSE/RMSE/MAE for rating models (MF family, MeLU), AUC and log loss for the classifiers of the
// MLP family (BCE on rating > 3). Models whose header is not in this build are reported as not
// available. Also used by benchmarks/bench_mf.cpp and benchmarks/bench_mlp.cpp (train_model()).

#include "args.hpp"

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/metrics/classification.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/optim.hpp>
#include <metarec/train.hpp>

#if __has_include(<metarec/models/mf/side_feature_mf.hpp>)
#include <metarec/models/mf/side_feature_mf.hpp>
#define METAREC_CLI_HAS_SIDE_MF 1
#endif
#if __has_include(<metarec/models/mf/mixture_mf.hpp>)
#include <metarec/models/mf/mixture_mf.hpp>
#define METAREC_CLI_HAS_MIXTURE_MF 1
#endif
#if __has_include(<metarec/models/mf/temporal_mf.hpp>)
#include <metarec/models/mf/temporal_mf.hpp>
#define METAREC_CLI_HAS_TEMPORAL_MF 1
#endif
#if __has_include(<metarec/models/mf/factorization_machine.hpp>)
#include <metarec/models/mf/factorization_machine.hpp>
#define METAREC_CLI_HAS_FM 1
#endif
#if __has_include(<metarec/models/mf/variational_mf.hpp>)
#include <metarec/models/mf/variational_mf.hpp>
#define METAREC_CLI_HAS_VARIATIONAL_MF 1
#endif
#if __has_include(<metarec/models/mf/svdpp.hpp>)
#include <metarec/models/mf/svdpp.hpp>
#define METAREC_CLI_HAS_SVDPP 1
#endif
#if __has_include(<metarec/models/mlp.hpp>)
#include <metarec/models/mlp.hpp>
#define METAREC_CLI_HAS_MLP 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace metarec::cli {

/// Everything `metarec train` can set.
struct TrainConfig {
  std::string model = "mf-bias";
  int dims = 64;
  int epochs = 20;
  double lr = -1;          // < 0: the optimiser's default below
  double reg = 0.05;
  double bias_reg = -1;    // < 0: same as reg
  double lr_decay = 1.0;   // epoch e runs at lr·lr_decay^e (TrainOptions::lr_decay; 1: constant)
  double init_std = -1;    // MF family: factors start N(0, init_std²); < 0: the model's default
  std::size_t batch = 1;
  std::uint64_t seed = 42;
  int threads = 1;
  std::string optimizer = "sgd";
  int patience = -1;       // < 0: 3 when the protocol has validation rows, else off
  std::string save;        // parameter file
  std::string log;         // JSON-lines log
  bool progress = true;    // progress on stderr
  // MLP family (ignored by the MF models):
  std::vector<Eigen::Index> hidden;  // empty: the model's default tower
  double dropout = 0.0;
  bool side_features = false;
  std::string loss;        // "bce" or "mse"; empty: bce, except melu (mse)
  // Rating models: evaluate the test rows after every epoch (a measurement for benchmarks, it
  // chooses nothing) into TrainReport::test_trace; its CPU time is not in cpu_seconds.
  bool trace_test = false;
};

/// Test error after one epoch (TrainConfig::trace_test).
struct EpochTestPoint {
  int epoch = 0;
  double train_cpu_seconds = 0;  // this thread's CPU s in fit up to the end of this epoch, evaluations excluded
  double test_mse = 0;
};

/// AUC and log loss of a classifier on some rows (label: rating > 3).
struct ClassifierMetrics {
  double auc = std::numeric_limits<double>::quiet_NaN();
  double log_loss = std::numeric_limits<double>::quiet_NaN();
  std::size_t count = 0;
};

/// What one training run gives.
struct TrainReport {
  bool available = false;
  std::string note;        // why not available
  RatingErrors train, valid, test;
  int epochs_run = 0;
  int best_epoch = -1;
  double seconds = 0;      // training wall time (fit only)
  double cpu_seconds = 0;  // training CPU time of this process (fit only)
  Eigen::Index parameters = 0;
  bool classifier = false; // true: the metrics below, not RatingErrors
  ClassifierMetrics train_c, valid_c, test_c;
  std::vector<EpochInfo> history;  // per epoch: train loss, validation metric, seconds
  std::vector<EpochTestPoint> test_trace;  // with TrainConfig::trace_test
  double trace_cpu_seconds = 0;  // this thread's CPU s spent on the test_trace evaluations
};

inline const std::vector<std::string>& train_model_names() {
  static const std::vector<std::string> names{
      "mf",        "mf-bias", "mf-side", "mf-temporal", "fm",     "mf-mixture", "mf-variational",
      "svdpp",
      "wide-deep", "deepfm",  "xdeepfm", "nfm",         "ncf-gmf", "ncf-mlp",   "neumf",
      "melu"};
  return names;
}

/// The models of the MLP family (docs/models_mlp.md), trained with mini-batch Adam by default.
inline bool is_mlp_model(const std::string& m) {
  return m == "wide-deep" || m == "deepfm" || m == "xdeepfm" || m == "nfm" || m == "ncf-gmf" ||
         m == "ncf-mlp" || m == "neumf" || m == "melu";
}

/// Embedding width of an MLP-family model when --dims is not given.
inline int default_mlp_dims(const std::string& m) {
  if (m == "melu") return 32;
  if (m == "ncf-gmf" || m == "ncf-mlp" || m == "neumf") return 32;
  return 16;
}

/// Process CPU time in seconds (std::clock), for timings on a shared machine.
inline double cpu_seconds_now() {
  return static_cast<double>(std::clock()) / static_cast<double>(CLOCKS_PER_SEC);
}

/// CPU time of the calling thread in seconds (std::clock where there is no thread clock).
inline double thread_cpu_seconds_now() {
#ifdef CLOCK_THREAD_CPUTIME_ID
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
#else
  return cpu_seconds_now();
#endif
}

/// AUC and log loss of `model` (probabilities from predict) on `rows`, label rating > threshold.
template <class M>
ClassifierMetrics classifier_metrics(const M& model, const ConstVectorRef<typename M::Scalar>& theta,
                                     const Dataset& ds, std::span<const RowIndex> rows,
                                     double threshold = 3.0, std::size_t chunk = 8192) {
  using S = typename M::Scalar;
  ClassifierMetrics out;
  out.count = rows.size();
  if (rows.empty()) return out;
  std::vector<double> p(rows.size());
  std::vector<std::uint8_t> y(rows.size());
  Vector<S> pred(static_cast<Eigen::Index>(std::min(chunk, rows.size())));
  for (std::size_t start = 0; start < rows.size(); start += chunk) {
    const std::size_t len = std::min(chunk, rows.size() - start);
    const RatingBatch batch{&ds, rows.subspan(start, len), 0};
    auto head = pred.head(static_cast<Eigen::Index>(len));
    model.predict(theta, batch, head);
    for (std::size_t k = 0; k < len; ++k) {
      p[start + k] = static_cast<double>(head[static_cast<Eigen::Index>(k)]);
      y[start + k] = ds.rating(batch.rows[k]) > threshold ? 1 : 0;
    }
  }
  out.auc = metrics::auc(y, std::span<const double>(p));
  out.log_loss = metrics::log_loss(y, std::span<const double>(p));
  return out;
}

inline double default_lr(const std::string& optimizer, std::size_t batch) {
  // The losses are means over the batch, so SGD's step per rating shrinks with the batch size.
  if (optimizer == "sgd") return 0.005 * static_cast<double>(batch);
  if (optimizer == "adagrad") return 0.05;
  return 1e-3;  // adam
}

namespace detail {

template <class O>
std::string set_options(O& o, const TrainConfig& c, double mean) {
  std::ostringstream cfg;
  const double breg = c.bias_reg < 0 ? c.reg : c.bias_reg;
  if constexpr (requires { o.dims; }) { o.dims = c.dims; cfg << "dims=" << c.dims << '\n'; }
  if constexpr (requires { o.reg; }) { o.reg = c.reg; cfg << "reg=" << c.reg << '\n'; }
  if constexpr (requires { o.feature_reg; }) { o.feature_reg = c.reg; cfg << "feature_reg=" << c.reg << '\n'; }
  if constexpr (requires { o.bias_reg; }) { o.bias_reg = breg; cfg << "bias_reg=" << breg << '\n'; }
  if constexpr (requires { o.global_mean; }) { o.global_mean = mean; cfg << "global_mean=" << mean << '\n'; }
  if constexpr (requires { o.init_std; }) {
    if (c.init_std > 0) { o.init_std = c.init_std; cfg << "init_std=" << c.init_std << '\n'; }
  }
  return cfg.str();
}

/// Validation callable for `fit`: AUC on fixed rows (higher is better).
template <class M>
struct AucOn {
  const M& model;
  const Dataset& data;
  std::span<const RowIndex> rows;
  double threshold = 3.0;
  [[nodiscard]] double operator()(const ConstVectorRef<typename M::Scalar>& theta) const {
    return classifier_metrics(model, theta, data, rows, threshold).auc;
  }
};

/// fit callback for TrainConfig::trace_test: test MSE after each epoch, timed on this thread's
/// CPU clock; the evaluation time is kept apart from the training time.
template <class M>
struct TestTrace {
  const M* model = nullptr;  // null: off
  const Vector<float>* theta = nullptr;
  const Dataset* data = nullptr;
  std::span<const RowIndex> rows;
  double cpu0 = 0, eval_cpu = 0;
  std::vector<EpochTestPoint> points;
  void on_epoch_end(const EpochInfo& e) {
    if (model == nullptr) return;
    const double t = thread_cpu_seconds_now();
    const double mse = rating_errors(*model, *theta, *data, rows).mse;
    points.push_back({e.epoch, t - cpu0 - eval_cpu, mse});
    eval_cpu += thread_cpu_seconds_now() - t;
  }
};

template <class M, class Opt>
void run_fit(const M& model, Vector<float>& theta, Opt& opt, const Dataset& ds, const Split& split,
             const TrainConfig& c, TrainReport& rep, bool classifier) {
  TestTrace<M> trace;
  if (c.trace_test && !classifier && !split.test.empty()) {
    trace.model = &model;
    trace.theta = &theta;
    trace.data = &ds;
    trace.rows = split.test;
  }
  const int patience = c.patience >= 0 ? c.patience : (split.valid.empty() ? 0 : 3);
  const TrainOptions options{.epochs = c.epochs, .batch_size = c.batch, .seed = c.seed,
                             .patience = split.valid.empty() ? 0 : patience,
                             .higher_is_better = classifier, .lr_decay = c.lr_decay};
  std::optional<JsonLinesLog> log;
  if (!c.log.empty()) log.emplace(std::filesystem::path(c.log));
  struct Optional {  // forwards to the progress bar and the log only when wanted
    ProgressBar* bar;
    JsonLinesLog* log;
    TestTrace<M>* trace;
    void on_train_begin(const TrainBegin& b) { if (bar) bar->on_train_begin(b); }
    void on_batch_end(const BatchInfo& b) { if (bar) bar->on_batch_end(b); }
    void on_epoch_end(const EpochInfo& e) {
      trace->on_epoch_end(e);
      if (bar) bar->on_epoch_end(e);
      if (log) log->on_epoch_end(e);
    }
    void on_train_end(const TrainResult& r) { if (log) log->on_train_end(r); }
  };
  ProgressBar bar(stderr);
  Optional cb{c.progress ? &bar : nullptr, log ? &*log : nullptr, &trace};
  // Without a progress bar no callback has a per-step hook, so fit may run whole epochs inside
  // the model (sgd_update_rows, trainer.hpp).
  struct LogOnly {
    JsonLinesLog* log;
    TestTrace<M>* trace;
    void on_epoch_end(const EpochInfo& e) {
      trace->on_epoch_end(e);
      if (log) log->on_epoch_end(e);
    }
    void on_train_end(const TrainResult& r) { if (log) log->on_train_end(r); }
  };
  auto run = [&](auto&& callback) {
    if (split.valid.empty())
      return fit(model, theta, opt, ds, split.train, options, NoValidation{}, callback);
    if (classifier)
      return fit(model, theta, opt, ds, split.train, options, AucOn<M>{model, ds, split.valid}, callback);
    return fit(model, theta, opt, ds, split.train, options, RmseOn{model, ds, split.valid}, callback);
  };
  const double cpu0 = cpu_seconds_now();
  trace.cpu0 = thread_cpu_seconds_now();
  TrainResult r = c.progress ? run(cb) : run(LogOnly{log ? &*log : nullptr, &trace});
  rep.cpu_seconds = cpu_seconds_now() - cpu0 - trace.eval_cpu;
  rep.test_trace = std::move(trace.points);
  rep.trace_cpu_seconds = trace.eval_cpu;
  rep.epochs_run = r.epochs_run;
  rep.best_epoch = r.best_epoch;
  rep.seconds = r.seconds;
  rep.history = std::move(r.history);
}

template <class M>
TrainReport train_with(const M& model, const std::string& config, const Dataset& ds,
                       const Split& split, const TrainConfig& c, bool classifier = false) {
  TrainReport rep;
  rep.available = true;
  rep.classifier = classifier;
  rep.parameters = model.num_parameters();
  Vector<float> theta(model.num_parameters());
  Rng rng(derive_seed(c.seed, 0x494E4954u));  // "INIT"
  model.initialize(theta, rng);
  const double lr = c.lr > 0 ? c.lr : default_lr(c.optimizer, c.batch);
  if (c.optimizer == "sgd") {
    Sgd<float> opt{SgdOptions{.lr = lr}};
    run_fit(model, theta, opt, ds, split, c, rep, classifier);
  } else if (c.optimizer == "adam") {
    // MLP family: --reg is AdamW's decoupled weight decay (lazy: touched rows only).
    Adam<float> opt{AdamOptions{.lr = lr, .weight_decay = classifier || is_mlp_model(c.model) ? c.reg : 0.0}};
    run_fit(model, theta, opt, ds, split, c, rep, classifier);
  } else if (c.optimizer == "adagrad") {
    Adagrad<float> opt{AdagradOptions{.lr = lr}};
    run_fit(model, theta, opt, ds, split, c, rep, classifier);
  } else {
    throw UsageError("--optimizer must be sgd, adam or adagrad (got '" + c.optimizer + "')");
  }
  if (classifier) {
    rep.train_c = classifier_metrics(model, theta, ds, split.train);
    rep.valid_c = classifier_metrics(model, theta, ds, split.valid);
    rep.test_c = classifier_metrics(model, theta, ds, split.test);
  } else {
    rep.train = rating_errors(model, theta, ds, split.train);
    rep.valid = rating_errors(model, theta, ds, split.valid);
    rep.test = rating_errors(model, theta, ds, split.test);
  }
  if (!c.save.empty()) {
    std::ostringstream cfg;
    cfg << config << "optimizer=" << c.optimizer << "\nlr=" << lr << "\nepochs=" << c.epochs
        << "\nbatch=" << c.batch << "\nseed=" << c.seed << "\nusers=" << ds.num_users()
        << "\nitems=" << ds.num_items() << '\n';
    save_parameters<float>(c.save, c.model, cfg.str(), theta);
  }
  return rep;
}

#ifdef METAREC_CLI_HAS_MLP
/// Builds and trains an MLP-family model (`is_mlp_model(c.model)`).
inline TrainReport train_mlp_model(const Dataset& ds, const Split& split, const TrainConfig& c) {
  const bool mse = c.loss == "mse" || (c.loss.empty() && c.model == "melu");
  const nn::LossKind loss = mse ? nn::LossKind::squared_error : nn::LossKind::bce;
  std::ostringstream cfg;
  cfg << "dims=" << c.dims << "\nloss=" << (mse ? "mse" : "bce") << "\ndropout=" << c.dropout
      << "\nside_features=" << (c.side_features ? 1 : 0) << "\nhidden=";
  for (std::size_t k = 0; k < c.hidden.size(); ++k) cfg << (k ? "," : "") << c.hidden[k];
  cfg << '\n';
  auto field = [&]<class M>(std::type_identity<M>) {
    FieldNetworkOptions o;
    o.embedding_dim = c.dims;
    if (!c.hidden.empty()) o.hidden = c.hidden;
    o.dropout = c.dropout;
    o.side_features = c.side_features;
    o.loss = loss;
    return train_with(M(ds, o), cfg.str(), ds, split, c, !mse);
  };
  if (c.model == "wide-deep") return field(std::type_identity<WideDeep<float>>{});
  if (c.model == "deepfm") return field(std::type_identity<DeepFm<float>>{});
  if (c.model == "xdeepfm") return field(std::type_identity<XDeepFm<float>>{});
  if (c.model == "nfm") return field(std::type_identity<Nfm<float>>{});
  if (c.model == "melu") {
    MeluModelOptions o;
    o.embedding_dim = c.dims;
    if (!c.hidden.empty()) o.hidden = c.hidden;
    o.dropout = c.dropout;
    o.loss = loss;
    // MeLU embeds the side features; --side-features adds nothing, ids are not embedded.
    return train_with(Melu<float>(ds, o), cfg.str(), ds, split, c, !mse);
  }
  NcfOptions o;
  o.variant = c.model == "ncf-gmf" ? NcfVariant::gmf : c.model == "ncf-mlp" ? NcfVariant::mlp : NcfVariant::neumf;
  o.mlp_dim = c.dims;
  if (o.variant == NcfVariant::gmf) o.gmf_dim = c.dims;
  if (!c.hidden.empty()) o.hidden = c.hidden;
  o.dropout = c.dropout;
  o.side_features = c.side_features;
  o.loss = loss;
  return train_with(Ncf<float>(ds, o), cfg.str(), ds, split, c, !mse);
}
#endif

}  // namespace detail

/// Trains `c.model` on `split` and evaluates it on every part. Unknown model: UsageError.
inline TrainReport train_model(const Dataset& ds, const Split& split, const TrainConfig& c) {
  const double mean = ds.mean_rating(split.train);
  if (c.model == "mf" || c.model == "mf-bias") {
    MatrixFactorizationOptions o;
    o.biases = c.model == "mf-bias";
    const std::string cfg = detail::set_options(o, c, mean) + "biases=" + (o.biases ? "1" : "0") + "\n";
    return detail::train_with(MatrixFactorization<float>(ds.num_users(), ds.num_items(), o), cfg, ds, split, c);
  }
  if (c.model == "mf-side") {
#ifdef METAREC_CLI_HAS_SIDE_MF
    SideFeatureMFOptions o;
    const std::string cfg = detail::set_options(o, c, mean);
    return detail::train_with(SideFeatureMF<float>(ds, o), cfg, ds, split, c);
#endif
  } else if (c.model == "mf-mixture") {
#ifdef METAREC_CLI_HAS_MIXTURE_MF
    MixtureMFOptions o;
    const std::string cfg = detail::set_options(o, c, mean);
    return detail::train_with(MixtureMF<float>(ds.num_users(), ds.num_items(), o), cfg, ds, split, c);
#endif
  } else if (c.model == "mf-variational") {
#ifdef METAREC_CLI_HAS_VARIATIONAL_MF
    VariationalMFOptions o;
    const std::string cfg = detail::set_options(o, c, mean);
    return detail::train_with(VariationalMF<float>(ds.num_users(), ds.num_items(), o), cfg, ds, split, c);
#endif
  } else if (c.model == "svdpp") {
#ifdef METAREC_CLI_HAS_SVDPP
    // SVD++: N(u) = the items of u's TRAINING rows (split.train), so validation and test rows never
    // enter the implicit sets; λ_y = --reg; whole-epoch SGD with the delayed y step (svdpp.hpp).
    SvdppOptions o;
    std::string cfg = detail::set_options(o, c, mean);
    o.implicit_reg = c.reg;
    cfg += "implicit_reg=" + std::to_string(o.implicit_reg) + "\nimplicit_lr_scale=" +
           std::to_string(o.implicit_lr_scale) + "\n";
    // No per-rating progress bar: an on_batch_end hook would make fit take the generic per-rating
    // step (every y_j of N(u) at every rating) instead of the whole-epoch delayed-implicit SGD.
    TrainConfig cs = c;
    cs.progress = false;
    return detail::train_with(SvdppMF<float>(ds, split.train, o), cfg, ds, split, cs);
#endif
  } else if (c.model == "mf-temporal") {
#ifdef METAREC_CLI_HAS_TEMPORAL_MF
    // Needs rating times: on data without them (the shared ML-1M copy) TemporalMF's constructor
    // throws std::invalid_argument naming the data set, which the tool reports with exit code 2
    // (the data cannot support the request, like a protocol that needs times; docs/cli.md).
    TemporalMFOptions o;
    const std::string cfg = detail::set_options(o, c, mean) + "time_bins=" + std::to_string(o.time_bins) + "\n";
    return detail::train_with(TemporalMF<float>(ds, o, split.train), cfg, ds, split, c);
#endif
  } else if (is_mlp_model(c.model)) {
#ifdef METAREC_CLI_HAS_MLP
    return detail::train_mlp_model(ds, split, c);
#endif
  } else if (c.model == "fm") {
#ifdef METAREC_CLI_HAS_FM
    FactorizationMachineOptions o;
    const std::string cfg = detail::set_options(o, c, mean);
    return detail::train_with(FactorizationMachine<float>(ds, o), cfg, ds, split, c);
#endif
  } else {
    std::string known;
    for (const auto& n : train_model_names()) known += (known.empty() ? "" : ", ") + n;
    throw UsageError("unknown --model '" + c.model + "' (known: " + known + ")");
  }
  TrainReport rep;
  rep.note = "model '" + c.model + "' is not available in this build";
  return rep;
}

inline void print_train_help() {
  std::printf(
      "usage: metarec train --model M --data DIR --protocol P [options] [--json]\n\n"
      "Trains a model on the protocol's train rows (early stopping on the validation rows when\n"
      "the protocol has them) and reports its metrics on every split: MSE, RMSE and MAE for\n"
      "rating models; AUC and log loss (label: rating > 3) for the BCE models of the MLP family.\n\n"
      "  --model M        MF family: mf, mf-bias, mf-side, mf-temporal, fm, mf-mixture,\n"
      "                   mf-variational, svdpp (default mf-bias); MLP family: wide-deep, deepfm, xdeepfm,\n"
      "                   nfm, ncf-gmf, ncf-mlp, neumf (BCE), melu (squared error)\n"
      "  --data DIR       MovieLens directory (default: $METAREC_DATA or the shipped sample)\n"
      "  --protocol P     seed-mf, seed-mlp, ml1m-90-10, ... (default seed-mf; MLP family seed-mlp)\n"
      "  --dims K         latent dimensions (MF 64) / embedding width (MLP family: 16; ncf 32, melu 32)\n"
      "  --epochs N       maximum epochs (20)\n"
      "  --lr X           learning rate (sgd: 0.005 x batch; adagrad: 0.05; adam: 0.001)\n"
      "  --reg X          MF: L2 on factors (0.05); MLP family: AdamW weight decay (0)\n"
      "  --bias-reg X     MF: L2 on biases (same as --reg)\n"
      "  --lr-decay X     multiply the learning rate by X after each epoch (1: constant)\n"
      "  --init-std X     MF family: factors start N(0, X^2) (the model's default)\n"
      "  --batch B        ratings per step (MF 1: per-rating SGD; MLP family 1024)\n"
      "  --seed S         seed of split, initialisation and shuffling (42)\n"
      "  --threads T      accepted for compatibility; training is single-threaded and deterministic\n"
      "  --optimizer O    sgd, adam or adagrad (MF sgd; MLP family adam)\n"
      "  --patience N     early-stopping patience (3 with validation rows; 0 = off)\n"
      "  --hidden LIST    MLP family: hidden layer sizes, e.g. 64,64 (the model's default)\n"
      "  --dropout P      MLP family: dropout after hidden layers, in [0, 1) (0)\n"
      "  --side-features  MLP family: also embed the user and item side features\n"
      "  --loss L         MLP family: bce (label rating > 3) or mse (default bce; melu mse)\n"
      "  --save FILE      write the parameters (checksummed metarec parameter file)\n"
      "  --log FILE       JSON-lines log, one object per epoch\n"
      "  --quiet          no progress on stderr\n"
      "  --json           print a JSON object as the last line\n");
}

inline std::string errors_json(const RatingErrors& e) {
  return "{\"mse\":" + metarec::detail::json_number(e.mse) + ",\"rmse\":" +
         metarec::detail::json_number(e.rmse) + ",\"mae\":" + metarec::detail::json_number(e.mae) +
         ",\"rows\":" + std::to_string(e.count) + "}";
}

inline std::string classifier_json(const ClassifierMetrics& e) {
  return "{\"auc\":" + metarec::detail::json_number(e.auc) + ",\"log_loss\":" +
         metarec::detail::json_number(e.log_loss) + ",\"rows\":" + std::to_string(e.count) + "}";
}

inline int run_train(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"--model", "--data", "--protocol", "--dims", "--epochs", "--lr", "--reg", "--bias-reg", "--lr-decay", "--init-std",
                   "--batch", "--seed", "--threads", "--optimizer", "--patience", "--save", "--log",
                   "--hidden", "--dropout", "--loss"},
                  {"--quiet", "--side-features"});
  if (args.has("--help")) {
    print_train_help();
    return 0;
  }
  TrainConfig c;
  c.model = args.get_or("--model", c.model);
  bool known = false;
  for (const auto& n : train_model_names()) known |= n == c.model;
  if (!known) {
    std::string list;
    for (const auto& n : train_model_names()) list += (list.empty() ? "" : ", ") + n;
    throw UsageError("unknown --model '" + c.model + "' (known: " + list + ")");
  }
  const bool mlp = is_mlp_model(c.model);
  if (mlp) {  // the MLP family's defaults: mini-batch Adam, no weight decay
    c.dims = default_mlp_dims(c.model);
    c.batch = 1024;
    c.optimizer = "adam";
    c.reg = 0.0;
  }
  c.dims = args.number<int>("--dims", c.dims);
  c.epochs = args.number<int>("--epochs", c.epochs);
  c.lr = args.number<double>("--lr", c.lr);
  c.reg = args.number<double>("--reg", c.reg);
  c.bias_reg = args.number<double>("--bias-reg", c.bias_reg);
  c.lr_decay = args.number<double>("--lr-decay", c.lr_decay);
  c.init_std = args.number<double>("--init-std", c.init_std);
  c.batch = args.number<std::size_t>("--batch", c.batch);
  c.seed = args.number<std::uint64_t>("--seed", c.seed);
  c.threads = args.number<int>("--threads", c.threads);
  c.optimizer = args.get_or("--optimizer", c.optimizer);
  c.patience = args.number<int>("--patience", c.patience);
  c.save = args.get_or("--save", "");
  c.log = args.get_or("--log", "");
  c.progress = !args.has("--quiet");
  c.hidden = args.list<Eigen::Index>("--hidden", {});
  c.dropout = args.number<double>("--dropout", c.dropout);
  c.side_features = args.has("--side-features");
  c.loss = args.get_or("--loss", "");
  const bool json = args.has("--json");
  const std::string protocol = args.get_or("--protocol", mlp ? "seed-mlp" : "seed-mf");
  if (c.dims < 1) throw UsageError("--dims must be >= 1");
  if (c.epochs < 0) throw UsageError("--epochs must be >= 0");
  if (c.batch < 1) throw UsageError("--batch must be >= 1");
  if (!(c.lr_decay > 0.0) || !std::isfinite(c.lr_decay)) throw UsageError("--lr-decay must be > 0");
  if (args.has("--init-std") && !(c.init_std > 0.0)) throw UsageError("--init-std must be > 0");
  if (c.optimizer != "sgd" && c.optimizer != "adam" && c.optimizer != "adagrad")
    throw UsageError("--optimizer must be sgd, adam or adagrad (got '" + c.optimizer + "')");
  if (!(c.dropout >= 0.0 && c.dropout < 1.0)) throw UsageError("--dropout must be in [0, 1)");
  for (const auto h : c.hidden)
    if (h < 1) throw UsageError("--hidden sizes must be >= 1");
  if (!c.loss.empty() && c.loss != "bce" && c.loss != "mse")
    throw UsageError("--loss must be bce or mse (got '" + c.loss + "')");
  if (!mlp && (args.has("--hidden") || args.has("--dropout") || c.side_features || !c.loss.empty()))
    throw UsageError("--hidden, --dropout, --side-features and --loss apply to the MLP family only "
                     "(model '" + c.model + "')");
  if (c.threads > 1 && c.progress)
    std::fprintf(stderr, "note: training is single-threaded and deterministic; --threads %d is ignored\n",
                 c.threads);

  // Training is single-threaded: keep Eigen's own OpenMP GEMM threads off, they only contend with
  // the training thread (a DeepFM epoch on ML-1M took 20x longer on a loaded 2-core machine).
  Eigen::setNbThreads(1);
  const std::string dir = default_data_dir(args);
  const Dataset ds = load_movielens(dir);
  const ProtocolSplit ps = make_protocol_split(protocol, ds, c.seed);
  const TrainReport rep = train_model(ds, ps.split, c);
  if (!rep.available) {
    if (json)
      std::printf("{\"model\":\"%s\",\"protocol\":\"%s\",\"available\":false,\"error\":\"%s\"}\n",
                  json_escape(c.model).c_str(), json_escape(protocol).c_str(), json_escape(rep.note).c_str());
    else
      std::fprintf(stderr, "metarec train: %s\n", rep.note.c_str());
    return 1;
  }
  std::printf("model %s  protocol %s  data %s  (%u users, %u items, %zu ratings)\n", c.model.c_str(),
              protocol.c_str(), dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings());
  std::printf("parameters %lld  epochs run %d (best %d)  training %.2f s (CPU %.2f s)\n",
              static_cast<long long>(rep.parameters), rep.epochs_run, rep.best_epoch, rep.seconds,
              rep.cpu_seconds);
  if (rep.classifier) {
    auto line = [](const char* name, const ClassifierMetrics& e) {
      if (e.count == 0) return;
      std::printf("%-6s rows %8zu  AUC %.4f  log loss %.4f\n", name, e.count, e.auc, e.log_loss);
    };
    line("train", rep.train_c);
    line("valid", rep.valid_c);
    line("test", rep.test_c);
  } else {
    auto line = [](const char* name, const RatingErrors& e) {
      if (e.count == 0) return;
      std::printf("%-6s rows %8zu  MSE %.4f  RMSE %.4f  MAE %.4f\n", name, e.count, e.mse, e.rmse, e.mae);
    };
    line("train", rep.train);
    line("valid", rep.valid);
    line("test", rep.test);
  }
  if (!c.save.empty()) std::printf("saved %s\n", c.save.c_str());
  if (json) {
    const std::string metrics =
        rep.classifier ? "{\"train\":" + classifier_json(rep.train_c) + ",\"valid\":" +
                             classifier_json(rep.valid_c) + ",\"test\":" + classifier_json(rep.test_c) + "}"
                       : "{\"train\":" + errors_json(rep.train) + ",\"valid\":" + errors_json(rep.valid) +
                             ",\"test\":" + errors_json(rep.test) + "}";
    std::string hidden = "[";
    for (std::size_t k = 0; k < c.hidden.size(); ++k)
      hidden += (k ? "," : "") + std::to_string(c.hidden[k]);
    hidden += "]";
    std::printf(
        "{\"model\":\"%s\",\"protocol\":\"%s\",\"data\":\"%s\",\"seed\":%llu,\"optimizer\":\"%s\","
        "\"dims\":%d,\"lr\":%s,\"reg\":%s,\"batch\":%zu,\"parameters\":%lld,\"epochs_run\":%d,"
        "\"best_epoch\":%d,\"train_seconds\":%s,\"train_cpu_seconds\":%s,\"loss\":\"%s\",%s"
        "\"metrics\":%s}\n",
        json_escape(c.model).c_str(), json_escape(protocol).c_str(), json_escape(dir).c_str(),
        static_cast<unsigned long long>(c.seed), c.optimizer.c_str(), c.dims,
        metarec::detail::json_number(c.lr > 0 ? c.lr : default_lr(c.optimizer, c.batch)).c_str(),
        metarec::detail::json_number(c.reg).c_str(), c.batch, static_cast<long long>(rep.parameters),
        rep.epochs_run, rep.best_epoch, metarec::detail::json_number(rep.seconds).c_str(),
        metarec::detail::json_number(rep.cpu_seconds).c_str(),
        rep.classifier ? "bce" : (mlp ? "mse" : "squared_error"),
        mlp ? ("\"hidden\":" + hidden + ",\"dropout\":" + metarec::detail::json_number(c.dropout) +
               ",\"side_features\":" + (c.side_features ? "true" : "false") + ",")
                  .c_str()
            : "",
        metrics.c_str());
  }
  return 0;
}

}  // namespace metarec::cli
