#pragma once
/// @file train_driver.hpp
/// @brief How the registry trains and reports a model of rating rows (the MF and MLP families)
/// on a protocol: the optimiser, model selection, the training source, the report.
///
/// Model selection never looks at the test rows:
/// - a protocol with validation rows (seed-mlp, recbole): early stopping on them (`patience`),
///   the best epoch's θ restored;
/// - a protocol without (seed-mf, ml1m-90-10) and `valid-frac` > 0: a random `valid-frac` of the
///   training rows (seeded) is held out, early stopping on it chooses the number of epochs, and the
///   model is retrained from the same initialisation on ALL training rows for that many epochs
///   (as bench_mf has always done);
/// - otherwise `epochs` epochs.
/// Rating protocols report MSE, RMSE, MAE; seed-mlp AUC and log loss (label rating > 3); top-N
/// protocols train on implicit feedback with `negatives` sampled negatives per positive and report
/// precision, recall, NDCG, MAP and hit rate at `k` by full ranking (training items, and for the
/// test part validation items too, removed from the candidates).

#include <metarec/core/error.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/batch.hpp>
#include <metarec/data/batch_source.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/data/split.hpp>
#include <metarec/metrics/classification.hpp>
#include <metarec/optim/adagrad.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/registry/model_entry.hpp>
#include <metarec/report/item_scores.hpp>
#include <metarec/report/train_report.hpp>
#include <metarec/train/callbacks.hpp>
#include <metarec/train/serialize.hpp>
#include <metarec/train/trainer.hpp>
#include <metarec/train/validation.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <span>
#include <sstream>
#include <type_traits>
#include <utility>
#include <string>
#include <vector>

namespace metarec::registry {

/// The options every trained model has (the driver reads them); each entry lists them after its
/// own with the defaults of its family.
struct FitDefaults {
  std::string epochs = "20";
  std::string lr = "0.005";
  std::string batch = "1";
  std::string optimizer = "sgd";
  std::string patience = "3";
  std::string valid_frac = "0";
  std::string negatives = "4";
};

inline std::vector<OptionSpec> fit_options(const FitDefaults& d) {
  return {
      {"epochs", OptionKind::integer, d.epochs, "maximum epochs (early stopping may end sooner)", {}, 0},
      {"lr", OptionKind::number, d.lr, "learning rate", {}, 0, 1e300, true},
      {"batch", OptionKind::integer, d.batch, "examples per step (1: per-rating SGD)", {}, 1},
      {"optimizer", OptionKind::word, d.optimizer, "sgd, adam or adagrad", {"sgd", "adam", "adagrad"}},
      {"patience", OptionKind::integer, d.patience,
       "early stopping: epochs without improvement on the validation rows (0: off)", {}, 0},
      {"lr-decay", OptionKind::number, "1", "multiply the learning rate by this after each epoch", {}, 0, 1e300, true},
      {"average", OptionKind::number, "0",
       "parameter average: after step t, theta = mu*theta + (1-mu)*iterate, mu = min(average, (1+t)/(10+t)); "
       "validation and the result use the average; one pass over theta per step, so slow with --batch 1 "
       "on rating rows (0: off)", {}, 0, 1, false, true},
      {"valid-frac", OptionKind::number, d.valid_frac,
       "protocols without validation rows: hold out this share of the training rows to choose the "
       "epochs, then retrain on all of them (0: train `epochs` epochs)", {}, 0, 0.5, false, true},
      {"negatives", OptionKind::integer, d.negatives,
       "top-N protocols: sampled negatives per positive, redrawn every epoch", {}, 0},
  };
}

namespace detail {

/// Process CPU time in seconds.
inline double process_cpu_seconds() {
  return static_cast<double>(std::clock()) / static_cast<double>(CLOCKS_PER_SEC);
}
/// CPU time of the calling thread in seconds.
inline double thread_cpu_seconds() {
#ifdef CLOCK_THREAD_CPUTIME_ID
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
#else
  return process_cpu_seconds();
#endif
}

inline constexpr std::uint64_t tag_init = 0x494E4954u;  // "INIT": θ's initialisation stream

/// The training rows minus a seeded random `frac` of them, which become the validation rows.
inline Split carve_validation(const Dataset& ds, const Split& s, double frac, std::uint64_t seed) {
  std::vector<RowIndex> train = s.train;
  std::sort(train.begin(), train.end());
  Split part = random_ratio_split(ds, train, {.train = 1.0 - frac, .valid = frac, .test = 0.0}, seed);
  Split out = s;
  out.train = std::move(part.train);
  out.valid = std::move(part.valid);
  return out;
}

/// AUC and log loss of a classifier on `rows` (label rating > 3), as named values.
template <class M>
report::MetricValues classifier_values(const M& model, const ConstVectorRef<typename M::Scalar>& theta,
                                       const Dataset& ds, std::span<const RowIndex> rows) {
  report::MetricValues v;
  double auc = std::nan(""), ll = std::nan("");
  if (!rows.empty()) {
    std::vector<double> p(rows.size());
    std::vector<std::uint8_t> y(rows.size());
    constexpr std::size_t chunk = 8192;
    Vector<typename M::Scalar> pred(static_cast<Eigen::Index>(std::min(chunk, rows.size())));
    for (std::size_t start = 0; start < rows.size(); start += chunk) {
      const std::size_t len = std::min(chunk, rows.size() - start);
      const RatingBatch batch{&ds, rows.subspan(start, len), 0};
      auto head = pred.head(static_cast<Eigen::Index>(len));
      model.predict(theta, batch, head);
      for (std::size_t k = 0; k < len; ++k) {
        p[start + k] = static_cast<double>(head[static_cast<Eigen::Index>(k)]);
        y[start + k] = ds.rating(batch.rows[k]) > 3.0f ? 1 : 0;
      }
    }
    auc = metrics::auc(y, std::span<const double>(p));
    ll = metrics::log_loss(y, std::span<const double>(p));
  }
  v.add("auc", auc);
  v.add("log_loss", ll);
  v.add("rows", static_cast<double>(rows.size()));
  return v;
}

inline report::MetricValues error_values(const RatingErrors& e) {
  report::MetricValues v;
  v.add("mse", e.mse);
  v.add("rmse", e.rmse);
  v.add("mae", e.mae);
  v.add("rows", static_cast<double>(e.count));
  return v;
}

template <class M>
report::MetricValues row_error_values(const M& model, const ConstVectorRef<typename M::Scalar>& theta,
                                      const WholeRows& rows);

/// fit callback that records the test MSE after each epoch, timed on this thread's CPU clock; the
/// evaluation time is kept apart from the training time. Whole-row models read their test rows
/// from `test_rows`; `epoch_offset` numbers the epochs of a later training phase after the earlier.
template <class M>
struct TestTrace {
  const M* model = nullptr;  // null: off
  const Vector<float>* theta = nullptr;
  const Dataset* data = nullptr;
  std::span<const RowIndex> rows;
  const WholeRows* test_rows = nullptr;
  int epoch_offset = 0;
  double cpu0 = 0, eval_cpu = 0;
  std::vector<report::EpochTestPoint> points;
  void on_epoch_end(const EpochInfo& e) {
    if (model == nullptr) return;
    const double t = thread_cpu_seconds();
    double mse = 0;
    if constexpr (std::same_as<typename M::Batch, RatingBatch>)
      mse = rating_errors(*model, *theta, *data, rows).mse;
    else
      mse = row_error_values(*model, *theta, *test_rows).get("mse");
    points.push_back({e.epoch + epoch_offset, t - cpu0 - eval_cpu, mse});
    eval_cpu += thread_cpu_seconds() - t;
  }
};

/// Observers of a run: progress bar, JSON-lines log, test trace. They never change θ.
template <class M>
struct Observers {
  std::optional<ProgressBar> bar;
  std::optional<JsonLinesLog> log;
  TestTrace<M>* trace = nullptr;
  void on_train_begin(const TrainBegin& b) {
    if (bar) bar->on_train_begin(b);
  }
  void on_batch_end(const BatchInfo& b) {
    if (bar) bar->on_batch_end(b);
  }
  void on_epoch_end(const EpochInfo& e) {
    if (trace) trace->on_epoch_end(e);
    if (bar) bar->on_epoch_end(e);
    if (log) log->on_epoch_end(e);
  }
  void on_train_end(const TrainResult& r) {
    if (log) log->on_train_end(r);
  }
};

/// The settings and run facts written into a parameter file's configuration (key=value lines).
inline std::string parameter_config(const TrainRequest& r) {
  std::ostringstream cfg;
  for (const auto& [k, v] : r.settings.values()) cfg << k << '=' << v << '\n';
  cfg << "protocol=" << r.protocol << "\nseed=" << r.seed << "\nusers=" << r.data.num_users()
      << "\nitems=" << r.data.num_items() << '\n';
  if (!r.run.data_name.empty()) cfg << "data=" << r.run.data_name << '\n';
  return cfg.str();
}

}  // namespace detail

/// What the driver needs from an entry's settings (see `fit_options`), read once.
struct FitPlan {
  int epochs = 20;
  double lr = 0.005;
  std::size_t batch = 1;
  std::string optimizer = "sgd";
  double weight_decay = 0.0;  ///< Adam: decoupled (AdamW); the MLP family's --reg
  int patience = 3;
  double lr_decay = 1.0;
  double average = 0.0;  ///< TrainOptions::average
  double valid_frac = 0.0;
  int negatives = 4;
  double momentum = 0.0;  ///< Sgd's heavy-ball momentum (`train_whole_rows`)
  int phases = 1;         ///< `train_whole_rows`: successive fits of the models build(split, phase)
  std::vector<int> phase_epochs;  ///< epochs of each phase (empty: `epochs` each)

  /// Calls `f(optimizer)` with the plan's optimiser (float) and returns what it returns.
  template <class F>
  decltype(auto) with_optimizer(F&& f) const {
    if (optimizer == "sgd") {
      Sgd<float> opt{SgdOptions{.lr = lr, .momentum = momentum}};
      return f(opt);
    }
    if (optimizer == "adam") {
      Adam<float> opt{AdamOptions{.lr = lr, .weight_decay = weight_decay}};
      return f(opt);
    }
    Adagrad<float> opt{AdagradOptions{.lr = lr}};
    return f(opt);
  }

  static FitPlan from(const Settings& s) {
    FitPlan p;
    p.epochs = s.integer32("epochs");
    p.lr = s.number("lr");
    p.batch = static_cast<std::size_t>(s.integer("batch"));
    p.optimizer = s.text("optimizer");
    p.patience = s.integer32("patience");
    p.lr_decay = s.number("lr-decay");
    p.average = s.number("average");
    p.valid_frac = s.number("valid-frac");
    p.negatives = s.integer32("negatives");
    return p;
  }
};

/// Trains a model of rating rows (`Batch = RatingBatch`) as the request says and reports it (see
/// the file comment). `build(split)` makes the model for the rows it trains on (its global mean,
/// SVD++'s implicit sets): the selection run and the retraining each build their own. θ starts
/// from `initialize` with the stream derive_seed(seed, INIT).
/// @param ev    how the test part is scored (rating errors, classifier metrics, top-N metrics)
/// @throws std::invalid_argument on bad settings; numerical_error when training diverges.
template <class Build>
report::TrainReport train_rating_rows(Build&& build, const TrainRequest& req, const FitPlan& plan,
                                      Evaluation ev) {
  using M = std::remove_cvref_t<decltype(build(std::declval<const Split&>()))>;
  static_assert(std::same_as<typename M::Batch, RatingBatch>, "train_rating_rows: a model of rating rows");
  static_assert(std::same_as<typename M::Scalar, float>, "the registry trains in float");
  const Dataset& ds = req.data;
  const TopNOptions& top = req.top;
  const Split& protocol_split = req.split.split;
  const bool carve = protocol_split.valid.empty() && plan.valid_frac > 0.0 && ev != Evaluation::top_n;
  const Split split = carve ? detail::carve_validation(ds, protocol_split, plan.valid_frac, req.seed)
                            : protocol_split;
  const bool classifier = ev == Evaluation::classifier;

  report::TrainReport rep;
  std::optional<M> built;
  Vector<float> theta;

  // One fit: the model built for `fit_split`, from the initialisation, `epochs` epochs over its
  // training rows (with early stopping on its validation rows when there are some and `select`
  // is set).
  auto run_fit = [&](const Split& fit_split, int epochs, bool select, bool trace_test) {
    built.emplace(build(fit_split));
    const M& model = *built;
    const std::span<const RowIndex> rows = fit_split.train;
    rep.parameters = model.num_parameters();
    theta.resize(model.num_parameters());
    Rng rng(derive_seed(req.seed, detail::tag_init));
    model.initialize(theta, rng);
    const bool validate = select && !fit_split.valid.empty() && ev != Evaluation::top_n;
    const TrainOptions options{.epochs = epochs, .batch_size = plan.batch, .seed = req.seed,
                               .patience = validate ? plan.patience : 0,
                               .higher_is_better = classifier, .lr_decay = plan.lr_decay, .average = plan.average};
    detail::TestTrace<M> trace;
    if (trace_test && ev == Evaluation::rating && !fit_split.test.empty()) {
      trace.model = &model;
      trace.theta = &theta;
      trace.data = &ds;
      trace.rows = fit_split.test;
    }
    detail::Observers<M> obs;
    if (req.run.progress) obs.bar.emplace(stderr);
    if (!req.run.log.empty()) obs.log.emplace(std::filesystem::path(req.run.log));
    obs.trace = &trace;
    auto go = [&](auto& opt) {
      auto fit_on = [&](auto&& validation) {
        if (ev == Evaluation::top_n) {
          NegativeSampledRatings source(ds, rows, {.negatives = plan.negatives, .batch_size = plan.batch},
                                        req.seed);
          return fit(model, theta, opt, source, options, validation, obs);
        }
        return fit(model, theta, opt, ds, rows, options, validation, obs);
      };
      if (!validate) return fit_on(NoValidation{});
      if (classifier)
        return fit_on([&](const ConstVectorRef<float>& t) {
          return detail::classifier_values(model, t, ds, fit_split.valid).get("auc");
        });
      return fit_on(RmseOn{model, ds, fit_split.valid});
    };
    const double cpu0 = detail::process_cpu_seconds();
    trace.cpu0 = detail::thread_cpu_seconds();
    const TrainResult r = plan.with_optimizer(go);
    rep.cpu_seconds = detail::process_cpu_seconds() - cpu0 - trace.eval_cpu;
    rep.seconds = r.seconds;
    rep.test_trace = std::move(trace.points);
    rep.trace_cpu_seconds = trace.eval_cpu;
    rep.epochs_run = r.epochs_run;
    rep.best_epoch = r.best_epoch;
    rep.history = std::move(r.history);
  };

  report::MetricValues valid_values;
  const bool refit = carve || (req.run.refit && !split.valid.empty() && ev == Evaluation::rating);
  if (refit) {
    // choose the epochs on the validation rows, then retrain on training and validation rows
    run_fit(split, plan.epochs, true, false);
    valid_values = detail::error_values(rating_errors(*built, theta, ds, split.valid));
    const int best = rep.best_epoch;
    const int chosen = best >= 0 ? best + 1 : rep.epochs_run;
    Split all = split;
    all.train.insert(all.train.end(), split.valid.begin(), split.valid.end());
    std::sort(all.train.begin(), all.train.end());
    all.valid.clear();
    run_fit(all, chosen, false, req.run.trace_test);
    rep.best_epoch = best;
  } else {
    run_fit(split, plan.epochs, true, req.run.trace_test);
  }
  const M& model = *built;

  std::vector<RowIndex> refit_rows;
  if (refit) {
    refit_rows = split.train;
    refit_rows.insert(refit_rows.end(), split.valid.begin(), split.valid.end());
  }
  const std::span<const RowIndex> train_rows = refit ? std::span<const RowIndex>(refit_rows)
                                                     : std::span<const RowIndex>(split.train);
  if (ev == Evaluation::top_n) {
    const report::ItemScorer<M> scorer(model, theta, ds);
    rep.parts.emplace_back("valid", report::ranking_metrics(ds, split.train, split.valid, scorer, top.ks,
                                                            top.capped_recall, top.threads));
    std::vector<RowIndex> seen(split.train.begin(), split.train.end());
    seen.insert(seen.end(), split.valid.begin(), split.valid.end());
    rep.parts.emplace_back("test", report::ranking_metrics(ds, seen, split.test, scorer, top.ks,
                                                           top.capped_recall, top.threads));
  } else if (classifier) {
    rep.parts.emplace_back("train", detail::classifier_values(model, theta, ds, train_rows));
    rep.parts.emplace_back("valid", detail::classifier_values(model, theta, ds, split.valid));
    rep.parts.emplace_back("test", detail::classifier_values(model, theta, ds, split.test));
  } else {
    rep.parts.emplace_back("train", detail::error_values(rating_errors(model, theta, ds, train_rows)));
    rep.parts.emplace_back("valid", refit ? valid_values
                                          : detail::error_values(rating_errors(model, theta, ds, split.valid)));
    rep.parts.emplace_back("test", detail::error_values(rating_errors(model, theta, ds, split.test)));
  }
  if (!req.run.save.empty())
    save_parameters<float>(req.run.save, req.model, detail::parameter_config(req), theta);
  return rep;
}

/// Optional: a model solved in closed form (EASE): `void fit_closed_form(VectorRef<S> theta,
/// const Batch& all) const` overwrites θ with the minimiser of its loss on the batch of every
/// training example. `train_whole_rows` uses it instead of gradient steps.
template <class M>
concept HasClosedFormFit =
    Model<M> && requires(const M& m, Vector<typename M::Scalar>& t, const typename M::Batch& b) {
      m.fit_closed_form(VectorRef<typename M::Scalar>(t), b);
    };

/// Optional: a whole-row model that sets part of θ from the training rows after `initialize` (an
/// RBM's visible biases, CF-NADE's output biases: the columns' level frequencies):
/// `void initialize_from_data(VectorRef<S> theta, const RowBatch& training) const`.
template <class M>
concept HasDataInitialization =
    Model<M> && requires(const M& m, Vector<typename M::Scalar>& t, const RowBatch& b) {
      m.initialize_from_data(VectorRef<typename M::Scalar>(t), b);
    };

/// Optional: a whole-row model whose predictions are not ratings (a 0/1 label's probability):
/// `double target_value(const Dataset& data, RowIndex r) const` is the value a prediction of row r
/// is scored against (its rating otherwise).
template <class M>
concept HasTargetValue = requires(const M& m, const Dataset& d, RowIndex r) {
  { m.target_value(d, r) } -> std::convertible_to<double>;
};

namespace detail {

/// No extra report parts (`train_whole_rows`'s default `extra`).
struct NoExtraParts {
  template <class M>
  void operator()(const M&, const Vector<float>&, const Split&, report::TrainReport&) const noexcept {}
};

inline constexpr std::uint64_t tag_phase = 0x5048415345u;  // "PHASE": a later phase's batch order

/// The model of a phase: `build(split, phase)` when the builder takes a phase, else `build(split)`.
template <class Build>
auto build_phase(Build& build, const Split& split, int phase) {
  if constexpr (std::is_invocable_v<Build&, const Split&, int>) {
    return build(split, phase);
  } else {
    (void)phase;
    return build(split);
  }
}

/// `rows` without the rows of `users` (sorted user indices).
inline std::vector<RowIndex> rows_without_users(const Dataset& ds, std::span<const RowIndex> rows,
                                                std::span<const std::uint32_t> users) {
  std::vector<RowIndex> out;
  out.reserve(rows.size());
  for (const RowIndex r : rows)
    if (!std::binary_search(users.begin(), users.end(), ds.user(r))) out.push_back(r);
  return out;
}

/// Rating errors of a whole-row model: each example's targets predicted from its inputs.
template <class M>
report::MetricValues row_error_values(const M& model, const ConstVectorRef<typename M::Scalar>& theta,
                                      const WholeRows& rows) {
  const RowBatch b = rows.batch();
  Vector<typename M::Scalar> p(static_cast<Eigen::Index>(b.num_targets()));
  if (p.size() > 0) model.predict(theta, b, p);
  ErrorSums sums;
  Eigen::Index k = 0;
  for (const RowExample& ex : b.examples)
    for (const RowIndex r : ex.target) {
      double truth = static_cast<double>(rows.data().rating(r));
      if constexpr (HasTargetValue<M>) truth = model.target_value(rows.data(), r);
      sums.add_error(static_cast<double>(p[k++]) - truth);
    }
  return error_values(sums.errors());
}

}  // namespace detail

/// Trains a whole-row model (`Batch = RowBatch`: autoencoders, Boltzmann machines) as the request
/// says and reports it. Examples are the `side` rows (users or items) of the training split, input
/// = target = their training ratings; `batch` examples a step; the training rows of the split's
/// `cold_users` (the svae protocol's held-out users) are inputs only, never trained on. Model selection as
/// `train_rating_rows`: early stopping on the protocol's validation rows, or on a held-out
/// `valid-frac` of the training rows (per user for top-N protocols) with a retraining on all of
/// them; RMSE for rating protocols, NDCG@k (the first cut-off) for top-N ones. Evaluation: rating
/// protocols predict each held-out rating from its row's training ratings; top-N protocols rank
/// every item for each user from their training ratings. A model with `fit_closed_form` (EASE) is
/// solved instead of trained. With `plan.phases` > 1 the builder takes the phase too
/// (`build(split, phase)`): phase p trains the model it returns from where phase p − 1 left θ (the
/// best epoch's θ when validating), so a CD-trained RBM can raise k from phase to phase; each
/// phase selects its own number of epochs and a retraining replays them. θ starts from
/// `initialize` (then `initialize_from_data` when the model has it), Sgd has `plan.momentum`.
/// Rating errors compare a prediction with the model's `target_value` when it has one. `extra(model,
/// θ, split, report)` may add parts to the report at the end (the split the final model was trained
/// on; e.g. the explainable RBM's explainability metrics).
template <class Build, class Extra = detail::NoExtraParts>
report::TrainReport train_whole_rows(Build&& build, const TrainRequest& req, const FitPlan& plan,
                                     Evaluation ev, RowSide side, Extra&& extra = {}) {
  using M = decltype(detail::build_phase(build, std::declval<const Split&>(), 0));
  static_assert(std::same_as<typename M::Batch, RowBatch>, "train_whole_rows: a whole-row model");
  static_assert(std::same_as<typename M::Scalar, float>, "the registry trains in float");
  const Dataset& ds = req.data;
  const TopNOptions& top = req.top;
  const bool top_n = ev == Evaluation::top_n;
  const Split& protocol_split = req.split.split;
  const bool carve = protocol_split.valid.empty() && plan.valid_frac > 0.0;
  Split split = protocol_split;
  if (carve) {
    if (top_n) {
      std::vector<RowIndex> train = protocol_split.train;
      std::sort(train.begin(), train.end());
      const Split part = per_user_random_split(
          ds, train, {.train = 1.0 - plan.valid_frac, .valid = plan.valid_frac, .test = 0.0}, req.seed);
      split.train = part.train;
      split.valid = part.valid;
    } else {
      split = detail::carve_validation(ds, protocol_split, plan.valid_frac, req.seed);
    }
  }
  if (top_n && side != RowSide::user)
    throw std::invalid_argument("train_whole_rows: top-N protocols rank items for users; use a "
                                "user-based model (rows = users)");
  if (top_n && !report::HasRowScores<M>)
    throw std::invalid_argument("train_whole_rows: this model cannot score every item "
                                "(score_all), so it does not run on top-N protocols");

  report::TrainReport rep;
  std::optional<M> built;
  Vector<float> theta;
  const std::size_t k0 = top.ks.empty() ? 10 : top.ks.front();

  const int phases = std::max(1, plan.phases);
  std::vector<int> chosen;  // per phase: the epochs its selection chose
  auto run_fit = [&](const Split& fit_split, const std::vector<int>& epochs, bool select, bool trace_test) {
    // The examples trained on, and the inputs scored from: a protocol's held-out users (the svae
    // protocol's `cold_users`) have training rows that are only folded in.
    const WholeRows inputs(ds, fit_split.train, side);
    std::optional<WholeRows> trained;
    if (!fit_split.cold_users.empty())
      trained.emplace(ds, detail::rows_without_users(ds, fit_split.train, fit_split.cold_users), side);
    const WholeRows& rows = trained ? *trained : inputs;
    rep.cpu_seconds = rep.seconds = rep.trace_cpu_seconds = 0;
    rep.epochs_run = 0;
    rep.history.clear();
    rep.test_trace.clear();
    chosen.clear();
    std::optional<WholeRows> test_rows;
    if (trace_test && !top_n && !fit_split.test.empty()) test_rows.emplace(ds, fit_split.train, fit_split.test, side);
    for (int phase = 0; phase < phases; ++phase) {
      built.emplace(detail::build_phase(build, fit_split, phase));
      const M& model = *built;
      if (phase == 0) {
        rep.parameters = model.num_parameters();
        theta.resize(model.num_parameters());
        Rng rng(derive_seed(req.seed, detail::tag_init));
        model.initialize(theta, rng);
        if constexpr (HasDataInitialization<M>) model.initialize_from_data(VectorRef<float>(theta), rows.batch());
      }
      if constexpr (HasClosedFormFit<M>) {
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = detail::process_cpu_seconds();
        model.fit_closed_form(VectorRef<float>(theta), rows.batch());
        rep.cpu_seconds = detail::process_cpu_seconds() - cpu0;
        rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rep.epochs_run = 1;
        rep.best_epoch = 0;
        rep.history.clear();
        (void)epochs;
        (void)select;
      } else {
        const bool validate = select && !fit_split.valid.empty();
        const TrainOptions options{.epochs = epochs[static_cast<std::size_t>(phase)],
                                   .patience = validate ? plan.patience : 0,
                                   .higher_is_better = top_n, .lr_decay = plan.lr_decay, .average = plan.average};
        detail::Observers<M> obs;
        if (req.run.progress) obs.bar.emplace(stderr);
        if (!req.run.log.empty()) obs.log.emplace(std::filesystem::path(req.run.log));
        detail::TestTrace<M> trace;
        if (test_rows) {
          trace.model = &model;
          trace.theta = &theta;
          trace.test_rows = &*test_rows;
          trace.epoch_offset = rep.epochs_run;
          trace.cpu0 = detail::thread_cpu_seconds();
        }
        obs.trace = &trace;
        RowBatches source(rows, plan.batch,
                          phase == 0 ? req.seed : derive_seed(req.seed, detail::tag_phase, static_cast<std::uint64_t>(phase)));
        std::optional<WholeRows> valid_rows;
        if (validate && !top_n) valid_rows.emplace(ds, fit_split.train, fit_split.valid, side);
        auto go = [&](auto& opt) {
          if (!validate) return fit(model, theta, opt, source, options, NoValidation{}, obs);
          if constexpr (report::HasRowScores<M>) {
            if (top_n)
              return fit(model, theta, opt, source, options, [&](const ConstVectorRef<float>& t) {
                const Vector<float> tv = t;
                const report::ItemScorer<M> scorer(model, tv, ds, &inputs);
                return report::ranking_metrics(ds, fit_split.train, fit_split.valid, scorer, {k0}, false,
                                               top.threads)
                    .get("ndcg@" + std::to_string(k0));
              }, obs);
          }
          return fit(model, theta, opt, source, options, [&](const ConstVectorRef<float>& t) {
            return detail::row_error_values(model, t, *valid_rows).get("rmse");
          }, obs);
        };
        const double cpu0 = detail::process_cpu_seconds();
        const TrainResult r = plan.with_optimizer(go);
        rep.cpu_seconds += detail::process_cpu_seconds() - cpu0 - trace.eval_cpu;
        rep.seconds += r.seconds;
        rep.epochs_run += r.epochs_run;
        rep.trace_cpu_seconds += trace.eval_cpu;
        rep.test_trace.insert(rep.test_trace.end(), trace.points.begin(), trace.points.end());
        rep.best_epoch = r.best_epoch;
        chosen.push_back(r.best_epoch >= 0 ? r.best_epoch + 1 : r.epochs_run);
        rep.history.insert(rep.history.end(), r.history.begin(), r.history.end());
      }
    }
  };

  // The validation part: of the model as trained on the split's training rows.
  auto valid_part = [&](const M& model) {
    if constexpr (report::HasRowScores<M>) {
      if (top_n) {
        const WholeRows in(ds, split.train, side);
        const report::ItemScorer<M> scorer(model, theta, ds, &in);
        return report::ranking_metrics(ds, split.train, split.valid, scorer, top.ks, top.capped_recall,
                                       top.threads);
      }
    }
    return detail::row_error_values(model, theta, WholeRows(ds, split.train, split.valid, side));
  };
  report::MetricValues valid_values;
  const bool refit = carve && !HasClosedFormFit<M>;
  const std::vector<int> all_epochs = plan.phase_epochs.size() == static_cast<std::size_t>(phases)
                                          ? plan.phase_epochs
                                          : std::vector<int>(static_cast<std::size_t>(phases), plan.epochs);
  if (refit) {
    run_fit(split, all_epochs, true, false);
    valid_values = valid_part(*built);
    const int best = rep.best_epoch;
    const std::vector<int> replay = chosen;
    Split all = split;
    all.train.insert(all.train.end(), split.valid.begin(), split.valid.end());
    std::sort(all.train.begin(), all.train.end());
    all.valid.clear();
    run_fit(all, replay, false, req.run.trace_test);
    rep.best_epoch = best;
  } else {
    run_fit(carve ? protocol_split : split, all_epochs, true, req.run.trace_test);
    if (!split.valid.empty() && !carve) valid_values = valid_part(*built);
  }
  const M& model = *built;
  // What the final model was trained on: every training row after a retraining (or a closed form
  // on the protocol's training rows), else the split's.
  const Split& final_split = carve ? protocol_split : split;
  const WholeRows inputs(ds, final_split.train, side);
  if (top_n) {
    if constexpr (report::HasRowScores<M>) {
      const report::ItemScorer<M> scorer(model, theta, ds, &inputs);
      if (!valid_values.empty()) rep.parts.emplace_back("valid", valid_values);
      std::vector<RowIndex> seen(final_split.train.begin(), final_split.train.end());
      seen.insert(seen.end(), final_split.valid.begin(), final_split.valid.end());
      rep.parts.emplace_back("test", report::ranking_metrics(ds, seen, final_split.test, scorer, top.ks,
                                                             top.capped_recall, top.threads));
    }
  } else {
    rep.parts.emplace_back("train", detail::row_error_values(model, theta, inputs));
    if (!valid_values.empty()) rep.parts.emplace_back("valid", valid_values);
    rep.parts.emplace_back("test", detail::row_error_values(model, theta, WholeRows(ds, final_split.train, final_split.test, side)));
  }
  extra(model, theta, final_split, rep);
  if (!req.run.save.empty())
    save_parameters<float>(req.run.save, req.model, detail::parameter_config(req), theta);
  return rep;
}

}  // namespace metarec::registry
