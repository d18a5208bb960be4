#pragma once
/// @file model_entry.hpp
/// @brief One registry entry per model (as RecBole's `get_model` + `properties/model/<M>.yaml`):
/// its name, family, what it needs, the protocols it runs on, its options with their defaults,
/// the settings the benchmarks validated per protocol (`Recipe`), and how to train it. The
/// `metarec` tool's `train`, `--help` and JSON, and every benchmark, read these entries; adding a
/// model to all of them is one entry.

#include <metarec/data/dataset.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/settings.hpp>
#include <metarec/report/train_report.hpp>

#include <cstdint>
#include <functional>
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
  if (protocol == "seed-ae" || protocol == "recbole") return Evaluation::top_n;
  throw std::invalid_argument("protocol '" + protocol + "' is not a training protocol (train runs "
                              "seed-mf, ml1m-90-10, seed-mlp, seed-ae, recbole; the melu-* "
                              "scenarios are for meta-train)");
}

/// Settings validated for one protocol, and where they come from.
struct Recipe {
  std::string protocol;
  Settings settings;   ///< overrides of the options' defaults
  std::string source;  ///< e.g. "bench_mf: chosen on a 5% validation split of the training rows"
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

/// The settings of a run: the options' defaults, overridden by the recipe validated for
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
  Settings s;
  for (const auto& o : m.options) {
    s.set(o.name, o.default_value);
    if (sources) (*sources)[o.name] = SettingSource::option_default;
  }
  if (const Recipe* r = m.recipe(protocol))
    for (const auto& [k, v] : r->settings.values()) {
      if (!m.option(k))
        throw std::logic_error("registry: recipe of '" + m.name + "' sets unknown option '" + k + "'");
      s.set(k, v);
      if (sources) (*sources)[k] = SettingSource::recipe;
    }
  for (const auto& [k, v] : user.values()) {
    if (!m.option(k)) {
      std::string list;
      for (const auto& o : m.options) list += (list.empty() ? "--" : ", --") + o.name;
      throw std::invalid_argument("--" + k + " is not an option of model '" + m.name +
                                  "' (its options: " + list + ")");
    }
    s.set(k, v);
    if (sources) (*sources)[k] = SettingSource::user;
  }
  for (const auto& o : m.options) check_value(o, s.text(o.name));
  return s;
}

}  // namespace metarec::registry
