#pragma once
/// @file deepfm.hpp
/// @brief DeepFM (Guo et al., IJCAI 2017): ŷ = w₀ + Σ_f w_f + Σ_{f<g} ⟨e_f, e_g⟩ + MLP(E), the FM and deep parts sharing the embeddings.
///
/// Fields: user id and item id (each optional) plus, optionally, the user and item side
/// features; loss BCE on [r > threshold] (default) or squared error. Exact gradient and
/// R-operator Hessian-vector product, dense or sparse; the shared body is
/// `FieldNetwork` (field_network.hpp). See docs/models_mlp.md.

#include <metarec/models/mlp/field_network.hpp>

namespace metarec {

/// DeepFM (Guo et al., IJCAI 2017): ŷ = w₀ + Σ_f w_f + Σ_{f<g} ⟨e_f, e_g⟩ + MLP(E), the FM and deep parts sharing the embeddings.
/// @tparam S float or double
/// @code
/// metarec::DeepFm<float> model(ds, {.embedding_dim = 16, .hidden = {64, 64}, .side_features = true});
/// metarec::Vector<float> theta(model.num_parameters());
/// metarec::Rng rng(1);
/// model.initialize(theta, rng);
/// float loss = model.loss(theta, batch);
/// @endcode
template <class S = float>
using DeepFm = FieldNetwork<S, FieldNetworkKind::deepfm>;

}  // namespace metarec
