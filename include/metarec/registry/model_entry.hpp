#pragma once
/// @file model_entry.hpp
/// @brief One registry entry per model (as RecBole's `get_model` + `properties/model/<M>.yaml`):
/// its name, family, what it needs, the protocols it runs on, its options with their defaults,
/// the settings the benchmarks validated per protocol (`Recipe`), and how to train it. The
/// `metarec` tool's `train`, `--help` and JSON, and every benchmark, read these entries; adding a
/// model to all of them is one entry.

#include <metarec/data/dataset.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/fold_in.hpp>
#include <metarec/registry/meta_model.hpp>
#include <metarec/registry/settings.hpp>
#include <metarec/report/train_report.hpp>

#include <cstdint>
#include <algorithm>
#include <functional>
#include <memory>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::registry {

/// The four model families of metarec.
enum class Family { mf, mlp, autoencoder, boltzmann };

[[nodiscard]] inline const char* family_name(Family f) noexcept {
  switch (f) {
    case Family::mf: return "MF";
    case Family::mlp: return "MLP";
    case Family::autoencoder: return "autoencoder";
    case Family::boltzmann: return "Boltzmann";
  }
  return "?";
}

/// How a protocol's test part is scored.
enum class Evaluation {
  rating,      ///< rating prediction: MSE, RMSE, MAE (seed-mf, ml1m-90-10)
  classifier,  ///< rating > 3 as a 0/1 label: AUC, log loss (seed-mlp)
  top_n,       ///< full ranking over unseen items: precision, recall, NDCG, MAP, hit @K (seed-ae, recbole)
};

/// The evaluation of a named protocol.
/// @throws std::invalid_argument for a protocol `train` does not run (the MeLU scenarios: use
///         meta-train).
inline Evaluation evaluation_of(const std::string& protocol) {
  if (protocol == "seed-mf" || protocol == "ml1m-90-10") return Evaluation::rating;
  if (protocol == "seed-mlp") return Evaluation::classifier;
  if (protocol == "seed-ae" || protocol == "recbole" || protocol == "svae") return Evaluation::top_n;
  throw std::invalid_argument("protocol '" + protocol + "' is not a training protocol (train runs "
                              "seed-mf, ml1m-90-10, seed-mlp, seed-ae, recbole, svae; the melu-* "
                              "scenarios are for meta-train)");
}

/// Settings validated for one protocol, and where they come from.
struct Recipe {
  std::string protocol;
  Settings settings;   ///< overrides of the options' defaults
  std::string source;  ///< e.g. "bench_mf: chosen on a 5% validation split of the training rows"
  /// Meta-learning recipes: the algorithm the settings were validated for; empty: every algorithm
  /// that has no recipe of its own on the protocol.
  std::string algo{};
  /// Meta-learning recipes: the `start` option's value they are for (empty: "global", or a model
  /// without that option).
  std::string start{};
};

/// How a run is observed and where it writes (none of this changes the trained θ).
struct RunOptions {
  bool progress = false;    ///< progress bar on stderr
  std::string log;          ///< JSON-lines log, one object per epoch (empty: none)
  std::string save;         ///< parameter file to write (empty: none)
  bool trace_test = false;  ///< rating models: test MSE after every epoch (benchmarks)
  bool refit = false;       ///< rating models with validation rows: choose the epochs on them,
                            ///< then retrain on training + validation rows (bench_mf's ML-100K)
  std::string data_name;    ///< recorded in the parameter file
};

/// Cut-offs and conventions of top-N reports.
struct TopNOptions {
  std::vector<std::size_t> ks{10, 100};  ///< the tool's --k
  bool capped_recall = false;            ///< recall = hits / min(K, |test|) (seed-ae's convention)
  int threads = 0;                       ///< evaluation threads with OpenMP (0: the default)
};

/// One training request: data, protocol split, resolved settings, seed.
struct TrainRequest {
  std::string model;  ///< the entry's name (recorded in the parameter file)
  const Dataset& data;
  const ProtocolSplit& split;
  std::string protocol;
  Settings settings;
  std::uint64_t seed = 42;
  RunOptions run{};
  TopNOptions top{};
};

/// What a registry entry gives the cold-start tools: the options of meta-learning (the model's
/// own first, then the loop's: see `meta_loop_options`), recipes per MeLU protocol, how the
/// global model is fitted, and how to build the model on a data set (μ = the warm ratings' mean).
struct MetaSupport {
  std::vector<OptionSpec> options;
  std::vector<Recipe> recipes;
  std::function<std::unique_ptr<MetaModel>(const Dataset&, const Settings&, double mean)> build;
  std::function<GlobalFit(const Settings&)> global_fit;
  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(build); }
};

/// The options of the meta-learning loop every meta-trainable model has, with its defaults.
inline std::vector<OptionSpec> meta_loop_options(const std::string& inner_lr, const std::string& outer_lr) {
  return {
      {"algo", OptionKind::word, "maml", "maml (second order), fomaml, reptile or metasgd",
       {"maml", "fomaml", "reptile", "metasgd"}},
      {"inner-steps", OptionKind::integer, "5", "inner gradient steps per task", {}, 0},
      {"inner-lr", OptionKind::number, inner_lr, "inner step size", {}, 0, 1e300, true},
      {"outer-lr", OptionKind::number, outer_lr, "Adam step size of the outer loop", {}, 0, 1e300, true},
      {"meta-batch", OptionKind::integer, "32", "tasks per outer step", {}, 1},
      {"epochs", OptionKind::integer, "10", "passes over the meta-training tasks", {}, 0},
      {"adapt", OptionKind::word, "local", "what the inner loop adapts: local (the model's task-local "
       "segments) or all (every parameter the support set touches)", {"local", "all"}},
      {"pretrain-epochs", OptionKind::integer, "0",
       "start from the global model trained this many epochs on the pooled warm ratings (0: random)", {}, 0},
      {"patience", OptionKind::integer, "0", "early stopping on validation tasks (0: off)", {}, 0},
      {"valid-users", OptionKind::number, "0",
       "fraction of the meta-training users held out (seeded) as validation tasks, for early stopping "
       "and out of the global model (0: none)", {}, 0, 1, false, true},
  };
}

/// The options of `all` named in `names`, in that order (a meta-learning entry reuses its model's).
/// @throws std::logic_error when a name is not among them (a registry bug).
inline std::vector<OptionSpec> options_named(const std::vector<OptionSpec>& all, const std::vector<std::string>& names) {
  std::vector<OptionSpec> out;
  for (const auto& n : names) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const OptionSpec& o) { return o.name == n; });
    if (it == all.end()) throw std::logic_error("options_named: no option '" + n + "'");
    out.push_back(*it);
  }
  return out;
}

/// A model of the registry.
struct ModelEntry {
  std::string name;                    ///< as on the command line: "mf-bias"
  Family family = Family::mf;
  std::string summary;                 ///< one line for --help
  std::vector<std::string> needs;      ///< what the data must have: "times", "side features"
  std::vector<std::string> protocols;  ///< protocols it runs on; the first is its default
  std::vector<OptionSpec> options;     ///< every setting it reads, with its default
  std::vector<Recipe> recipes;         ///< validated settings per protocol
  std::function<report::TrainReport(const TrainRequest&)> train;
  MetaSupport meta;                    ///< meta-learning (empty: not meta-trainable)
  /// Top-N models: a new user's scores from their ratings as input, with a `train --save` file's
  /// settings and θ (empty: not served that way). @throws std::invalid_argument on a θ size that
  /// does not fit the settings.
  std::function<std::unique_ptr<FoldInScorer>(const Dataset&, const Settings&, Vector<float>)> fold_in;

  [[nodiscard]] const std::string& default_protocol() const { return protocols.front(); }
  [[nodiscard]] bool runs_on(const std::string& protocol) const {
    for (const auto& p : protocols)
      if (p == protocol) return true;
    return false;
  }
  [[nodiscard]] const OptionSpec* option(const std::string& n) const {
    for (const auto& o : options)
      if (o.name == n) return &o;
    return nullptr;
  }
  [[nodiscard]] const Recipe* recipe(const std::string& protocol) const {
    for (const auto& r : recipes)
      if (r.protocol == protocol) return &r;
    return nullptr;
  }
};

/// Where a resolved value comes from.
enum class SettingSource { option_default, recipe, user };

namespace detail {

/// Option defaults, overridden by `recipe` (if any), overridden by `user`; every value checked.
inline Settings resolve(const std::string& model, const std::vector<OptionSpec>& options,
                        const Recipe* recipe, const Settings& user,
                        std::map<std::string, SettingSource>* sources) {
  auto find = [&](const std::string& n) -> const OptionSpec* {
    for (const auto& o : options)
      if (o.name == n) return &o;
    return nullptr;
  };
  Settings s;
  for (const auto& o : options) {
    s.set(o.name, o.default_value);
    if (sources) (*sources)[o.name] = SettingSource::option_default;
  }
  if (recipe)
    for (const auto& [k, v] : recipe->settings.values()) {
      if (!find(k))
        throw std::logic_error("registry: recipe of '" + model + "' sets unknown option '" + k + "'");
      s.set(k, v);
      if (sources) (*sources)[k] = SettingSource::recipe;
    }
  for (const auto& [k, v] : user.values()) {
    if (!find(k)) {
      std::string list;
      for (const auto& o : options) list += (list.empty() ? "--" : ", --") + o.name;
      throw std::invalid_argument("--" + k + " is not an option of model '" + model +
                                  "' (its options: " + list + ")");
    }
    s.set(k, v);
    if (sources) (*sources)[k] = SettingSource::user;
  }
  for (const auto& o : options) check_value(o, s.text(o.name));
  return s;
}

}  // namespace detail

/// The settings of a training run: the options' defaults, overridden by the recipe validated for
/// `protocol` (if any), overridden by `user`. Every value is checked against its option.
/// @throws std::invalid_argument on a protocol the model does not run on, a user setting the model
///         does not have (naming its options), or a bad value.
inline Settings resolve_settings(const ModelEntry& m, const std::string& protocol, const Settings& user,
                                 std::map<std::string, SettingSource>* sources = nullptr) {
  if (!m.runs_on(protocol)) {
    std::string list;
    for (const auto& p : m.protocols) list += (list.empty() ? "" : ", ") + p;
    throw std::invalid_argument("model '" + m.name + "' does not run on protocol '" + protocol +
                                "' (its protocols: " + list + ")");
  }
  return detail::resolve(m.name, m.options, m.recipe(protocol), user, sources);
}

/// The settings of a meta-training run on a MeLU `protocol`, as `resolve_settings` over the
/// entry's meta-learning options and recipes.
/// @throws std::invalid_argument on a model that is not meta-trainable, an unknown option or a bad value.
/// The meta-learning recipe that applies on `protocol` to the algorithm `user` asks for (its
/// "algo", else the model's default algorithm): that algorithm's own recipe if there is one, else
/// the general one; null when the protocol has none. Only recipes for the `start` the user asks
/// for (else the model's default; "global" and a model without that option: recipes without one)
/// are considered.
inline const Recipe* meta_recipe(const ModelEntry& m, const std::string& protocol, const Settings& user) {
  std::string algo = user.has("algo") ? user.text("algo") : std::string();
  std::string start = user.has("start") ? user.text("start") : std::string();
  for (const auto& o : m.meta.options) {
    if (algo.empty() && o.name == "algo") algo = o.default_value;
    if (start.empty() && o.name == "start") start = o.default_value;
  }
  if (start == "global") start.clear();
  const Recipe* recipe = nullptr;
  for (const auto& r : m.meta.recipes)
    if (r.protocol == protocol && r.start == start && r.algo.empty() && recipe == nullptr) recipe = &r;
  for (const auto& r : m.meta.recipes)
    if (r.protocol == protocol && r.start == start && !r.algo.empty() && r.algo == algo) recipe = &r;
  return recipe;
}

inline Settings resolve_meta_settings(const ModelEntry& m, const std::string& protocol,
                                      const Settings& user,
                                      std::map<std::string, SettingSource>* sources = nullptr) {
  if (!m.meta) throw std::invalid_argument("model '" + m.name + "' is not meta-trainable");
  return detail::resolve(m.name, m.meta.options, meta_recipe(m, protocol, user), user, sources);
}

}  // namespace metarec::registry
