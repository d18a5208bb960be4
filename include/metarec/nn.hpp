#pragma once
/// @file nn.hpp
/// @brief Neural building blocks: dense layers, activations, dropout, embedding fields,
/// FM bi-interaction, CIN and losses, each with exact backward and R-operator (Hessian-vector
/// product) passes over flat θ. See docs/models_mlp.md.

#include <metarec/nn/activation.hpp>
#include <metarec/nn/batch_norm.hpp>
#include <metarec/nn/bi_interaction.hpp>
#include <metarec/nn/cin.hpp>
#include <metarec/nn/common.hpp>
#include <metarec/nn/dense.hpp>
#include <metarec/nn/dropout.hpp>
#include <metarec/nn/embedding.hpp>
#include <metarec/nn/loss.hpp>
#include <metarec/nn/mlp.hpp>
