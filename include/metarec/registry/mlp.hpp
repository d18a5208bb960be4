#pragma once
/// @file mlp.hpp
/// @brief Registry entries of the MLP family (docs/models_mlp.md): wide-deep, deepfm, xdeepfm,
/// nfm, ncf-gmf, ncf-mlp, neumf (BCE on rating > 3: AUC on seed-mlp, full ranking on recbole and
/// seed-ae) and melu (squared error: rating errors). Mini-batch Adam with early stopping on the
/// protocol's validation rows; the recipes are bench_mlp's settings.

#include <metarec/models/mlp/deepfm.hpp>
#include <metarec/models/mlp/melu.hpp>
#include <metarec/models/mlp/ncf.hpp>
#include <metarec/models/mlp/nfm.hpp>
#include <metarec/models/mlp/wide_deep.hpp>
#include <metarec/models/mlp/xdeepfm.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/model_entry.hpp>
#include <metarec/registry/train_driver.hpp>

#include <string>
#include <vector>

namespace metarec::registry {

namespace detail {

/// The options of every MLP model, after the fit options (mini-batch Adam).
inline std::vector<OptionSpec> mlp_options(const std::string& dims, const std::string& loss,
                                           const std::string& tower) {
  std::vector<OptionSpec> o = fit_options({.epochs = "20", .lr = "0.001", .batch = "1024",
                                           .optimizer = "adam", .patience = "3",
                                           .valid_frac = "0", .negatives = "4"});
  o.push_back({"dims", OptionKind::integer, dims, "embedding width", {}, 1});
  o.push_back({"reg", OptionKind::number, "0", "AdamW weight decay (decoupled; touched rows only)", {}, 0});
  o.push_back({"hidden", OptionKind::list, "",
               "hidden layer sizes, e.g. 64,64 (empty: the model's default, " + tower + ")", {}, 1});
  o.push_back({"dropout", OptionKind::number, "0", "dropout after hidden layers, in [0, 1)", {}, 0, 1, false, true});
  o.push_back({"side-features", OptionKind::flag, "0", "also embed the user and item side features"});
  o.push_back({"loss", OptionKind::word, loss, "bce (label rating > 3) or mse", {"bce", "mse"}});
  return o;
}

/// How the test part is scored: full ranking on top-N protocols, else by the loss.
inline Evaluation mlp_evaluation(const TrainRequest& r) {
  if (evaluation_of(r.protocol) == Evaluation::top_n) return Evaluation::top_n;
  return r.settings.text("loss") == "bce" ? Evaluation::classifier : Evaluation::rating;
}

inline std::vector<Eigen::Index> hidden_of(const Settings& s, std::vector<Eigen::Index> fallback) {
  const auto h = s.list("hidden");
  if (h.empty()) return fallback;
  return {h.begin(), h.end()};
}
inline nn::LossKind loss_of(const Settings& s) {
  return s.text("loss") == "mse" ? nn::LossKind::squared_error : nn::LossKind::bce;
}

template <class Build>
ModelEntry mlp_entry(std::string name, std::string summary, std::vector<std::string> protocols,
                     std::vector<OptionSpec> options, std::vector<Recipe> recipes, Build build) {
  ModelEntry e;
  e.name = std::move(name);
  e.family = Family::mlp;
  e.summary = std::move(summary);
  e.protocols = std::move(protocols);
  e.options = std::move(options);
  e.recipes = std::move(recipes);
  e.train = [build](const TrainRequest& r) {
    FitPlan plan = FitPlan::from(r.settings);
    plan.weight_decay = r.settings.number("reg");
    return train_rating_rows([&](const Split&) { return build(r); }, r, plan, mlp_evaluation(r));
  };
  return e;
}

/// A field network (NFM, DeepFM, Wide&Deep, xDeepFM) from the settings.
template <class M>
M field_network(const TrainRequest& r) {
  FieldNetworkOptions o;
  o.embedding_dim = r.settings.integer32("dims");
  o.hidden = hidden_of(r.settings, o.hidden);
  o.dropout = r.settings.number("dropout");
  o.side_features = r.settings.flag("side-features");
  o.loss = loss_of(r.settings);
  return M(r.data, o);
}

inline const std::string bench_mlp_source =
    "bench_mlp: the metarec train defaults (Adam 1e-3, batch 1024, patience 3 on the validation "
    "rows) (docs/benchmarks.md)";

}  // namespace detail

/// The MLP family's entries, in the order of docs/models_mlp.md.
inline std::vector<ModelEntry> mlp_models() {
  using namespace detail;
  const std::vector<std::string> bce_protocols{"seed-mlp", "recbole", "seed-ae"};
  std::vector<ModelEntry> v;
  auto field = [&](std::string name, std::string summary, auto tag) {
    using M = typename decltype(tag)::type;
    v.push_back(mlp_entry(std::move(name), std::move(summary), bce_protocols,
                          mlp_options("16", "bce", "64,64"), {{"seed-mlp", {}, bench_mlp_source}},
                          [](const TrainRequest& r) { return field_network<M>(r); }));
  };
  field("wide-deep", "Wide&Deep: linear part + MLP over field embeddings", std::type_identity<WideDeep<float>>{});
  field("deepfm", "DeepFM: FM part + MLP over shared field embeddings", std::type_identity<DeepFm<float>>{});
  field("xdeepfm", "xDeepFM: linear + CIN + MLP over field embeddings", std::type_identity<XDeepFm<float>>{});
  field("nfm", "NFM: bi-interaction pooling + MLP", std::type_identity<Nfm<float>>{});
  auto ncf = [&](std::string name, std::string summary, NcfVariant variant, std::vector<Recipe> recipes) {
    v.push_back(mlp_entry(std::move(name), std::move(summary), bce_protocols,
                          mlp_options("32", "bce", "32,16,8"), std::move(recipes),
                          [variant](const TrainRequest& r) {
                            NcfOptions o;
                            o.variant = variant;
                            o.mlp_dim = r.settings.integer32("dims");
                            if (variant == NcfVariant::gmf) o.gmf_dim = o.mlp_dim;
                            o.hidden = hidden_of(r.settings, o.hidden);
                            o.dropout = r.settings.number("dropout");
                            o.side_features = r.settings.flag("side-features");
                            o.loss = loss_of(r.settings);
                            return Ncf<float>(r.data, o);
                          }));
  };
  ncf("ncf-gmf", "NCF's GMF: a weighted dot product of id embeddings", NcfVariant::gmf,
      {{"seed-mlp", {{"dims", "128"}}, "bench_mlp: width 128 from a small sweep on the validation AUC (docs/benchmarks.md)"}});
  ncf("ncf-mlp", "NCF's MLP tower over [p_u; q_i]", NcfVariant::mlp, {{"seed-mlp", {}, bench_mlp_source}});
  ncf("neumf", "NeuMF: GMF and MLP towers fused", NcfVariant::neumf,
      {{"seed-mlp", {}, bench_mlp_source},
       {"recbole", {{"epochs", "10"}, {"negatives", "4"}},
        "bench_mlp: NCF's training (4 sampled negatives per positive, redrawn per epoch), 10 epochs"}});
  v.push_back(mlp_entry("melu", "MeLU: side-feature embeddings + decision layers (regression)",
                        {"seed-mlp", "seed-mf", "ml1m-90-10"}, mlp_options("32", "mse", "64,64"),
                        {}, [](const TrainRequest& r) {
                          MeluModelOptions o;
                          o.embedding_dim = r.settings.integer32("dims");
                          o.hidden = hidden_of(r.settings, o.hidden);
                          o.dropout = r.settings.number("dropout");
                          o.loss = loss_of(r.settings);
                          // MeLU embeds the side features; --side-features adds nothing.
                          return Melu<float>(r.data, o);
                        }));
  v.back().needs = {"side features"};
  // Cold start: MeLU's decision layers are the task-local segments; the global model is
  // mini-batch Adam.
  v.back().meta = meta_support(
      {{"dims", OptionKind::integer, "32", "embedding width", {}, 1},
       {"hidden", OptionKind::list, "64,64", "decision layers", {}, 1}},
      "0.05", "0.001", GlobalFit{"adam", 1e-3, 64}, [](const Dataset& ds, const Settings& s, double) {
        MeluModelOptions o;
        o.embedding_dim = s.integer32("dims");
        o.hidden = hidden_of(s, o.hidden);
        return Melu<float>(ds, o);
      });
  // bench_cold_start's recipe for second-order MAML (the default algorithm): from the global model
  // (2 Adam epochs), at most 3 meta-epochs with early stopping on 10% of the warm users.
  // Other algorithms: their own validation choices (docs/benchmarks.md, settings lines).
  v.back().meta.recipes = melu_recipes_by_algo(
      {{"inner-lr", "0.02"}, {"outer-lr", "0.0003"}, {"epochs", "3"}, {"patience", "1"}, {"pretrain-epochs", "2"},
       {"valid-users", "0.1"}},
      "bench_cold_start: inner x outer step chosen on 10% of the warm users held out (docs/benchmarks.md)",
      {{"fomaml", {{"outer-lr", "0.001"}}},
       {"reptile", {{"outer-lr", "0.001"}}},
       {"metasgd", {{"inner-lr", "0.01"}, {"outer-lr", "0.001"}}}});
  return v;
}

}  // namespace metarec::registry
