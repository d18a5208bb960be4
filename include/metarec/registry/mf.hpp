#pragma once
/// @file mf.hpp
/// @brief Registry entries of the MF family (docs/models_mf.md): mf, mf-bias, mf-side,
/// mf-temporal, fm, mf-mixture, mf-variational, svdpp. Their recipes are the settings bench_mf
/// chose on a validation split carved from the training ratings (docs/benchmarks.md), so
/// `metarec train --model M --protocol P` reproduces bench_mf's row.

#include <metarec/models/mf/factorization_machine.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/mixture_mf.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/models/mf/svdpp.hpp>
#include <metarec/models/mf/temporal_mf.hpp>
#include <metarec/models/mf/variational_mf.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/model_entry.hpp>
#include <metarec/registry/train_driver.hpp>

#include <string>
#include <tuple>
#include <vector>

namespace metarec::registry {

namespace detail {

/// The options of every MF model, after the fit options (per-rating SGD, 5% validation).
inline std::vector<OptionSpec> mf_options() {
  std::vector<OptionSpec> o = fit_options({.epochs = "20", .lr = "0.005", .batch = "1",
                                           .optimizer = "sgd", .patience = "3",
                                           .valid_frac = "0.05", .negatives = "4"});
  o.push_back({"dims", OptionKind::integer, "64", "latent dimensions", {}, 1});
  o.push_back({"reg", OptionKind::number, "0.05", "L2 on the factors (per rating)", {}, 0});
  o.push_back({"bias-reg", OptionKind::number, "-1", "L2 on the biases (-1: same as --reg)", {}, -1});
  o.push_back({"init-std", OptionKind::number, "-1",
               "factors start N(0, X^2) (-1: the model's default)", {}, -1});
  return o;
}

/// mf-side's λ on the item ID factors and biases, apart from --reg.
inline std::vector<OptionSpec> item_reg_options() {
  return {{"item-reg", OptionKind::number, "-1",
           "L2 on the item ID factors q_i (-1: same as --reg); larger moves what items share into "
           "the item feature factors, which new items have too", {}, -1},
          {"item-bias-reg", OptionKind::number, "-1",
           "L2 on the item ID biases b_i (-1: same as the other biases); larger moves the items' mean "
           "ratings into the feature biases (genres, year), which new items have too", {}, -1}};
}

/// Sets the fields an MF option struct has from the settings (μ from the training rows).
template <class O>
O mf_model_options(const Settings& s, double mean) {
  O o;
  const double reg = s.number("reg");
  const double breg = s.number("bias-reg") < 0 ? reg : s.number("bias-reg");
  if constexpr (requires { o.dims; }) o.dims = s.integer32("dims");
  if constexpr (requires { o.reg; }) o.reg = reg;
  if constexpr (requires { o.feature_reg; }) o.feature_reg = reg;
  if constexpr (requires { o.bias_reg; }) o.bias_reg = breg;
  if constexpr (requires { o.global_mean; }) o.global_mean = mean;
  if constexpr (requires { o.init_std; })
    if (s.number("init-std") > 0) o.init_std = s.number("init-std");
  return o;
}

/// The recipe of bench_mf for both rating protocols (seed-mf, ml1m-90-10).
inline std::vector<Recipe> mf_recipes(Settings s) {
  const std::string source =
      "bench_mf: chosen on a 5% validation split of the training ratings (docs/benchmarks.md)";
  return {{"seed-mf", s, source}, {"ml1m-90-10", s, source}};
}

/// An MF entry: name, summary, needs, recipe, and how to build the model for a split.
template <class Build>
ModelEntry mf_entry(std::string name, std::string summary, std::vector<std::string> needs,
                    Settings recipe, Build build) {
  ModelEntry e;
  e.name = std::move(name);
  e.family = Family::mf;
  e.summary = std::move(summary);
  e.needs = std::move(needs);
  e.protocols = {"seed-mf", "ml1m-90-10"};
  e.options = mf_options();
  e.recipes = mf_recipes(std::move(recipe));
  e.train = [build](const TrainRequest& r) {
    return train_rating_rows([&](const Split& sp) { return build(r, sp); }, r, FitPlan::from(r.settings),
                             Evaluation::rating);
  };
  return e;
}

}  // namespace detail

/// The MF family's entries, in the order of docs/models_mf.md.
inline std::vector<ModelEntry> mf_models() {
  using detail::mf_entry;
  using detail::mf_model_options;
  auto mean = [](const TrainRequest& r, const Split& sp) { return r.data.mean_rating(sp.train); };
  auto mf = [mean](bool biases) {
    return [mean, biases](const TrainRequest& r, const Split& sp) {
      auto o = mf_model_options<MatrixFactorizationOptions>(r.settings, mean(r, sp));
      o.biases = biases;
      return MatrixFactorization<float>(r.data.num_users(), r.data.num_items(), o);
    };
  };
  std::vector<ModelEntry> v;
  v.push_back(mf_entry("mf", "vanilla matrix factorisation, r = p_u . q_i", {},
                       {{"dims", "128"}, {"epochs", "40"}, {"lr", "0.005"}, {"reg", "0.05"}}, mf(false)));
  v.push_back(mf_entry("mf-bias", "biased MF, r = mu + b_u + b_i + p_u . q_i", {},
                       {{"dims", "128"}, {"epochs", "40"}, {"lr", "0.005"}, {"reg", "0.05"}}, mf(true)));
  v.push_back(mf_entry("mf-side", "MF with user and item side features (SVDFeature)", {"side features"},
                       {{"dims", "32"}, {"epochs", "25"}, {"lr", "0.005"}, {"reg", "0.05"}},
                       [mean](const TrainRequest& r, const Split& sp) {
                         auto o = mf_model_options<SideFeatureMFOptions>(r.settings, mean(r, sp));
                         o.item_reg = r.settings.number("item-reg");
                         o.item_bias_reg = r.settings.number("item-bias-reg");
                         return SideFeatureMF<float>(r.data, o);
                       }));
  for (OptionSpec& o : detail::item_reg_options()) v.back().options.push_back(std::move(o));
  v.push_back(mf_entry("mf-temporal", "timeSVD-style MF with time-bin and per-day terms", {"times"},
                       {{"dims", "128"}, {"epochs", "80"}, {"lr", "0.005"}, {"reg", "0.1"}},
                       [mean](const TrainRequest& r, const Split& sp) {
                         return TemporalMF<float>(r.data, mf_model_options<TemporalMFOptions>(r.settings, mean(r, sp)), sp.train);
                       }));
  v.back().recipes[0].source = v.back().recipes[1].source =
      "bench_mf: chosen on ML-100K validation (docs/models_mf.md); needs rating times";
  v.push_back(mf_entry("fm", "factorisation machine over ids, side features and time", {},
                       {{"dims", "32"}, {"epochs", "25"}, {"lr", "0.005"}, {"reg", "0.05"}},
                       [mean](const TrainRequest& r, const Split& sp) {
                         return FactorizationMachine<float>(r.data, mf_model_options<FactorizationMachineOptions>(r.settings, mean(r, sp)));
                       }));
  v.push_back(mf_entry("mf-mixture", "mixture-of-tastes MF (attention over user tastes)", {},
                       {{"dims", "32"}, {"epochs", "40"}, {"lr", "0.02"}, {"reg", "0.02"}},
                       [mean](const TrainRequest& r, const Split& sp) {
                         return MixtureMF<float>(r.data.num_users(), r.data.num_items(),
                                                 mf_model_options<MixtureMFOptions>(r.settings, mean(r, sp)));
                       }));
  v.push_back(mf_entry("mf-variational", "variational MF (Gaussian factors, reparameterised)", {},
                       {{"dims", "8"}, {"epochs", "8"}, {"lr", "0.01"}, {"reg", "0.05"}},
                       [mean](const TrainRequest& r, const Split& sp) {
                         return VariationalMF<float>(r.data.num_users(), r.data.num_items(),
                                                     mf_model_options<VariationalMFOptions>(r.settings, mean(r, sp)));
                       }));
  v.push_back(mf_entry("svdpp", "SVD++ (implicit feedback of the training items)", {},
                       {{"dims", "256"}, {"epochs", "60"}, {"lr", "0.01"}, {"reg", "0.05"},
                        {"bias-reg", "0.02"}, {"lr-decay", "0.95"}, {"init-std", "0.01"}},
                       [mean](const TrainRequest& r, const Split& sp) {
                         // N(u) = the items of u's training rows, so held-out rows never enter
                         // the implicit sets; λ_y = --reg.
                         auto o = mf_model_options<SvdppOptions>(r.settings, mean(r, sp));
                         o.implicit_reg = r.settings.number("reg");
                         return SvdppMF<float>(r.data, sp.train, o);
                       }));
  v.back().recipes[0].source = v.back().recipes[1].source =
      "bench_mf: chosen on a 5% validation split of the ml1m-90-10 training ratings (docs/benchmarks.md)";
  // Cold start: every user reads one shared, meta-learned vector p0 (and bias b0), adapted per
  // task in the inner loop (the task-local segments); the global model is plain per-rating SGD.
  const std::vector<OptionSpec> meta_mf{
      {"dims", OptionKind::integer, "16", "latent dimensions", {}, 1},
      {"reg", OptionKind::number, "0.01", "L2 on factors and biases", {}, 0},
      {"init-std", OptionKind::number, "0.1", "factors start N(0, X^2)", {}, 0}};
  std::vector<OptionSpec> meta_side = meta_mf;
  for (OptionSpec& o : detail::item_reg_options()) meta_side.push_back(std::move(o));
  const GlobalFit sgd{"sgd", 0.01, 1};
  auto shared = [](const Settings& s, double mean) {
    const double reg = s.number("reg");
    return std::tuple{s.integer32("dims"), reg, s.number("init-std"), mean};
  };
  for (auto& e : v) {
    if (e.name == "mf-bias")
      e.meta = meta_support(meta_mf, "0.5", "0.01", sgd, [shared](const Dataset& ds, const Settings& s, double mean) {
        const auto [dims, reg, init, mu] = shared(s, mean);
        return MatrixFactorization<float>(ds.num_users(), ds.num_items(),
                                          {.dims = dims, .biases = true, .reg = reg, .bias_reg = reg,
                                           .init_std = init, .global_mean = mu, .shared_user = true});
      });
    if (e.name == "mf-side")
      e.meta = meta_support(meta_side, "0.5", "0.01", sgd, [shared](const Dataset& ds, const Settings& s, double mean) {
        const auto [dims, reg, init, mu] = shared(s, mean);
        return SideFeatureMF<float>(ds, {.dims = dims, .reg = reg, .item_reg = s.number("item-reg"), .bias_reg = reg,
                                         .item_bias_reg = s.number("item-bias-reg"), .feature_reg = reg,
                                         .init_std = init, .global_mean = mu, .shared_user = true});
      });
    // bench_cold_start's recipe: from the global model (20 SGD epochs on the warm ratings less the
    // validation users, untouched parameters set to 0), early stopping on 10% of the warm users;
    // the inner and outer steps are its grid's validation choice for each algorithm (the general
    // recipe is second-order MAML's, the default algorithm; docs/benchmarks.md, settings lines).
    const bool bias = e.name == "mf-bias";
    if (e.meta)
      e.meta.recipes = melu_recipes_by_algo(
          {{"init-std", "0.01"}, {"inner-lr", "0.5"}, {"outer-lr", bias ? "0.003" : "0.001"}, {"epochs", "10"},
           {"patience", "2"}, {"pretrain-epochs", "20"}, {"valid-users", "0.1"}},
          "bench_cold_start: inner x outer step chosen on 10% of the warm users held out (docs/benchmarks.md)",
          bias ? std::vector<std::pair<std::string, Settings>>{{"reptile", {{"inner-lr", "0.2"}}}}
               : std::vector<std::pair<std::string, Settings>>{{"fomaml", {{"outer-lr", "0.003"}}},
                                                               {"reptile", {{"outer-lr", "0.003"}}}});
    // mf-bias's per-user start (`--start per-user`): biased MF trained with a vector per user at
    // bench_mf's ML-1M setting (128 dims, reg 0.05, 40 epochs of per-rating SGD at 0.005), folded
    // into the mean user, then meta-trained; bench_cold_start's "per-user MF, mean user, then ..."
    // rows. Reptile by default (its best on validation MAE); FOMAML's steps were validated too,
    // MAML's and Meta-SGD's were not (the general recipe's steps are used).
    if (!e.meta) continue;
    e.meta.options.push_back(
        {"start", OptionKind::word, "global",
         std::string("global: pre-train one shared user vector (the global model); ") +
             (bias ? "per-user: train biased MF with a vector per user and fold it into their mean; " : "") +
             "own: train the MF with a vector per user, no meta-training; a test user it was trained on (an "
             "existing user, as in melu-item-cold) starts from their own vector, any other from the mean user, "
             "then fine-tunes on the support set",
         bias ? std::vector<std::string>{"global", "per-user", "own"} : std::vector<std::string>{"global", "own"}});
    if (bias) {
      const Settings per_user{{"algo", "reptile"}, {"dims", "128"}, {"reg", "0.05"}, {"init-std", "0.1"},
                              {"inner-lr", "0.5"}, {"outer-lr", "0.001"}, {"epochs", "10"}, {"patience", "2"},
                              {"pretrain-epochs", "40"}, {"valid-users", "0.1"}};
      const std::string src = "bench_cold_start, per-user MF folded: inner x outer step chosen on 10% of the warm "
                              "users held out (docs/benchmarks.md)";
      for (const char* algo : {"", "fomaml", "reptile"})
        for (Recipe& r : melu_recipes(per_user, *algo ? src + " (" + algo + ")" : src + " (Reptile's; MAML and "
                                                                                      "Meta-SGD not validated)",
                                      algo)) {
          r.start = "per-user";
          e.meta.recipes.push_back(std::move(r));
        }
    }
    // `--start own`: bench_cold_start's row "per-user MF, each existing user from their own vector +
    // fine-tuning": the per-user MF of the fold section (128 dims, reg 0.05, 40 epochs; mf-side with
    // L2 2 on the item ID factors and 1 on the item ID biases), no meta-epoch, 5 steps of 0.05 on
    // the user's vector and bias; the L2 weights and the step chosen on its item-cold validation
    // analogue (docs/benchmarks.md).
    Settings own{{"dims", "128"}, {"reg", "0.05"}, {"init-std", "0.1"}, {"inner-lr", "0.05"},
                 {"epochs", "0"}, {"pretrain-epochs", "40"}, {"valid-users", "0.1"}};
    if (!bias) own.set("item-reg", "2"), own.set("item-bias-reg", "1");
    for (Recipe& r : melu_recipes(own, "bench_cold_start, existing users from their own vectors: the step chosen on "
                                       "an item-cold validation analogue for existing users (docs/benchmarks.md); "
                                       "the same step in the other scenarios, not validated there")) {
      r.start = "own";
      e.meta.recipes.push_back(std::move(r));
    }
  }
  return v;
}

}  // namespace metarec::registry
