#pragma once
/// @file registry.hpp
/// @brief Registry group: every model by name with its options and validated settings
/// (`all_models()`), the training driver, and the meta-learners of the cold-start tools.

#include <metarec/registry/all_models.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/model_entry.hpp>
#include <metarec/registry/registry.hpp>
#include <metarec/registry/settings.hpp>
#include <metarec/registry/train_driver.hpp>
