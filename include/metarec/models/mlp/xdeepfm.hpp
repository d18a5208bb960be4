#pragma once
/// @file xdeepfm.hpp
/// @brief xDeepFM (Lian et al., KDD 2018): ŷ = w₀ + Σ_f w_f + CIN(E) + MLP(E).
///
/// Fields: user id and item id (each optional) plus, optionally, the user and item side
/// features; loss BCE on [r > threshold] (default) or squared error. Exact gradient and
/// R-operator Hessian-vector product, dense or sparse; the shared body is
/// `detail::FieldNetwork` (field_network.hpp). See docs/models_mlp.md.

#include <metarec/models/mlp/field_network.hpp>

namespace metarec {

/// Options of `XDeepFm`.
using XDeepFmOptions = FieldNetworkOptions;

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
class XDeepFm : public detail::FieldNetwork<XDeepFm<S>, S, detail::FieldNetworkKind::xdeepfm> {
 public:
  static constexpr const char* model_name = "XDeepFm";
  /// @throws std::invalid_argument when no field is selected, a width or size < 1, or dropout
  ///         ∉ [0, 1).
  explicit XDeepFm(const Dataset& ds, XDeepFmOptions options = {})
      : detail::FieldNetwork<XDeepFm<S>, S, detail::FieldNetworkKind::xdeepfm>(ds, std::move(options)) {}
};

}  // namespace metarec
