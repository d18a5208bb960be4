#pragma once
/// @file core.hpp
/// @brief Core group: errors, random numbers, version.

#include <metarec/core/error.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/core/version.hpp>
