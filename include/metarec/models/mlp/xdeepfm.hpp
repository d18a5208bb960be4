#pragma once
/// @file xdeepfm.hpp
/// @brief xDeepFM (Lian et al., KDD 2018): ŷ = w₀ + Σ_f w_f + CIN(E) + MLP(E).
///
/// Fields: user id and item id (each optional) plus, optionally, the user and item side
/// features; loss BCE on [r > threshold] (default) or squared error. Exact gradient and
/// R-operator Hessian-vector product, dense or sparse; the shared body is
/// `FieldNetwork` (field_network.hpp). See docs/models_mlp.md.

#include <metarec/models/mlp/field_network.hpp>

namespace metarec {

/// xDeepFM (Lian et al., KDD 2018): ŷ = w₀ + Σ_f w_f + CIN(E) + MLP(E).
/// @tparam S float or double
/// @code
/// metarec::XDeepFm<float> model(ds, {.embedding_dim = 16, .hidden = {64, 64}, .side_features = true});
/// metarec::Vector<float> theta(model.num_parameters());
/// metarec::Rng rng(1);
/// model.initialize(theta, rng);
/// float loss = model.loss(theta, batch);
/// @endcode
template <class S = float>
using XDeepFm = FieldNetwork<S, FieldNetworkKind::xdeepfm>;

}  // namespace metarec
