#pragma once
// `metarec models`: the registry as a table (or JSON): every model, its family, the protocols it
// runs on, what it needs, and where its defaults come from. `--check` resolves every model's
// settings on every protocol it runs on (the options' defaults and validated recipes must all be
// valid values) and exits 1 naming the first that is not.

#include "args.hpp"
#include "registry_access.hpp"

#include <metarec/core/detail/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace metarec::cli {

inline int run_models(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {"--check"});
  if (args.has("--help")) {
    std::printf(
        "usage: metarec models [--check] [--json]\n\n"
        "Lists every model of the registry: family, protocols (the first is its default), what it\n"
        "needs, and the protocols with validated recipes. --json prints every option with its\n"
        "default and every recipe with its source. --check resolves each model's settings on each\n"
        "of its protocols and fails (exit 1) on the first invalid default or recipe.\n");
    return 0;
  }
  const registry::Registry& reg = cli_registry();
  using metarec::detail::json_string;
  if (args.has("--check")) {
    std::size_t checked = 0;
    for (const auto& m : reg.models())
      for (const auto& p : m.protocols) {
        try {
          (void)registry::resolve_settings(m, p, {});
        } catch (const std::exception& e) {
          std::fprintf(stderr, "metarec models: %s on %s: %s\n", m.name.c_str(), p.c_str(), e.what());
          return 1;
        }
        ++checked;
      }
    std::printf("%zu models, %zu model-protocol settings resolved\n", reg.models().size(), checked);
  }
  if (args.has("--json")) {
    // (built by appending: GCC 12 warns falsely on `"," + std::string` chains)
    std::string j = "{\"models\":[";
    auto item = [&j](std::size_t k) {
      if (k) j += ',';
    };
    for (std::size_t k = 0; k < reg.models().size(); ++k) {
      const auto& m = reg.models()[k];
      item(k);
      j += "{\"name\":";
      j += json_string(m.name);
      j += ",\"family\":";
      j += json_string(registry::family_name(m.family));
      j += ",\"summary\":";
      j += json_string(m.summary);
      j += ",\"protocols\":[";
      for (std::size_t p = 0; p < m.protocols.size(); ++p) item(p), j += json_string(m.protocols[p]);
      j += "],\"needs\":[";
      for (std::size_t p = 0; p < m.needs.size(); ++p) item(p), j += json_string(m.needs[p]);
      j += "],\"options\":{";
      for (std::size_t o = 0; o < m.options.size(); ++o) {
        item(o);
        j += json_string(m.options[o].name);
        j += ':';
        j += json_string(m.options[o].default_value);
      }
      j += "},\"recipes\":[";
      for (std::size_t r = 0; r < m.recipes.size(); ++r) {
        item(r);
        j += "{\"protocol\":";
        j += json_string(m.recipes[r].protocol);
        j += ",\"source\":";
        j += json_string(m.recipes[r].source);
        j += ",\"settings\":{";
        std::size_t n = 0;
        for (const auto& [key, v] : m.recipes[r].settings.values()) {
          item(n++);
          j += json_string(key);
          j += ':';
          j += json_string(v);
        }
        j += "}}";
      }
      j += "]}";
    }
    j += "]}";
    std::printf("%s\n", j.c_str());
    return 0;
  }
  if (args.has("--check")) return 0;
  std::printf("%-16s %-12s %-34s %s\n", "model", "family", "protocols (default first)", "validated recipes");
  for (const auto& m : reg.models()) {
    std::string protocols, recipes;
    for (const auto& p : m.protocols) protocols += (protocols.empty() ? "" : ",") + p;
    for (const auto& r : m.recipes) recipes += (recipes.empty() ? "" : ",") + r.protocol;
    std::printf("%-16s %-12s %-34s %s\n", m.name.c_str(), registry::family_name(m.family),
                protocols.c_str(), recipes.empty() ? "-" : recipes.c_str());
  }
  return 0;
}

}  // namespace metarec::cli
