#pragma once
/// @file train.hpp
/// @brief Training group: `fit`, callbacks, evaluation helpers, parameter files.

#include <metarec/train/callbacks.hpp>
#include <metarec/train/evaluate.hpp>
#include <metarec/train/serialize.hpp>
#include <metarec/train/trainer.hpp>
