#pragma once
// `metarec train`: train one rating-prediction model on a protocol's split and report MSE/RMSE on
// each split. Models whose header is not in this build are reported as not available.
// Also used by benchmarks/bench_mf.cpp (train_model()).

#include "args.hpp"

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
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

#include <chrono>
#include <cmath>
#include <cstdio>
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
  std::size_t batch = 1;
  std::uint64_t seed = 42;
  int threads = 1;
  std::string optimizer = "sgd";
  int patience = -1;       // < 0: 3 when the protocol has validation rows, else off
  std::string save;        // parameter file
  std::string log;         // JSON-lines log
  bool progress = true;    // progress on stderr
};

/// What one training run gives.
struct TrainReport {
  bool available = false;
  std::string note;        // why not available
  RatingErrors train, valid, test;
  int epochs_run = 0;
  int best_epoch = -1;
  double seconds = 0;      // training wall time (fit only)
  Eigen::Index parameters = 0;
};

inline const std::vector<std::string>& train_model_names() {
  static const std::vector<std::string> names{"mf",       "mf-bias",    "mf-side",       "mf-temporal",
                                              "fm",       "mf-mixture", "mf-variational"};
  return names;
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
  return cfg.str();
}

template <class M, class Opt>
void run_fit(const M& model, Vector<float>& theta, Opt& opt, const Dataset& ds, const Split& split,
             const TrainConfig& c, TrainReport& rep) {
  const int patience = c.patience >= 0 ? c.patience : (split.valid.empty() ? 0 : 3);
  const TrainOptions options{.epochs = c.epochs, .batch_size = c.batch, .seed = c.seed,
                             .patience = split.valid.empty() ? 0 : patience};
  std::optional<JsonLinesLog> log;
  if (!c.log.empty()) log.emplace(std::filesystem::path(c.log));
  struct Optional {  // forwards to the progress bar and the log only when wanted
    ProgressBar* bar;
    JsonLinesLog* log;
    void on_train_begin(const TrainBegin& b) { if (bar) bar->on_train_begin(b); }
    void on_batch_end(const BatchInfo& b) { if (bar) bar->on_batch_end(b); }
    void on_epoch_end(const EpochInfo& e) {
      if (bar) bar->on_epoch_end(e);
      if (log) log->on_epoch_end(e);
    }
    void on_train_end(const TrainResult& r) { if (log) log->on_train_end(r); }
  };
  ProgressBar bar(stderr);
  Optional cb{c.progress ? &bar : nullptr, log ? &*log : nullptr};
  TrainResult r;
  if (split.valid.empty())
    r = fit(model, theta, opt, ds, split.train, options, NoValidation{}, cb);
  else
    r = fit(model, theta, opt, ds, split.train, options, RmseOn{model, ds, split.valid}, cb);
  rep.epochs_run = r.epochs_run;
  rep.best_epoch = r.best_epoch;
  rep.seconds = r.seconds;
}

template <class M>
TrainReport train_with(const M& model, const std::string& config, const Dataset& ds,
                       const Split& split, const TrainConfig& c) {
  TrainReport rep;
  rep.available = true;
  rep.parameters = model.num_parameters();
  Vector<float> theta(model.num_parameters());
  Rng rng(derive_seed(c.seed, 0x494E4954u));  // "INIT"
  model.initialize(theta, rng);
  const double lr = c.lr > 0 ? c.lr : default_lr(c.optimizer, c.batch);
  if (c.optimizer == "sgd") {
    Sgd<float> opt{SgdOptions{.lr = lr}};
    run_fit(model, theta, opt, ds, split, c, rep);
  } else if (c.optimizer == "adam") {
    Adam<float> opt{AdamOptions{.lr = lr}};
    run_fit(model, theta, opt, ds, split, c, rep);
  } else if (c.optimizer == "adagrad") {
    Adagrad<float> opt{AdagradOptions{.lr = lr}};
    run_fit(model, theta, opt, ds, split, c, rep);
  } else {
    throw UsageError("--optimizer must be sgd, adam or adagrad (got '" + c.optimizer + "')");
  }
  rep.train = rating_errors(model, theta, ds, split.train);
  rep.valid = rating_errors(model, theta, ds, split.valid);
  rep.test = rating_errors(model, theta, ds, split.test);
  if (!c.save.empty()) {
    std::ostringstream cfg;
    cfg << config << "optimizer=" << c.optimizer << "\nlr=" << lr << "\nepochs=" << c.epochs
        << "\nbatch=" << c.batch << "\nseed=" << c.seed << "\nusers=" << ds.num_users()
        << "\nitems=" << ds.num_items() << '\n';
    save_parameters<float>(c.save, c.model, cfg.str(), theta);
  }
  return rep;
}

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
  } else if (c.model == "mf-temporal") {
#ifdef METAREC_CLI_HAS_TEMPORAL_MF
    // Needs rating times: on data without them (the shared ML-1M copy) TemporalMF's constructor
    // throws std::invalid_argument naming the data set, which the tool reports with exit code 2
    // (the data cannot support the request, like a protocol that needs times; docs/cli.md).
    TemporalMFOptions o;
    const std::string cfg = detail::set_options(o, c, mean) + "time_bins=" + std::to_string(o.time_bins) + "\n";
    return detail::train_with(TemporalMF<float>(ds, o, split.train), cfg, ds, split, c);
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
      "Trains a rating-prediction model on the protocol's train rows (early stopping on the\n"
      "validation rows when the protocol has them) and reports MSE and RMSE on every split.\n\n"
      "  --model M        mf, mf-bias, mf-side, mf-temporal, fm, mf-mixture, mf-variational (mf-bias)\n"
      "  --data DIR       MovieLens directory (default: $METAREC_DATA or the shipped sample)\n"
      "  --protocol P     seed-mf, ml1m-90-10, ... (default seed-mf)\n"
      "  --dims K         latent dimensions (64)\n"
      "  --epochs N       maximum epochs (20)\n"
      "  --lr X           learning rate (sgd: 0.005 x batch; adagrad: 0.05; adam: 0.001)\n"
      "  --reg X          L2 on factors (0.05); --bias-reg X on biases (same as --reg)\n"
      "  --batch B        ratings per step (1: per-rating SGD)\n"
      "  --seed S         seed of split, initialisation and shuffling (42)\n"
      "  --threads T      accepted for compatibility; training is single-threaded and deterministic\n"
      "  --optimizer O    sgd, adam or adagrad (sgd)\n"
      "  --patience N     early-stopping patience (3 with validation rows; 0 = off)\n"
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

inline int run_train(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"--model", "--data", "--protocol", "--dims", "--epochs", "--lr", "--reg", "--bias-reg",
                   "--batch", "--seed", "--threads", "--optimizer", "--patience", "--save", "--log"},
                  {"--quiet"});
  if (args.has("--help")) {
    print_train_help();
    return 0;
  }
  TrainConfig c;
  c.model = args.get_or("--model", c.model);
  c.dims = args.number<int>("--dims", c.dims);
  c.epochs = args.number<int>("--epochs", c.epochs);
  c.lr = args.number<double>("--lr", c.lr);
  c.reg = args.number<double>("--reg", c.reg);
  c.bias_reg = args.number<double>("--bias-reg", c.bias_reg);
  c.batch = args.number<std::size_t>("--batch", c.batch);
  c.seed = args.number<std::uint64_t>("--seed", c.seed);
  c.threads = args.number<int>("--threads", c.threads);
  c.optimizer = args.get_or("--optimizer", c.optimizer);
  c.patience = args.number<int>("--patience", c.patience);
  c.save = args.get_or("--save", "");
  c.log = args.get_or("--log", "");
  c.progress = !args.has("--quiet");
  const bool json = args.has("--json");
  const std::string protocol = args.get_or("--protocol", "seed-mf");
  if (c.dims < 1) throw UsageError("--dims must be >= 1");
  if (c.epochs < 0) throw UsageError("--epochs must be >= 0");
  if (c.batch < 1) throw UsageError("--batch must be >= 1");
  if (c.optimizer != "sgd" && c.optimizer != "adam" && c.optimizer != "adagrad")
    throw UsageError("--optimizer must be sgd, adam or adagrad (got '" + c.optimizer + "')");
  bool known = false;
  for (const auto& n : train_model_names()) known |= n == c.model;
  if (!known) {
    std::string list;
    for (const auto& n : train_model_names()) list += (list.empty() ? "" : ", ") + n;
    throw UsageError("unknown --model '" + c.model + "' (known: " + list + ")");
  }
  if (c.threads > 1 && c.progress)
    std::fprintf(stderr, "note: training is single-threaded and deterministic; --threads %d is ignored\n",
                 c.threads);

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
  if (!json) {
    std::printf("model %s  protocol %s  data %s  (%u users, %u items, %zu ratings)\n", c.model.c_str(),
                protocol.c_str(), dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings());
    std::printf("parameters %lld  epochs run %d  training %.2f s\n",
                static_cast<long long>(rep.parameters), rep.epochs_run, rep.seconds);
    auto line = [](const char* name, const RatingErrors& e) {
      if (e.count == 0) return;
      std::printf("%-6s rows %8zu  MSE %.4f  RMSE %.4f  MAE %.4f\n", name, e.count, e.mse, e.rmse, e.mae);
    };
    line("train", rep.train);
    line("valid", rep.valid);
    line("test", rep.test);
    if (!c.save.empty()) std::printf("saved %s\n", c.save.c_str());
  } else {
    std::printf(
        "{\"model\":\"%s\",\"protocol\":\"%s\",\"data\":\"%s\",\"seed\":%llu,\"optimizer\":\"%s\","
        "\"dims\":%d,\"lr\":%s,\"reg\":%s,\"batch\":%zu,\"parameters\":%lld,\"epochs_run\":%d,"
        "\"best_epoch\":%d,\"train_seconds\":%s,\"metrics\":{\"train\":%s,\"valid\":%s,\"test\":%s}}\n",
        json_escape(c.model).c_str(), json_escape(protocol).c_str(), json_escape(dir).c_str(),
        static_cast<unsigned long long>(c.seed), c.optimizer.c_str(), c.dims,
        metarec::detail::json_number(c.lr > 0 ? c.lr : default_lr(c.optimizer, c.batch)).c_str(),
        metarec::detail::json_number(c.reg).c_str(), c.batch, static_cast<long long>(rep.parameters),
        rep.epochs_run, rep.best_epoch, metarec::detail::json_number(rep.seconds).c_str(),
        errors_json(rep.train).c_str(), errors_json(rep.valid).c_str(), errors_json(rep.test).c_str());
  }
  return 0;
}

}  // namespace metarec::cli
