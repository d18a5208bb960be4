#pragma once
/// @file data.hpp
/// @brief Data group: the Dataset, its loaders, filters, splits, protocols, tasks and batches.

#include <metarec/data/batch.hpp>
#include <metarec/data/batch_source.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/filter.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/data/split.hpp>
#include <metarec/data/synthetic.hpp>
#include <metarec/data/tasks.hpp>
