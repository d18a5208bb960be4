#pragma once
/// @file mult_vae.hpp
/// @brief Mult-VAE and Mult-DAE (Liang, Krishnan, Hoffman, Jebara, WWW 2018, "Variational
/// Autoencoders for Collaborative Filtering"): autoencoders of a user's clicks with a multinomial
/// likelihood over all items.
///
///     x̃ = dropout(x / ‖x‖₂)                          (x: 1 for every rated item; dropout p)
///     Mult-VAE: [μ; log σ²] = enc(x̃),  z = μ + σ ∘ ε,  logits = dec(z)
///     Mult-DAE: z = enc(x̃),  logits = dec(z)
///
/// with the paper's [I-600-200-600-I] tanh network (the latent layer is linear for the VAE, tanh
/// for the DAE) and linear logits. Loss on a batch of B users with target items T_u:
///
///     L = 1/B Σ_u [ −Σ_{i∈T_u} log softmax(logits_u)_i + β KL(N(μ_u, σ_u²) ‖ N(0, I)) ]
///         + (reg/2) Σ‖W‖²
///
/// ε ~ N(0, I) and the dropout masks come from the batch seed (so the loss is a deterministic
/// function of (θ, batch) and gradient checks hold); prediction and scoring use z = μ, no dropout.
///
/// β is a constant of the model object. The paper anneals β from 0 to a cap over the updates, but
/// a model is a const function of (θ, batch) and neither the batch nor its seed carries the step
/// count, so an annealed run is a sequence of fit phases with models of increasing β
/// (`with_beta`, same θ layout); the registry uses a constant β chosen on validation
/// (docs/models_ae.md).
///
/// Exact gradient and Hessian-vector product (duals). Local segments for MAML: the first encoder
/// layer's bias.

#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/autoencoder/detail/row_network.hpp>
#include <metarec/nn/activation.hpp>

#include <string>
#include <utility>
#include <vector>

namespace metarec {

/// Options of `MultVae` (defaults: the paper's Mult-VAE).
struct MultVaeOptions {
  bool variational = true;                 ///< false: Mult-DAE
  std::vector<Eigen::Index> hidden{600};   ///< encoder widths before the latent (mirrored by the decoder)
  Eigen::Index latent = 200;               ///< d
  double dropout = 0.5;                    ///< input dropout probability
  double beta = 0.2;                       ///< KL weight (Mult-VAE)
  double reg = 0.0;                        ///< (reg/2) Σ‖W‖² per batch
};

/// Mult-VAE / Mult-DAE over user `RowBatch`es; satisfies `metarec::Model` with an exact
/// Hessian-vector product, local segments and `score_all`.
/// @tparam S float or double
/// @code
/// metarec::MultVae<float> vae(ds, {.beta = 0.2});
/// metarec::MultVae<float> dae(ds, {.variational = false, .reg = 0.01});
/// @endcode
template <class S = float>
class MultVae : public detail::RowNetworkModel<MultVae<S>, S> {
 public:
  static constexpr const char* model_name = "MultVae";
  using Options = MultVaeOptions;

  /// @throws std::invalid_argument on a width < 1, dropout ∉ [0, 1), beta or reg < 0, or no items.
  explicit MultVae(const Dataset& data, Options options = {})
      : MultVae::RowNetworkModel(RowSide::user, data.num_items(), 0), opt_(std::move(options)) {
    std::vector<Eigen::Index> hidden = opt_.hidden;
    hidden.push_back(opt_.latent);
    for (std::size_t k = opt_.hidden.size(); k-- > 0;) hidden.push_back(opt_.hidden[k]);
    this->build({.hidden = hidden,
                 .activations = std::vector<nn::Activation>(hidden.size(), nn::Activation::tanh),
                 .value = detail::RowValue::binary,
                 .normalize = true,
                 .input_dropout = opt_.dropout,
                 .latent_layer = opt_.variational ? static_cast<int>(opt_.hidden.size()) : -1,
                 .beta = opt_.variational ? opt_.beta : 0.0,
                 .loss = detail::RowLoss::multinomial,
                 .reg = opt_.reg});
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }

  /// The same model with KL weight `beta` (an annealing phase); θ's layout is unchanged.
  [[nodiscard]] MultVae with_beta(double beta) const {
    this->require(beta >= 0.0, "beta must be >= 0 (got " + std::to_string(beta) + ")");
    MultVae m = *this;
    m.opt_.beta = beta;
    m.net_.set_beta(beta);
    return m;
  }

 private:
  Options opt_;
};

}  // namespace metarec
