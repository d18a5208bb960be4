#pragma once
// The registry of the `metarec` tool. Each family's entries are compiled in a translation unit of
// its own (examples/cli/models_<family>.cpp), so the tool builds on both cores and a change to one
// family recompiles one file.

#include <metarec/registry/model_entry.hpp>
#include <metarec/registry/registry.hpp>

#include <vector>

namespace metarec::cli {

std::vector<registry::ModelEntry> mf_entries();   // models_mf.cpp
std::vector<registry::ModelEntry> mlp_entries();  // models_mlp.cpp
std::vector<registry::ModelEntry> autoencoder_entries();  // models_autoencoder.cpp
std::vector<registry::ModelEntry> boltzmann_entries();    // models_boltzmann.cpp

/// Every model the tool knows, family by family.
inline const registry::Registry& cli_registry() {
  static const registry::Registry r = [] {
    registry::Registry reg(mf_entries());
    reg.add(mlp_entries());
    reg.add(autoencoder_entries());
    reg.add(boltzmann_entries());
    return reg;
  }();
  return r;
}

}  // namespace metarec::cli
