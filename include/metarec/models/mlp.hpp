#pragma once
/// @file mlp.hpp
/// @brief Neural rating models: MeLU-style, NCF (GMF/MLP/NeuMF), NFM, DeepFM, Wide&Deep and
/// xDeepFM, each a `metarec::Model` with exact gradients and Hessian-vector products.
/// See docs/models_mlp.md.

#include <metarec/models/mlp/deepfm.hpp>
#include <metarec/models/mlp/melu.hpp>
#include <metarec/models/mlp/ncf.hpp>
#include <metarec/models/mlp/nfm.hpp>
#include <metarec/models/mlp/wide_deep.hpp>
#include <metarec/models/mlp/xdeepfm.hpp>
