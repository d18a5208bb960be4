#pragma once
/// @file all_models.hpp
/// @brief `all_models()`: a `Registry` of every model of every family.

#include <metarec/registry/autoencoder.hpp>
#include <metarec/registry/boltzmann.hpp>
#include <metarec/registry/mf.hpp>
#include <metarec/registry/mlp.hpp>
#include <metarec/registry/registry.hpp>

namespace metarec::registry {

/// Every model of every family, family by family (MF, MLP, autoencoders, Boltzmann machines).
inline Registry all_models() {
  Registry r(mf_models());
  r.add(mlp_models());
  r.add(autoencoder_models());
  r.add(boltzmann_models());
  return r;
}

}  // namespace metarec::registry
