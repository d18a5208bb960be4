#pragma once
/// @file boltzmann.hpp
/// @brief Registry entries of the Boltzmann family (docs/models_bm.md): rbm-u and rbm-i (RBM-CF,
/// rating prediction), rbm-binary (Bernoulli RBM on implicit data, top-N; 0/1 errors on rating
/// protocols), rbm-explainable (explainable RBM: top-N with explanations and MEP/MER, or rating
/// prediction), cf-nade-i and cf-nade-u (CF-NADE, rating prediction). All train through
/// `train_whole_rows`: the RBMs by SGD with momentum on their CD-k direction, in one training phase
/// per entry of `cd-steps` (k raised from phase to phase, θ carried over); CF-NADE by Adam. The
/// recipes are bench_bm's settings, chosen on validation data only.

#include <metarec/models/boltzmann/bernoulli_rbm.hpp>
#include <metarec/models/boltzmann/cf_nade.hpp>
#include <metarec/models/boltzmann/explainable_rbm.hpp>
#include <metarec/models/boltzmann/rbm_cf.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/model_entry.hpp>
#include <metarec/registry/train_driver.hpp>
#include <metarec/report/item_scores.hpp>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metarec::registry {

namespace detail {

/// The options every RBM reads, after the fit options (SGD with momentum).
inline std::vector<OptionSpec> rbm_options(const FitDefaults& fit, const std::string& hidden) {
  std::vector<OptionSpec> o = fit_options(fit);
  o.push_back({"hidden", OptionKind::integer, hidden, "hidden units F", {}, 1});
  o.push_back({"cd-steps", OptionKind::list, "1",
               "CD-k schedule: one training phase per entry, each from where the last left θ "
               "(e.g. 1,3,5 raises k as Salakhutdinov et al. do)", {}, 1});
  o.push_back({"cd-epochs", OptionKind::list, "",
               "epochs of each cd-steps phase, their total capped at `epochs` (empty: `epochs` each, early stopping when validating)", {}, 1});
  o.push_back({"momentum", OptionKind::number, "0.9", "SGD momentum", {}, 0, 1, false, true});
  o.push_back({"weight-decay", OptionKind::number, "0.001",
               "weight decay on W (added to the direction once per touched column per step)", {}, 0});
  o.push_back({"init-std", OptionKind::number, "0.01", "W starts N(0, init-std^2)", {}, 0});
  return o;
}

/// The softmax RBMs' own options (rbm-u, rbm-i, rbm-explainable).
inline void add_softmax_options(std::vector<OptionSpec>& o) {
  o.push_back({"prediction", OptionKind::word, "mean-field",
               "mean-field (the paper's) or exact (hidden units summed out)", {"mean-field", "exact"}});
  o.push_back({"mf-negative", OptionKind::flag, "0",
               "the chain's last visible step uses p(v | h) instead of a sample (lower variance)"});
}

/// The FitPlan of an RBM: SGD momentum, one phase per cd-steps entry (with its cd-epochs, whose
/// running total is capped at `epochs`).
/// @throws std::invalid_argument when cd-epochs is given with another length than cd-steps.
inline FitPlan rbm_plan(const Settings& s) {
  FitPlan plan = FitPlan::from(s);
  plan.momentum = s.number("momentum");
  plan.phases = static_cast<int>(s.list("cd-steps").size());
  const auto epochs = s.list("cd-epochs");
  if (!epochs.empty() && epochs.size() != s.list("cd-steps").size())
    throw std::invalid_argument("--cd-epochs has " + std::to_string(epochs.size()) + " entries for " +
                                std::to_string(s.list("cd-steps").size()) + " phases (--cd-steps " +
                                s.text("cd-steps") + "); give one per phase or none");
  plan.phase_epochs.assign(epochs.begin(), epochs.end());
  int left = plan.epochs;  // `epochs` caps the total: --epochs 2 on a 39,1 recipe runs 2 of phase 1
  for (int& e : plan.phase_epochs) {
    e = std::min(e, left);
    left -= e;
  }
  return plan;
}

/// k of a phase.
inline int cd_steps_of(const Settings& s, int phase) {
  const auto ks = s.list("cd-steps");
  return ks.empty() ? 1 : static_cast<int>(ks[static_cast<std::size_t>(std::min<std::size_t>(static_cast<std::size_t>(phase), ks.size() - 1))]);
}

/// The softmax RBM options every RBM entry has (hidden, cd-steps, weight-decay, init-std).
inline SoftmaxRbmOptions softmax_options_of(const Settings& s, int phase) {
  SoftmaxRbmOptions o;
  o.hidden = s.integer32("hidden");
  o.cd_steps = cd_steps_of(s, phase);
  o.weight_decay = s.number("weight-decay");
  o.init_std = s.number("init-std");
  return o;
}

/// ... and those of the rating RBMs (prediction, mf-negative).
inline SoftmaxRbmOptions softmax_options(const Settings& s, int phase) {
  SoftmaxRbmOptions o = softmax_options_of(s, phase);
  o.prediction = s.text("prediction") == "exact" ? RbmPrediction::exact : RbmPrediction::mean_field;
  o.mean_field_negative = s.flag("mf-negative");
  return o;
}

/// CF-NADE's options from an entry's settings (hidden, ordinal-weight, reg, init-scale).
inline CfNadeOptions cf_nade_options(const Settings& s) {
  const auto h = s.list("hidden");
  CfNadeOptions o;
  o.hidden.assign(h.begin(), h.end());
  o.ordinal_weight = s.number("ordinal-weight");
  o.reg = s.number("reg");
  o.init_scale = s.number("init-scale");
  return o;
}

inline ModelEntry boltzmann_entry(std::string name, std::string summary, std::vector<std::string> protocols,
                                  std::vector<OptionSpec> options, std::vector<Recipe> recipes,
                                  std::function<report::TrainReport(const TrainRequest&)> train) {
  return ModelEntry{.name = std::move(name), .family = Family::boltzmann, .summary = std::move(summary), .needs = {},
                    .protocols = std::move(protocols), .options = std::move(options), .recipes = std::move(recipes),
                    .train = std::move(train), .meta = {}, .fold_in = {}};
}

/// The explainability part of an explainable RBM's report: MEP@k and MER@k of every test user's
/// top-k unseen items (k: the first cut-off), with the number of users.
struct ExplainabilityPart {
  std::size_t k = 10;
  template <class M>
  void operator()(const M& model, const Vector<float>& theta, const Split& split, report::TrainReport& rep) const {
    const Dataset& ds = *split_data;
    const WholeRows inputs(ds, split.train, RowSide::user);
    const report::ItemScorer<M> scorer(model, theta, ds, &inputs);
    std::vector<std::vector<std::uint32_t>> seen(ds.num_users());
    for (const RowIndex r : split.train) seen[ds.user(r)].push_back(ds.item(r));
    for (const RowIndex r : split.valid) seen[ds.user(r)].push_back(ds.item(r));
    std::vector<std::uint8_t> tested(ds.num_users(), 0);
    for (const RowIndex r : split.test) tested[ds.user(r)] = 1;
    std::vector<std::uint32_t> users;
    std::vector<std::vector<std::uint32_t>> lists, seen_of;
    for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
      if (!tested[u]) continue;
      std::sort(seen[u].begin(), seen[u].end());
      std::vector<std::uint32_t> list;
      for (const auto& rec : report::top_n(scorer, u, ds.num_items(), seen[u], k)) list.push_back(rec.item);
      users.push_back(u);
      lists.push_back(std::move(list));
      seen_of.push_back(std::move(seen[u]));
    }
    const auto s = model.explainability().mean_explainability(users, lists, seen_of, k);
    report::MetricValues v;
    v.add("mep@" + std::to_string(k), s.mep);
    v.add("mer@" + std::to_string(k), s.mer);
    v.add("users", static_cast<double>(s.users));
    rep.parts.emplace_back("explainability", std::move(v));
  }
  const Dataset* split_data = nullptr;
};

}  // namespace detail

/// The Boltzmann family's entries, in the order of docs/models_bm.md.
inline std::vector<ModelEntry> boltzmann_models() {
  using namespace detail;
  const std::string bench_bm_source =
      "bench_bm --select: settings compared and each CD-k phase's epochs chosen (patience 3) on a 5% validation "
      "carve of the training rows, then fixed here for a retraining on all of them (docs/models_bm.md)";
  const std::vector<std::string> rating_protocols{"ml1m-90-10", "seed-mf"};
  std::vector<ModelEntry> v;

  auto rbm_cf = [&](std::string name, std::string summary, RowSide side, std::vector<Recipe> recipes) {
    std::vector<OptionSpec> o = rbm_options({.epochs = "40", .lr = "0.3", .batch = "1000", .optimizer = "sgd",
                                             .patience = "3", .valid_frac = "0.05", .negatives = "0"},
                                            "100");
    add_softmax_options(o);
    v.push_back(boltzmann_entry(std::move(name), std::move(summary), rating_protocols, std::move(o), std::move(recipes),
                                [side](const TrainRequest& r) {
                                  const std::uint32_t columns = row_length(r.data, side);
                                  return train_whole_rows(
                                      [&](const Split&, int phase) {
                                        return RbmCf<float>(columns, softmax_options(r.settings, phase), side);
                                      },
                                      r, rbm_plan(r.settings), evaluation_of(r.protocol), side);
                                }));
  };
  rbm_cf("rbm-u", "RBM-CF, a user is a case: softmax units over the rated items, CD-k", RowSide::user,
         {{"ml1m-90-10",
           {{"hidden", "200"}, {"optimizer", "adam"}, {"lr", "0.003"}, {"mf-negative", "1"}, {"cd-steps", "1,3"},
            {"cd-epochs", "39,1"}, {"valid-frac", "0"}},
           bench_bm_source}});
  // rbm-i (session 13, the same carve): lr-decay 0.9 (validation RMSE 0.8493) against none (0.8515),
  // 0.95 (0.8507), 0.85 (0.8530), 0.9 with cd-steps 1,3,5 (0.8501), hidden 700 (0.8538),
  // weight-decay 0.002 (0.8524) or 0.005 (0.8518); its phases ran 40 and 20 epochs.
  rbm_cf("rbm-i", "RBM-CF, an item is a case: softmax units over its raters, CD-k", RowSide::item,
         {{"ml1m-90-10",
           {{"hidden", "500"}, {"weight-decay", "0.003"}, {"mf-negative", "1"}, {"cd-steps", "1,3"},
            {"lr-decay", "0.9"}, {"epochs", "60"}, {"cd-epochs", "40,20"}, {"valid-frac", "0"}},
           bench_bm_source}});

  {
    std::vector<OptionSpec> o = rbm_options({.epochs = "30", .lr = "0.03", .batch = "100", .optimizer = "sgd",
                                             .patience = "3", .valid_frac = "0.05", .negatives = "0"},
                                            "200");
    o.push_back({"threshold", OptionKind::number, "3", "a rating >= threshold is a one (a like)", {}, 0});
    o.push_back({"visible", OptionKind::word, "all",
                 "all: a Bernoulli unit for every item, unrated ones 0 (implicit feedback; BernoulliRbm); rated: "
                 "a like/dislike unit per rated item only (the original study's binary RBM; RbmCf with two levels)",
                 {"all", "rated"}});
    v.push_back(boltzmann_entry(
        "rbm-binary", "binary RBM, rating >= 3 -> 1: over every item (implicit, top-N) or over the rated items (like/dislike)",
        {"recbole", "seed-ae", "seed-mf", "ml1m-90-10"}, std::move(o),
        {{"seed-mf", {{"visible", "rated"}}, "the original study's model (like/dislike of the rated items) on its 75/25 split"}},
        [](const TrainRequest& r) {
          const Settings& s = r.settings;
          const auto threshold = static_cast<float>(s.number("threshold"));
          if (s.text("visible") == "rated") {
            return train_whole_rows(
                [&](const Split&, int phase) {
                  SoftmaxRbmOptions o = softmax_options_of(s, phase);
                  o.like_threshold = threshold;
                  return RbmCf<float>(r.data.num_items(), o, RowSide::user);
                },
                r, rbm_plan(s), evaluation_of(r.protocol), RowSide::user);
          }
          return train_whole_rows(
              [&](const Split&, int phase) {
                return BernoulliRbm<float>(r.data.num_items(),
                                           {.hidden = s.integer32("hidden"), .cd_steps = cd_steps_of(s, phase),
                                            .positive_threshold = threshold, .weight_decay = s.number("weight-decay"),
                                            .init_std = s.number("init-std")});
              },
              r, rbm_plan(s), evaluation_of(r.protocol), RowSide::user);
        }));
  }
  {
    std::vector<OptionSpec> o = rbm_options({.epochs = "30", .lr = "0.3", .batch = "100", .optimizer = "sgd",
                                             .patience = "3", .valid_frac = "0.05", .negatives = "0"},
                                            "100");
    add_softmax_options(o);
    o.push_back({"neighbours", OptionKind::integer, "50", "k nearest neighbours of the explainability matrix", {}, 1});
    o.push_back({"explain-threshold", OptionKind::number, "0", "theta: an item is explainable when its score is above it", {}, 0});
    o.push_back({"explain-weight", OptionKind::word, "share",
                 "share (of the neighbours who rated the item) or rating (sum of their ratings / (k * R_max))",
                 {"share", "rating"}});
    v.push_back(boltzmann_entry(
        "rbm-explainable",
        "explainable RBM: RBM-CF with the k-NN explainability vector as a conditional input; explanations, MEP/MER",
        {"seed-ae", "recbole", "ml1m-90-10", "seed-mf"}, std::move(o),
        {{"ml1m-90-10",
          {{"hidden", "200"}, {"optimizer", "adam"}, {"lr", "0.003"}, {"batch", "1000"}, {"mf-negative", "1"},
           {"epochs", "40"}, {"cd-steps", "1,3"}},
          "rbm-u's ml1m-90-10 settings (the explainable RBM is a user RBM with a conditional input); its epochs chosen "
          "by early stopping on a 5% validation carve of the training rows, then retrained on all of them"}},
        [](const TrainRequest& r) {
          const Settings& s = r.settings;
          const ExplainabilityOptions eo{.neighbours = s.integer32("neighbours"), .threshold = s.number("explain-threshold"),
                                         .rating_weighted = s.text("explain-weight") == "rating"};
          std::shared_ptr<const ExplainabilityMatrix> E;
          const Split* built_for = nullptr;
          auto build = [&](const Split& split, int phase) {
            if (built_for != &split || !E) {  // the matrix of the rows this fit trains on
              E = std::make_shared<const ExplainabilityMatrix>(ExplainabilityMatrix::from_neighbours(r.data, split.train, eo));
              built_for = &split;
            }
            return ExplainableRbm<float>(E, {.rbm = softmax_options(s, phase), .explainability = eo});
          };
          const Evaluation ev = evaluation_of(r.protocol);
          if (ev != Evaluation::top_n) return train_whole_rows(build, r, rbm_plan(s), ev, RowSide::user);
          ExplainabilityPart part{r.top.ks.empty() ? 10 : r.top.ks.front(), &r.data};
          return train_whole_rows(build, r, rbm_plan(s), ev, RowSide::user, part);
        }));
  }

  auto nade = [&](std::string name, std::string summary, RowSide side, std::vector<Recipe> recipes) {
    std::vector<OptionSpec> o = fit_options({.epochs = "30", .lr = "0.001", .batch = "512", .optimizer = "adam",
                                             .patience = "3", .valid_frac = "0.05", .negatives = "0"});
    o.push_back({"hidden", OptionKind::list, "500", "one or two tanh layer sizes, e.g. 500 or 500,500", {}, 1});
    o.push_back({"ordinal-weight", OptionKind::number, "1",
                 "lambda in (1 - lambda) * C_reg + lambda * C_ord (the authors' README: 1)", {}, 0, 1});
    o.push_back({"reg", OptionKind::number, "0", "L2 on the weight columns a case touches (and on U)", {}, 0});
    o.push_back({"init-scale", OptionKind::number, "1", "weights start U(+-scale * sqrt(6 / (fan_in + fan_out)))", {}, 0});
    v.push_back(boltzmann_entry(std::move(name), std::move(summary), rating_protocols, std::move(o), std::move(recipes),
                                [side](const TrainRequest& r) {
                                  const Settings& s = r.settings;
                                  const CfNadeOptions o = cf_nade_options(s);
                                  const std::uint32_t columns = row_length(r.data, side);
                                  return train_whole_rows([&](const Split&) { return CfNade<float>(columns, o, side); }, r,
                                                          FitPlan::from(s), evaluation_of(r.protocol), side);
                                }));
  };
  // cf-nade-i: reg in {0, 0.03, 0.1, 0.3} by bench_bm --select (session 13): validation RMSE 0.8604,
  // 0.8578, 0.8563, 0.8588, early stopping at 23 epochs for each. Session 14, the same carve: the
  // learning rate x 0.95 per epoch (the authors divide it by 4 on plateaus) 0.8388 at the 60-epoch
  // cap (x 0.93: 0.8413; x 0.95 with reg 0.3: 0.8404; batch 128 without decay: 0.8652). Session 15:
  // x 0.97 with patience 8 ran to its 90-epoch cap, 0.8370 (patience 3 stopped it at 25: 0.8503;
  // two layers 500,500 at x 0.95: 0.8433).
  // cf-nade-u: x 0.95 per epoch, early stopping at 56 of at most 60 epochs (validation 0.8629).
  nade("cf-nade-i", "CF-NADE, an item is a case: autoregressive over its raters, shared levels, ordinal cost",
       RowSide::item,
       {{"ml1m-90-10",
         {{"lr", "0.002"}, {"lr-decay", "0.97"}, {"reg", "0.1"}, {"epochs", "90"}, {"valid-frac", "0"}},
         "bench_bm --select: H 500, Adam 0.002, batch 512; reg 0.1 and the lr decay 0.97 per epoch chosen on a 5% "
         "validation carve of the training rows (early stopping, patience 8, ran to the 90-epoch cap), then fixed "
         "here for a retraining on all of them (docs/models_bm.md)"}});
  nade("cf-nade-u", "CF-NADE, a user is a case: autoregressive over the rated items, shared levels, ordinal cost",
       RowSide::user,
       {{"ml1m-90-10",
         {{"lr", "0.002"}, {"lr-decay", "0.95"}, {"epochs", "56"}, {"valid-frac", "0"}},
         "bench_bm --select: H 500, Adam 0.002, batch 512, the lr decay 0.95 per epoch; its 56 epochs chosen by "
         "early stopping (patience 3) on a 5% validation carve of the training rows, then fixed here for a "
         "retraining on all of them (docs/models_bm.md)"}});

  // Cold start (meta-train, adapt, bench_cold_start): a task is a user's row, the query predicted
  // from the support set; the inner loop adapts the hidden biases (the local segments). The RBM's
  // CD direction is no gradient, so its algorithms are the first-order ones (fomaml, its default,
  // and reptile); CF-NADE has an exact gradient and H·v and runs them all. The options' defaults
  // (5 epochs of the global model, 3 meta-epochs) are overridden on the MeLU protocols by the
  // recipes below, bench_cold_start's validated choices.
  for (auto& e : v) {
    if (e.name == "rbm-u") {
      e.meta = meta_support(
          options_named(e.options, {"hidden", "cd-steps", "weight-decay", "init-std", "prediction", "mf-negative"}),
          "0.1", "0.001", GlobalFit{"adam", 0.003, 100}, [](const Dataset& ds, const Settings& s, double) {
            return RbmCf<float>(ds.num_items(), softmax_options(s, 0), RowSide::user);
          });
      set_meta_default(e.meta, "algo", "fomaml");
    }
    if (e.name == "cf-nade-u")
      e.meta = meta_support(options_named(e.options, {"hidden", "ordinal-weight", "reg", "init-scale"}), "0.1", "0.001",
                            GlobalFit{"adam", 0.002, 512}, [](const Dataset& ds, const Settings& s, double) {
                              return CfNade<float>(ds.num_items(), cf_nade_options(s), RowSide::user);
                            });
    if (e.meta) {
      set_meta_default(e.meta, "pretrain-epochs", "5");
      set_meta_default(e.meta, "epochs", "3");
    }
    // rbm-u on the MeLU protocols: bench_cold_start's procedure and choices (10% of the warm users
    // held out for early stopping, patience 1, at most 3 meta-epochs from 5 epochs of the global
    // model, 100 hidden units). FOMAML and Reptile both chose inner 0.3 / outer 0.001; Reptile had
    // the better validation MAE (0.7370 against 0.7501), so it is the default algorithm. Fine-tuning
    // the global model did better still (0.7326, step 1): `--epochs 0 --inner-lr 1`.
    if (e.name == "rbm-u")
      e.meta.recipes = melu_recipes(whole_row_cold_start({{"algo", "reptile"}, {"inner-lr", "0.3"}, {"outer-lr", "0.001"}}),
                                    whole_row_cold_start_source());
    // cf-nade-u likewise, at 100 hidden units (the width the benchmark ran at to fit two cores;
    // not itself validated): every algorithm chose inner 0.3 / outer 0.001, Reptile had the best
    // validation MAE (0.7582; fine-tuning 0.7583, MAML and Meta-SGD 0.7634, FOMAML 0.7637).
    if (e.name == "cf-nade-u")
      e.meta.recipes = melu_recipes(
          whole_row_cold_start({{"algo", "reptile"}, {"hidden", "100"}, {"inner-lr", "0.3"}, {"outer-lr", "0.001"}}),
          whole_row_cold_start_source("; 100 hidden units for time (docs/benchmarks.md)"));
  }
  return v;
}

}  // namespace metarec::registry
