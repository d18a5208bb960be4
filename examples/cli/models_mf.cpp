// The MF family's registry entries, compiled apart (registry_access.hpp).
#include "registry_access.hpp"

#include <metarec/registry/mf.hpp>

std::vector<metarec::registry::ModelEntry> metarec::cli::mf_entries() { return registry::mf_models(); }
