// The Boltzmann family's registry entries, compiled apart (registry_access.hpp).
#include "registry_access.hpp"

#include <metarec/registry/boltzmann.hpp>

std::vector<metarec::registry::ModelEntry> metarec::cli::boltzmann_entries() {
  return registry::boltzmann_models();
}
