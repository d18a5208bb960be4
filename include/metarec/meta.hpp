#pragma once
/// @file meta.hpp
/// @brief Meta-learning group: the MAML-family trainer (`Maml` with `SecondOrderMaml`,
/// `FirstOrderMaml`, `Reptile`, `MetaSgd`) and task adaptation (`adapt`). See docs/maml.md.

#include <metarec/meta/adapt.hpp>
#include <metarec/meta/algorithms.hpp>
#include <metarec/meta/meta_batch.hpp>
#include <metarec/meta/maml.hpp>
