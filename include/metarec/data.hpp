#pragma once
/// @file data.hpp
/// @brief Data group: the Dataset and (as they land) loaders, splits, protocols and tasks.

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/filter.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/data/split.hpp>
#include <metarec/data/synthetic.hpp>
#include <metarec/data/tasks.hpp>
