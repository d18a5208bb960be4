#pragma once
/// @file metarec.hpp
/// @brief Umbrella header: everything in metarec. Group headers (metarec/data.hpp, ...) include less.

#include <metarec/core.hpp>
#include <metarec/data.hpp>
#include <metarec/metrics.hpp>
#include <metarec/models/autoencoder.hpp>
#include <metarec/models/boltzmann.hpp>
#include <metarec/models/mf.hpp>
#include <metarec/models/mlp.hpp>
#include <metarec/nn.hpp>
#include <metarec/optim.hpp>
#include <metarec/train.hpp>
#include <metarec/meta.hpp>
#include <metarec/report.hpp>
#include <metarec/registry.hpp>
