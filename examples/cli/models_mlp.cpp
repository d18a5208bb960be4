// The MLP family's registry entries, compiled apart (registry_access.hpp).
#include "registry_access.hpp"

#include <metarec/registry/mlp.hpp>

std::vector<metarec::registry::ModelEntry> metarec::cli::mlp_entries() { return registry::mlp_models(); }
