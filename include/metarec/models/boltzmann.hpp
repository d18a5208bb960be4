#pragma once
/// @file boltzmann.hpp
/// @brief The Boltzmann family: RBM-CF (softmax RBM over rated entries, user or item cases), the
/// Bernoulli RBM for implicit feedback, the explainable RBM (with its neighbourhood explainability
/// matrix and MEP/MER) and CF-NADE. See docs/models_bm.md.

#include <metarec/models/boltzmann/bernoulli_rbm.hpp>
#include <metarec/models/boltzmann/cf_nade.hpp>
#include <metarec/models/boltzmann/explainability.hpp>
#include <metarec/models/boltzmann/explainable_rbm.hpp>
#include <metarec/models/boltzmann/rbm_cf.hpp>
