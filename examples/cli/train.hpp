#pragma once
// `metarec train`: train one model of the registry on a protocol's split and report its metrics on
// each part (rating errors, classifier metrics or top-N metrics, by protocol and loss). Every
// model option is a flag; its default is the recipe the benchmarks validated for the protocol
// (registry/), so `metarec train --model M --protocol P` alone reproduces the benchmark's row.

#include "args.hpp"
#include "registry_access.hpp"

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/model_entry.hpp>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace metarec::cli {

namespace reg = metarec::registry;

/// The flags of `train` that are not model options.
inline const std::set<std::string>& train_common_values() {
  static const std::set<std::string> v{"--model", "--data", "--protocol", "--seed", "--save",
                                       "--log", "--threads", "--k"};
  return v;
}

inline const char* kind_text(reg::OptionKind k) {
  switch (k) {
    case reg::OptionKind::integer: return "N";
    case reg::OptionKind::number: return "X";
    case reg::OptionKind::list: return "LIST";
    case reg::OptionKind::word: return "WORD";
    case reg::OptionKind::flag: return "";
  }
  return "";
}

/// One option line of --help: flag, meaning, default.
inline void print_option(const reg::OptionSpec& o, const std::string& value, const char* source) {
  std::string flag = "--" + o.name + (o.kind == reg::OptionKind::flag ? "" : std::string(" ") + kind_text(o.kind));
  std::string def = o.kind == reg::OptionKind::flag ? (value == "1" ? "on" : "off") : (value.empty() ? "none" : value);
  std::printf("  %-22s %s (%s%s)\n", flag.c_str(), o.help.c_str(), def.c_str(), source);
}

inline void print_train_help(const reg::Registry& registry) {
  std::printf(
      "usage: metarec train --model M [--protocol P] [--data DIR] [options] [--json]\n\n"
      "Trains a model on the protocol's training rows and reports its metrics on every part:\n"
      "MSE, RMSE and MAE for rating protocols (seed-mf, ml1m-90-10) and squared-error models;\n"
      "AUC and log loss (label: rating > 3) for BCE models on seed-mlp; precision, recall, NDCG,\n"
      "MAP and hit rate at --k by full ranking (training items removed) on seed-ae, recbole and svae.\n"
      "Model selection uses validation rows only: the protocol's, or a share of the training rows\n"
      "held out to choose the epochs (--valid-frac). Defaults are the settings the benchmarks\n"
      "validated for the protocol; `metarec train --model M --protocol P --help` lists them.\n\n"
      "  --model M        the model (default mf-bias):\n");
  for (const reg::Family f : {reg::Family::mf, reg::Family::mlp, reg::Family::autoencoder, reg::Family::boltzmann}) {
    std::string names;
    for (const auto& m : registry.models())
      if (m.family == f) names += (names.empty() ? "" : ", ") + m.name;
    if (!names.empty()) std::printf("                     %s: %s\n", reg::family_name(f), names.c_str());
  }
  // Each family's options (the first model of the family stands for it).
  std::set<reg::Family> shown;
  for (const auto& m : registry.models()) {
    if (!shown.insert(m.family).second) continue;
    std::printf("\noptions of the %s family (defaults of %s; per model and protocol with --model M --help):\n",
                reg::family_name(m.family), m.name.c_str());
    for (const auto& o : m.options) print_option(o, o.default_value, "");
  }
  std::printf(
      "\nflags of every model:\n"
      "  --protocol P     seed-mf, ml1m-90-10, seed-mlp, seed-ae, recbole (default: the model's first)\n"
      "  --data DIR       MovieLens directory (default: $METAREC_DATA or the shipped sample)\n"
      "  --seed S         seed of split, initialisation and shuffling (42)\n"
      "  --k LIST         top-N protocols: cut-offs (10,100)\n"
      "  --threads T      top-N evaluation threads (training is single-threaded and deterministic)\n"
      "  --save FILE      write the parameters (checksummed metarec parameter file)\n"
      "  --log FILE       JSON-lines log, one object per epoch\n"
      "  --quiet          no progress on stderr\n"
      "  --json           print a JSON object as the last line\n");
}

inline void print_model_help(const reg::ModelEntry& m, const std::string& protocol) {
  std::map<std::string, reg::SettingSource> src;
  const reg::Settings s = reg::resolve_settings(m, protocol, {}, &src);
  std::printf("usage: metarec train --model %s [--protocol P] [options] [--json]\n\n%s (%s family)\n",
              m.name.c_str(), m.summary.c_str(), reg::family_name(m.family));
  std::string protocols;
  for (const auto& p : m.protocols) protocols += (protocols.empty() ? "" : ", ") + p;
  std::printf("protocols: %s\n", protocols.c_str());
  if (!m.needs.empty()) {
    std::string needs;
    for (const auto& n : m.needs) needs += (needs.empty() ? "" : ", ") + n;
    std::printf("needs: %s\n", needs.c_str());
  }
  const reg::Recipe* r = m.recipe(protocol);
  std::printf("\noptions on %s (defaults: * = validated recipe: %s):\n", protocol.c_str(),
              r ? r->source.c_str() : "none for this protocol; the option defaults");
  for (const auto& o : m.options)
    print_option(o, s.text(o.name), src[o.name] == reg::SettingSource::recipe ? ", *" : "");
}

/// A setting as a JSON value of its option's kind.
inline std::string setting_json(const reg::OptionSpec& o, const std::string& v) {
  switch (o.kind) {
    case reg::OptionKind::integer:
    case reg::OptionKind::number: return v;
    case reg::OptionKind::flag: return v == "1" ? "true" : "false";
    case reg::OptionKind::list: return "[" + v + "]";
    case reg::OptionKind::word: return metarec::detail::json_string(v);
  }
  return "null";
}

inline void print_part(const std::string& name, const report::MetricValues& v) {
  const double rows = v.get("rows"), users = v.get("users");
  std::printf("%-6s", name.c_str());
  if (std::isfinite(rows)) {
    if (rows == 0) {
      std::printf(" rows        0\n");
      return;
    }
    std::printf(" rows %8lld", static_cast<long long>(rows));
  }
  if (std::isfinite(users)) std::printf(" users %6lld", static_cast<long long>(users));
  for (const auto& [k, x] : v.values) {
    if (k == "rows" || k == "users") continue;
    // the rating and classifier metrics as their acronyms (MSE, AUC), the top-N ones as named
    std::string label = k == "log_loss" ? "log loss" : k;
    if (k == "mse" || k == "rmse" || k == "mae" || k == "auc")
      for (auto& c : label) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::printf("  %s %.4f", label.c_str(), x);
  }
  std::printf("\n");
}

inline int run_train(const std::vector<std::string>& argv) {
  const reg::Registry& registry = cli_registry();
  // First pass: the model and protocol decide which flags exist.
  std::string model_name = "mf-bias", protocol;
  for (std::size_t k = 0; k + 1 < argv.size(); ++k) {
    if (argv[k] == "--model") model_name = argv[k + 1];
    if (argv[k] == "--protocol") protocol = argv[k + 1];
  }
  bool help = false, model_given = false;
  for (const auto& a : argv) {
    help |= a == "--help" || a == "-h";
    model_given |= a == "--model" || a.rfind("--model=", 0) == 0;
  }
  if (help && !model_given) {
    print_train_help(registry);
    return 0;
  }
  const reg::ModelEntry& m = registry.find(model_name);
  if (protocol.empty()) protocol = m.default_protocol();
  std::set<std::string> values = train_common_values(), switches{"--quiet"};
  for (const auto& o : m.options) (o.kind == reg::OptionKind::flag ? switches : values).insert("--" + o.name);
  // A flag of another model: say whose options the model has.
  for (const auto& a : argv) {
    const std::string flag = a.substr(0, a.find('='));
    if (flag.rfind("--", 0) != 0 || values.count(flag) || switches.count(flag) || flag == "--help" ||
        flag == "--json")
      continue;
    for (const auto& other : registry.models())
      if (other.option(flag.substr(2))) {
        std::string list;
        for (const auto& o : m.options) list += (list.empty() ? "--" : ", --") + o.name;
        throw UsageError(flag + " is not an option of model '" + m.name + "' (" + flag + " is " +
                         other.name + "'s; the options of " + m.name + ": " + list + ")");
      }
  }
  Args args(argv, values, switches);
  if (args.has("--help")) {
    print_model_help(m, args.get_or("--protocol", protocol));
    return 0;
  }
  reg::Settings user;
  for (const auto& o : m.options) {
    if (o.kind == reg::OptionKind::flag) {
      if (args.has("--" + o.name)) user.set(o.name, "1");
    } else if (const auto v = args.get("--" + o.name)) {
      user.set(o.name, *v);
    }
  }
  const std::uint64_t seed = args.number<std::uint64_t>("--seed", 42);
  const int threads = args.number<int>("--threads", 1);
  if (threads < 1) throw UsageError("--threads must be >= 1");
  reg::TopNOptions top;
  top.ks = args.list<std::size_t>("--k", {10, 100});
  for (const auto k : top.ks)
    if (k < 1) throw UsageError("--k: every cut-off must be >= 1");
  top.capped_recall = protocol == "seed-ae";
  top.threads = threads;
  const bool json = args.has("--json");
  const reg::Settings settings = reg::resolve_settings(m, protocol, user);
  reg::RunOptions run;
  run.progress = !args.has("--quiet");
  run.log = args.get_or("--log", "");
  run.save = args.get_or("--save", "");
  make_parent_dirs({run.save, run.log});  // as meta-train and adapt

  // Training is single-threaded: keep Eigen's own OpenMP GEMM threads off, they only contend with
  // the training thread (a DeepFM epoch on ML-1M took 20x longer on a loaded 2-core machine).
  Eigen::setNbThreads(1);
  const std::string dir = default_data_dir(args);
  const Dataset ds = load_movielens(dir);
  run.data_name = dir;
  const ProtocolSplit ps = make_protocol_split(protocol, ds, seed);
  const reg::TrainRequest request{m.name, ds, ps, protocol, settings, seed, run, top};
  const report::TrainReport rep = m.train(request);

  std::printf("model %s  protocol %s  data %s  (%u users, %u items, %zu ratings)\n", m.name.c_str(),
              protocol.c_str(), dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings());
  std::printf("parameters %lld  epochs run %d (best %d)  training %.2f s (CPU %.2f s)\n",
              static_cast<long long>(rep.parameters), rep.epochs_run, rep.best_epoch, rep.seconds,
              rep.cpu_seconds);
  for (const auto& [name, v] : rep.parts) print_part(name, v);
  if (!run.save.empty()) std::printf("saved %s\n", run.save.c_str());
  if (json) {
    std::string j = "{\"model\":" + metarec::detail::json_string(m.name) +
                    ",\"family\":" + metarec::detail::json_string(reg::family_name(m.family)) +
                    ",\"protocol\":" + metarec::detail::json_string(protocol) +
                    ",\"data\":" + metarec::detail::json_string(dir) + ",\"seed\":" + std::to_string(seed);
    for (const auto& o : m.options) {
      std::string key = o.name;
      for (auto& c : key)
        if (c == '-') c = '_';
      j += ",\"" + key + "\":" + setting_json(o, settings.text(o.name));
    }
    j += ",\"parameters\":" + std::to_string(rep.parameters) + ",\"epochs_run\":" +
         std::to_string(rep.epochs_run) + ",\"best_epoch\":" + std::to_string(rep.best_epoch) +
         ",\"train_seconds\":" + metarec::detail::json_number(rep.seconds) +
         ",\"train_cpu_seconds\":" + metarec::detail::json_number(rep.cpu_seconds) +
         ",\"metrics\":" + rep.metrics_json() + "}";
    std::printf("%s\n", j.c_str());
  }
  return 0;
}

}  // namespace metarec::cli
