#pragma once
/// @file train.hpp
/// @brief Training group: `fit`, callbacks, evaluation helpers, parameter files.

#include <metarec/train/callbacks.hpp>
#include <metarec/train/early_stopping.hpp>
#include <metarec/train/fused_sgd.hpp>
#include <metarec/train/validation.hpp>
#include <metarec/train/serialize.hpp>
#include <metarec/train/trainer.hpp>
