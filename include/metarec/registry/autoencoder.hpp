#pragma once
/// @file autoencoder.hpp
/// @brief Registry entries of the autoencoder family (docs/models_ae.md): autorec-i, autorec-u,
/// deeprec (rating prediction: ml1m-90-10, seed-mf), cdae, mult-dae, mult-vae, ease (top-N by full
/// ranking: seed-ae, recbole). Whole-row training through `train_whole_rows` (mini-batch Adam over
/// rows, model selection on validation rows — the protocol's, or a held-out share of the training
/// rows — then retraining on all of them); EASE is solved in closed form. The recipes are the
/// settings bench_ae chose on VALIDATION data (docs/models_ae.md), so
/// `metarec train --model M --protocol P` reproduces bench_ae's row.

#include <metarec/models/autoencoder/autorec.hpp>
#include <metarec/models/autoencoder/cdae.hpp>
#include <metarec/models/autoencoder/deeprec.hpp>
#include <metarec/models/autoencoder/ease.hpp>
#include <metarec/models/autoencoder/mult_vae.hpp>
#include <metarec/models/autoencoder/svae.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/model_entry.hpp>
#include <metarec/registry/train_driver.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace metarec::registry {

namespace detail {

/// The fit options of an autoencoder (mini-batch Adam over rows), without `negatives` unless the
/// model samples negatives (CDAE).
inline std::vector<OptionSpec> ae_fit_options(FitDefaults d, bool negatives) {
  std::vector<OptionSpec> o = fit_options(d);
  if (!negatives)
    o.erase(std::remove_if(o.begin(), o.end(), [](const OptionSpec& s) { return s.name == "negatives"; }),
            o.end());
  else
    for (OptionSpec& s : o)
      if (s.name == "negatives") s.help = "sampled unrated items per target item, redrawn every batch (CDAE)";
  return o;
}

/// An autoencoder entry: trained by `train_whole_rows` on `side` rows with the fit plan from the
/// settings (a negatives-free plan reads the default), evaluated as its protocol says.
template <class Build>
ModelEntry ae_entry(std::string name, std::string summary, std::vector<std::string> protocols,
                    std::vector<OptionSpec> options, std::vector<Recipe> recipes, RowSide side, Build build) {
  ModelEntry e{.name = std::move(name), .family = Family::autoencoder, .summary = std::move(summary),
               .needs = {}, .protocols = std::move(protocols), .options = std::move(options),
               .recipes = std::move(recipes), .train = {}, .meta = {}, .fold_in = {}};
  const bool fitted = e.option("epochs") != nullptr;
  const bool negatives = e.option("negatives") != nullptr;
  e.train = [build, side, fitted, negatives](const TrainRequest& r) {
    FitPlan plan;
    if (fitted) {
      Settings s = r.settings;
      if (!negatives) s.set("negatives", "0");
      plan = FitPlan::from(s);
    } else {
      plan.valid_frac = 0.0;  // solved in closed form
    }
    return train_whole_rows([&](const Split& sp) { return build(r, sp); }, r, plan,
                            evaluation_of(r.protocol), side);
  };
  return e;
}

inline std::vector<OptionSpec> rating_ae_options(FitDefaults d) {
  std::vector<OptionSpec> o = ae_fit_options(d, false);
  o.push_back({"reg", OptionKind::number, "100", "lambda of (lambda/2)(|W|^2 + |V|^2), the paper's objective (spread over the training rows)", {}, 0});
  return o;
}

inline std::vector<OptionSpec> topn_ae_options(FitDefaults d, bool negatives) {
  std::vector<OptionSpec> o = ae_fit_options(d, negatives);
  o.push_back({"dropout", OptionKind::number, "0.5", "input dropout (Mult-*) or corruption (CDAE), in [0, 1)", {}, 0, 1, false, true});
  o.push_back({"reg", OptionKind::number, "0", "(reg/2) sum of squared weights, every batch", {}, 0});
  return o;
}

inline std::vector<Eigen::Index> widths(const Settings& s, const char* name) {
  const auto v = s.list(name);
  return {v.begin(), v.end()};
}

/// The models of the entries, built from a request's settings for the training rows of `sp`
/// (bench_ae builds the same models for its time-to-accuracy runs).
inline AutoRec<float> autorec_model(const TrainRequest& r, const Split& sp, RowSide side) {
  return AutoRec<float>(r.data, {.side = side, .hidden = r.settings.integer("hidden"), .reg = r.settings.number("reg")},
                        sp.train);
}
inline DeepRec<float> deeprec_model(const TrainRequest& r, const Split& sp) {
  return DeepRec<float>(r.data, {.encoder = widths(r.settings, "encoder"),
                                 .last_activation = !r.settings.flag("linear-output"),
                                 .dropout = r.settings.number("dropout"), .reg = r.settings.number("reg"),
                                 .refeed = r.settings.number("refeed")},
                        sp.train);
}
inline Cdae<float> cdae_model(const TrainRequest& r) {
  return Cdae<float>(r.data, {.hidden = r.settings.integer("hidden"), .corruption = r.settings.number("dropout"),
                              .negatives = r.settings.integer32("negatives"), .reg = r.settings.number("reg")});
}
inline MultVae<float> mult_model(const Dataset& ds, const Settings& s, bool variational) {
  return MultVae<float>(ds, {.variational = variational, .hidden = widths(s, "hidden"), .latent = s.integer("latent"),
                             .dropout = s.number("dropout"), .beta = variational ? s.number("beta") : 0.0,
                             .reg = s.number("reg")});
}
inline MultVae<float> mult_model(const TrainRequest& r, bool variational) {
  return mult_model(r.data, r.settings, variational);
}
inline Svae<float> svae_model(const Dataset& ds, const Settings& s) {
  return Svae<float>(ds, {.embedding = s.integer("embedding"), .rnn = s.integer("rnn"), .hidden = s.integer("hidden"),
                          .latent = s.integer("latent"), .next_k = static_cast<std::uint32_t>(s.integer32("next-k")),
                          .beta = s.number("beta"), .reg = s.number("reg")});
}
inline Svae<float> svae_model(const TrainRequest& r) { return svae_model(r.data, r.settings); }
inline Ease<float> ease_model(const TrainRequest& r, const Split& sp) {
  return Ease<float>(r.data, {.reg = r.settings.number("reg")}, sp.train);
}

inline const std::string bench_ae_svae_source =
    "bench_ae --select: chosen on the svae protocol's validation users (ML-100K, seed 42), never on "
    "test (docs/models_ae.md)";
inline const std::string bench_ae_source =
    "bench_ae: chosen on validation data (the protocol's validation rows, or a held-out share of "
    "the training rows), never on test (docs/models_ae.md)";

}  // namespace detail

/// The autoencoder family's entries, in the order of docs/models_ae.md.
inline std::vector<ModelEntry> autoencoder_models() {
  using namespace detail;
  const std::vector<std::string> rating_protocols{"ml1m-90-10", "seed-mf"};
  const std::vector<std::string> topn_protocols{"seed-ae", "recbole"};
  // The svae protocol's baselines (its paper compares with Mult-VAE; EASE is the closed form).
  const std::vector<std::string> sequence_baselines{"seed-ae", "recbole", "svae"};
  const FitDefaults rating_fit{.epochs = "100", .lr = "0.005", .batch = "256", .optimizer = "adam",
                               .patience = "5", .valid_frac = "0.05", .negatives = "0"};
  const FitDefaults topn_fit{.epochs = "100", .lr = "0.001", .batch = "500", .optimizer = "adam",
                             .patience = "5", .valid_frac = "0.1", .negatives = "5"};
  std::vector<ModelEntry> v;

  auto autorec = [&](std::string name, std::string summary, RowSide side, std::vector<Recipe> recipes) {
    std::vector<OptionSpec> o = rating_ae_options(rating_fit);
    o.push_back({"hidden", OptionKind::integer, "500", "hidden units (sigmoid)", {}, 1});
    v.push_back(ae_entry(std::move(name), std::move(summary), rating_protocols, std::move(o), std::move(recipes), side,
                         [side](const TrainRequest& r, const Split& sp) { return autorec_model(r, sp, side); }));
  };
  const Settings autorec_base{{"lr", "0.005"}, {"lr-decay", "0.93"}, {"reg", "200"}};
  autorec("autorec-i", "I-AutoRec: one sigmoid layer over an item's ratings, masked squared error",
          RowSide::item, {{"ml1m-90-10", autorec_base, bench_ae_source}, {"seed-mf", autorec_base, bench_ae_source}});
  Settings autorec_u = autorec_base;
  autorec_u.set("reg", "30");
  autorec("autorec-u", "U-AutoRec: one sigmoid layer over a user's ratings, masked squared error",
          RowSide::user, {{"ml1m-90-10", autorec_u, bench_ae_source}, {"seed-mf", autorec_u, bench_ae_source}});

  {
    std::vector<OptionSpec> o = ae_fit_options(rating_fit, false);
    o.push_back({"encoder", OptionKind::list, "512,512,1024", "encoder widths; the last is the code (the decoder mirrors it)", {}, 1});
    o.push_back({"dropout", OptionKind::number, "0.8", "dropout on the code, in [0, 1)", {}, 0, 1, false, true});
    o.push_back({"reg", OptionKind::number, "0", "(reg/2) sum of squared weights, every batch", {}, 0});
    o.push_back({"refeed", OptionKind::number, "0", "weight of the dense re-feeding term (0: off)", {}, 0});
    o.push_back({"linear-output", OptionKind::flag, "0", "no activation on the output layer"});
    const Settings deeprec_base{{"encoder", "256,256,512"}, {"lr", "0.001"}, {"lr-decay", "0.97"},
                                {"dropout", "0.8"}};
    v.push_back(ae_entry("deeprec", "DeepRec: deep SELU autoencoder, dropout on the code, masked MSE, re-feeding",
                         rating_protocols, std::move(o),
                         {{"ml1m-90-10", deeprec_base, bench_ae_source}, {"seed-mf", deeprec_base, bench_ae_source}},
                         RowSide::user,
                         [](const TrainRequest& r, const Split& sp) { return deeprec_model(r, sp); }));
  }
  {
    std::vector<OptionSpec> o = topn_ae_options(topn_fit, true);
    o.push_back({"hidden", OptionKind::integer, "50", "hidden units (sigmoid)", {}, 1});
    const Settings cdae_base{{"lr", "0.02"}, {"hidden", "200"}, {"dropout", "0.2"}, {"reg", "0.01"}};
    v.push_back(ae_entry("cdae", "CDAE: denoising autoencoder with a user vector, BCE with sampled negatives",
                         topn_protocols, std::move(o),
                         {{"seed-ae", cdae_base, bench_ae_source}, {"recbole", cdae_base, bench_ae_source}},
                         RowSide::user,
                         [](const TrainRequest& r, const Split&) { return cdae_model(r); }));
  }
  auto mult = [&](std::string name, std::string summary, bool variational, std::vector<Recipe> recipes) {
    std::vector<OptionSpec> o = topn_ae_options(topn_fit, false);
    o.push_back({"hidden", OptionKind::list, "600", "encoder widths before the latent (mirrored by the decoder)", {}, 1});
    o.push_back({"latent", OptionKind::integer, "200", "latent (code) width", {}, 1});
    if (variational) o.push_back({"beta", OptionKind::number, "0.2", "KL weight (constant, see docs/models_ae.md)", {}, 0});
    v.push_back(ae_entry(std::move(name), std::move(summary), sequence_baselines, std::move(o), std::move(recipes),
                         RowSide::user,
                         [variational](const TrainRequest& r, const Split&) { return mult_model(r, variational); }));
  };
  const Settings dae_base{{"lr", "0.005"}, {"reg", "0.00004"}};
  mult("mult-dae", "Mult-DAE: [I-600-200-600-I] tanh denoising autoencoder, multinomial likelihood", false,
       {{"seed-ae", dae_base, bench_ae_source}, {"recbole", dae_base, bench_ae_source},
        {"svae", {{"batch", "32"}, {"lr", "0.001"}}, bench_ae_svae_source}});
  const Settings vae_base{{"lr", "0.005"}, {"beta", "0.2"}};
  mult("mult-vae", "Mult-VAE: variational [I-600-200-600-I], multinomial likelihood, beta * KL", true,
       {{"seed-ae", vae_base, bench_ae_source}, {"recbole", vae_base, bench_ae_source},
        {"svae", {{"batch", "100"}, {"lr", "0.005"}}, bench_ae_svae_source}});
  {
    const FitDefaults svae_fit{.epochs = "25", .lr = "0.001", .batch = "1", .optimizer = "adam",
                               .patience = "3", .valid_frac = "0", .negatives = "0"};
    std::vector<OptionSpec> o = ae_fit_options(svae_fit, false);
    o.push_back({"embedding", OptionKind::integer, "256", "item embedding width", {}, 1});
    o.push_back({"rnn", OptionKind::integer, "200", "GRU state width", {}, 1});
    o.push_back({"hidden", OptionKind::integer, "150", "encoder and decoder hidden width (tanh)", {}, 1});
    o.push_back({"latent", OptionKind::integer, "64", "latent width", {}, 1});
    o.push_back({"next-k", OptionKind::integer, "4", "each step's likelihood scores the next k items", {}, 1});
    o.push_back({"beta", OptionKind::number, "0.2", "KL weight (constant)", {}, 0});
    o.push_back({"reg", OptionKind::number, "0.005", "(reg/2) sum of squared weights, every batch (the authors' weight decay)", {}, 0});
    v.push_back(ae_entry("svae", "SVAE: GRU over the user's items in time order, a VAE per step, next-k multinomial likelihood",
                         {"svae"}, std::move(o), {{"svae", {{"lr", "0.002"}}, bench_ae_svae_source}}, RowSide::user,
                         [](const TrainRequest& r, const Split&) { return svae_model(r); }));
  }
  v.push_back(ae_entry("ease", "EASE: item-item B with a zero diagonal, closed form (one Cholesky)", sequence_baselines,
                       {{"reg", OptionKind::number, "500", "lambda of lambda |B|^2", {}, 0}},
                       {{"seed-ae", {{"reg", "1000"}}, bench_ae_source}, {"recbole", {{"reg", "1000"}}, bench_ae_source},
                        {"svae", {{"reg", "250"}}, bench_ae_svae_source}},
                       RowSide::user,
                       [](const TrainRequest& r, const Split& sp) { return ease_model(r, sp); }));

  // A new user of a top-N model (adapt from a `train --save` file): their ratings are the input.
  for (auto& e : v) {
    if (e.name == "svae")
      e.fold_in = [](const Dataset& ds, const Settings& s, Vector<float> theta) -> std::unique_ptr<FoldInScorer> {
        return std::make_unique<FoldInModel<Svae<float>>>(svae_model(ds, s), std::move(theta), "svae");
      };
    if (e.name == "mult-vae" || e.name == "mult-dae") {
      const bool variational = e.name == "mult-vae";
      e.fold_in = [variational](const Dataset& ds, const Settings& s, Vector<float> theta) -> std::unique_ptr<FoldInScorer> {
        return std::make_unique<FoldInModel<MultVae<float>>>(mult_model(ds, s, variational), std::move(theta),
                                                             variational ? "mult-vae" : "mult-dae");
      };
    }
    if (e.name == "ease")
      e.fold_in = [](const Dataset& ds, const Settings& s, Vector<float> theta) -> std::unique_ptr<FoldInScorer> {
        return std::make_unique<FoldInModel<Ease<float>>>(Ease<float>(ds, {.reg = s.number("reg")}), std::move(theta),
                                                          "ease");
      };
  }

  // Cold start (meta-train, adapt, bench_cold_start): a task is a user's row; the query is
  // predicted from the support set as input. The inner loop adapts the first layer's bias (the
  // models' local segments, docs/models_ae.md); the global model is the entry's Adam fit.
  for (auto& e : v) {
    if (e.name == "autorec-u")
      e.meta = meta_support(options_named(e.options, {"hidden", "reg"}), "0.1", "0.001", GlobalFit{"adam", 0.005, 256},
                            [](const Dataset& ds, const Settings& s, double mean) {
                              return AutoRec<float>(ds, {.side = RowSide::user, .hidden = s.integer("hidden"),
                                                         .reg = s.number("reg"), .examples = ds.num_users(),
                                                         .ratings = {.default_rating = mean}});
                            });
    if (e.name == "deeprec")
      e.meta = meta_support(options_named(e.options, {"encoder", "dropout", "reg"}), "0.1", "0.001",
                            GlobalFit{"adam", 0.001, 256}, [](const Dataset& ds, const Settings& s, double mean) {
                              return DeepRec<float>(ds, {.side = RowSide::user, .encoder = widths(s, "encoder"),
                                                         .dropout = s.number("dropout"), .reg = s.number("reg"),
                                                         .ratings = {.default_rating = mean}});
                            });
    if (e.meta) {  // from 5 epochs of the global model, 3 meta-epochs: sane, not validated defaults
      set_meta_default(e.meta, "pretrain-epochs", "5");
      set_meta_default(e.meta, "epochs", "3");
    }
    // autorec-u on the MeLU protocols: bench_cold_start's procedure and choices (10% of the warm
    // users held out for early stopping, patience 1, at most 3 meta-epochs from 5 epochs of the
    // global model). Every algorithm chose inner 0.3 / outer 0.001 on validation MAE, Reptile had
    // the best validation MAE, so it is the default algorithm. 100 hidden units: the width the
    // benchmark ran at to fit two cores (not itself validated).
    if (e.name == "autorec-u")
      e.meta.recipes = melu_recipes(
          whole_row_cold_start({{"algo", "reptile"}, {"hidden", "100"}, {"inner-lr", "0.3"}, {"outer-lr", "0.001"}}),
          whole_row_cold_start_source("; 100 hidden units for time (docs/benchmarks.md)"));
    // deeprec on the MeLU protocols: the same procedure. Reptile had the best validation MAE
    // (0.7729 against 0.7846 fine-tuned; the gradient-based algorithms 0.92-0.96), so it is the
    // default; each algorithm's inner step is its own validation choice (0.3 for Reptile and
    // MAML, 0.1 for FOMAML and Meta-SGD), outer 0.001 for all. The encoder is the ml1m-90-10
    // recipe's 256,256,512 (not validated here).
    if (e.name == "deeprec")
      e.meta.recipes = melu_recipes_by_algo(
          whole_row_cold_start({{"algo", "reptile"}, {"encoder", "256,256,512"}, {"inner-lr", "0.3"}, {"outer-lr", "0.001"}}),
          whole_row_cold_start_source("; the encoder of the ml1m-90-10 recipe (docs/benchmarks.md)"),
          {{"fomaml", {{"inner-lr", "0.1"}}}, {"metasgd", {{"inner-lr", "0.1"}}}});
  }
  return v;
}

}  // namespace metarec::registry
