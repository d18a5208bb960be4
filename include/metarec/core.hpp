#pragma once
/// @file core.hpp
/// @brief Core group: the Model concept, flat parameters, dual numbers, errors, random numbers, version.

#include <metarec/core/concepts.hpp>
#include <metarec/core/dual.hpp>
#include <metarec/core/error.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/core/version.hpp>
