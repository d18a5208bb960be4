// The autoencoder family's registry entries, compiled apart (registry_access.hpp).
#include "registry_access.hpp"

#include <metarec/registry/autoencoder.hpp>

std::vector<metarec::registry::ModelEntry> metarec::cli::autoencoder_entries() {
  return registry::autoencoder_models();
}
