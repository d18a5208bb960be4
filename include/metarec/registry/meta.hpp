#pragma once
/// @file meta.hpp
/// @brief The cold-start side of the registry: the MeLU scenarios a meta-model is scored on, the
/// configuration written into a meta-model file and its reader, and `meta_support` — the one
/// function that makes a registry entry meta-trainable from how to build its model
/// (registry/meta_model.hpp: `MetaModel`).

#include <metarec/core/detail/json.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/split.hpp>
#include <metarec/registry/meta_model.hpp>
#include <metarec/registry/model_entry.hpp>

#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::registry {

/// Meta-learning support for an entry: its model options (`model_options`, first) and the loop's
/// (`meta_loop_options` with these inner and outer steps), how the global model is fitted, and
/// `build(data, settings, mean)` returning the model (any `Model`; whole-row models on `side`).
template <class Build>
MetaSupport meta_support(std::vector<OptionSpec> model_options, const std::string& inner_lr,
                         const std::string& outer_lr, GlobalFit global, Build build,
                         RowSide side = RowSide::user) {
  MetaSupport m;
  m.options = std::move(model_options);
  for (auto& o : meta_loop_options(inner_lr, outer_lr)) m.options.push_back(std::move(o));
  m.global_fit = [global](const Settings&) { return global; };
  m.build = [build, side](const Dataset& ds, const Settings& s, double mean) -> std::unique_ptr<MetaModel> {
    using M = std::remove_cvref_t<decltype(build(ds, s, mean))>;
    return std::make_unique<MetaModelOf<M>>(build(ds, s, mean), ds, side);
  };
  return m;
}

/// The same recipe for each of the four MeLU scenarios (they meta-train on the same warm tasks).
inline std::vector<Recipe> melu_recipes(const Settings& s, const std::string& source, const std::string& algo = {}) {
  std::vector<Recipe> out;
  for (const char* p : {"melu-warm", "melu-user-cold", "melu-item-cold", "melu-user-item-cold"})
    out.push_back({p, s, source, algo});
  return out;
}

/// bench_cold_start's procedure for the whole-row models (10% of the warm users held out for
/// early stopping with patience 1, at most 3 meta-epochs from 5 epochs of the global model) with
/// the benchmark's validated `choices` (algorithm, steps, widths) on top.
inline Settings whole_row_cold_start(const Settings& choices) {
  Settings s{{"epochs", "3"}, {"patience", "1"}, {"pretrain-epochs", "5"}, {"valid-users", "0.1"}};
  for (const auto& [k, v] : choices.values()) s.set(k, v);
  return s;
}
/// Where a `whole_row_cold_start` recipe comes from; `more` is appended ("; 100 hidden units ...").
inline std::string whole_row_cold_start_source(const std::string& more = " (docs/benchmarks.md)") {
  return "bench_cold_start: inner x outer step and algorithm chosen on 10% of the warm users held out" + more;
}

/// `general` (the recipe of every algorithm without its own) followed by, for each (algorithm,
/// overrides) of `by_algo`, `general`'s settings with those overrides, on the four MeLU protocols.
inline std::vector<Recipe> melu_recipes_by_algo(const Settings& general, const std::string& source,
                                                const std::vector<std::pair<std::string, Settings>>& by_algo) {
  std::vector<Recipe> out = melu_recipes(general, source);
  for (const auto& [algo, overrides] : by_algo) {
    Settings s = general;
    for (const auto& [k, v] : overrides.values()) s.set(k, v);
    for (Recipe& r : melu_recipes(s, source + " (" + algo + ")", algo)) out.push_back(std::move(r));
  }
  return out;
}

/// Changes the default of one of `m`'s options (e.g. a family's own algorithm or pre-training).
/// @throws std::logic_error when `m` has no such option (a registry bug).
inline void set_meta_default(MetaSupport& m, const std::string& name, const std::string& value) {
  for (auto& o : m.options)
    if (o.name == name) {
      o.default_value = value;
      return;
    }
  throw std::logic_error("set_meta_default: no option '" + name + "'");
}

/// Protocol names from `--protocol`: one name, a comma-separated list, or `all` (the four MeLU
/// scenarios).
/// @throws std::invalid_argument on a name that is not a MeLU scenario.
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
      throw std::invalid_argument("--protocol: '" + p + "' is not a MeLU protocol (melu-warm, "
                                  "melu-user-cold, melu-item-cold, melu-user-item-cold or all)");
  return out;
}

/// The configuration stored in a saved meta-model (key=value lines): the model, every setting, μ,
/// whether α follows θ, and the data set (path, sizes, fingerprint).
inline std::string meta_config_string(const std::string& model, const Settings& s, double mean,
                                      std::uint64_t seed, const std::string& data,
                                      const Dataset& ds, bool has_alpha) {
  std::ostringstream out;
  out << "model=" << model << '\n';
  for (const auto& [k, v] : s.values()) out << k << '=' << v << '\n';
  const DataFingerprint fp = data_fingerprint(ds);
  out << "global_mean=" << metarec::detail::json_number(mean) << "\nseed=" << seed
      << "\nalpha=" << (has_alpha ? 1 : 0) << "\ndata=" << data << "\nusers=" << ds.num_users()
      << "\nitems=" << ds.num_items() << "\nfingerprint=" << fp.ratings << ':' << fp.hash << '\n';
  return out.str();
}

/// key=value lines into a map (a line without '=' is ignored).
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

}  // namespace metarec::registry
