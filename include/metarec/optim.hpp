#pragma once
/// @file optim.hpp
/// @brief Optimiser group: the `Optimizer` concept, Sgd, Adagrad, Adam/AdamW.

#include <metarec/optim/adagrad.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/optimizer.hpp>
#include <metarec/optim/sgd.hpp>
