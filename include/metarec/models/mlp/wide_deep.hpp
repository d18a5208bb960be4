#pragma once
/// @file wide_deep.hpp
/// @brief Wide&Deep (Cheng et al., DLRS 2016): ŷ = w₀ + Σ_f w_f (wide, first-order one-hot features) + MLP(E) (deep).
///
/// Fields: user id and item id (each optional) plus, optionally, the user and item side
/// features; loss BCE on [r > threshold] (default) or squared error. Exact gradient and
/// R-operator Hessian-vector product, dense or sparse; the shared body is
/// `FieldNetwork` (field_network.hpp). See docs/models_mlp.md.

#include <metarec/models/mlp/field_network.hpp>

namespace metarec {

/// Wide&Deep (Cheng et al., DLRS 2016): ŷ = w₀ + Σ_f w_f (wide, first-order one-hot features) + MLP(E) (deep).
/// @tparam S float or double
/// @code
/// metarec::WideDeep<float> model(ds, {.embedding_dim = 16, .hidden = {64, 64}, .side_features = true});
/// metarec::Vector<float> theta(model.num_parameters());
/// metarec::Rng rng(1);
/// model.initialize(theta, rng);
/// float loss = model.loss(theta, batch);
/// @endcode
template <class S = float>
using WideDeep = FieldNetwork<S, FieldNetworkKind::wide_deep>;

}  // namespace metarec
