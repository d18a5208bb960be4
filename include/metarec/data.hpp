#pragma once
/// @file data.hpp
/// @brief Data group: the Dataset and (as they land) loaders, splits, protocols and tasks.

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
