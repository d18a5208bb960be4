#pragma once
/// @file deeprec.hpp
/// @brief DeepRec (Kuchaiev & Ginsburg 2017, "Training Deep AutoEncoders for Collaborative
/// Filtering"): a deep autoencoder of a user's ratings with SELU activations, dropout on the code
/// and a masked mean squared error, with dense re-feeding.
///
///     encoder n → e₁ → … → e_k (the code; dropout p in training) → decoder e_{k−1} → … → e₁ → n
///
/// every layer SELU (the last one too by default, as DeepRec's code; `last_activation = false`
/// makes it linear). Loss on a batch (DeepRec's MMSE: a mean over the batch's observed ratings):
///
///     L = Σ_e Σ_{j observed} (ŷ_ej − r_ej)² / Σ_e |observed_e|  +  (reg/2) Σ‖W‖²
///         + ρ/(B n) Σ_e ‖f(y_e) − y_e‖²,   y_e = f(x_e)   (dense re-feeding, ρ = `refeed`)
///
/// Re-feeding is part of the loss: y_e is the first pass's dense output and f(y_e) a second pass
/// of the same network on it (its own dropout draws); the gradient flows through y_e both as the
/// second pass's input and as its target, so it is the exact gradient of L (DeepRec's code
/// detaches y_e and takes a second optimiser step instead; docs/models_ae.md). It costs a dense
/// pass (O(n × e₁) per example), so it is off by default.
///
/// Predictions: as AutoRec (training ratings in, clipped to [1, 5], `default_rating` for rows or
/// columns without training ratings). Exact gradient and Hessian-vector product (duals). Local
/// segments for MAML: the first encoder layer's bias.

#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/autoencoder/detail/row_network.hpp>
#include <metarec/nn/activation.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace metarec {

/// Options of `DeepRec` (defaults: the README's Netflix model, n-512-512-1024-dp(0.8)-512-512-n).
struct DeepRecOptions {
  RowSide side = RowSide::user;
  std::vector<Eigen::Index> encoder{512, 512, 1024};  ///< encoder widths; the last is the code
  nn::Activation activation = nn::Activation::selu;
  bool last_activation = true;    ///< the output layer is activated too (DeepRec's default)
  double dropout = 0.8;           ///< drop probability on the code
  double reg = 0.0;               ///< (reg/2) Σ‖W‖² per batch
  double refeed = 0.0;            ///< ρ, the weight of the re-feeding term (0: off)
  RatingRange ratings{};          ///< as AutoRec's
};

/// DeepRec over `RowBatch`es; satisfies `metarec::Model` with an exact Hessian-vector product,
/// local segments and `score_all`.
/// @tparam S float or double
/// @code
/// metarec::DeepRec<float> model(ds, {.encoder = {256, 256, 512}, .dropout = 0.5}, split.train);
/// @endcode
template <class S = float>
class DeepRec : public detail::RowNetworkModel<DeepRec<S>, S> {
 public:
  static constexpr const char* model_name = "DeepRec";
  using Options = DeepRecOptions;

  /// @param training_rows the rows the model is trained on (known columns, default rating).
  /// @throws std::invalid_argument on an empty encoder, a width < 1, dropout ∉ [0, 1), reg or
  ///         refeed < 0.
  DeepRec(const Dataset& data, Options options = {}, std::span<const RowIndex> training_rows = {})
      : DeepRec::RowNetworkModel(options.side, row_length(data, options.side), 0), opt_(std::move(options)) {
    this->require(!opt_.encoder.empty(), "the encoder needs at least one layer");
    (void)this->set_ratings(data, training_rows, opt_.ratings);
    std::vector<Eigen::Index> hidden = opt_.encoder;
    for (std::size_t k = opt_.encoder.size() - 1; k-- > 0;) hidden.push_back(opt_.encoder[k]);
    this->build({.hidden = hidden,
                 .activations = std::vector<nn::Activation>(hidden.size(), opt_.activation),
                 .output = opt_.last_activation ? opt_.activation : nn::Activation::identity,
                 .value = detail::RowValue::rating,
                 .code_layer = static_cast<int>(opt_.encoder.size()) - 1,
                 .code_dropout = opt_.dropout,
                 .loss = detail::RowLoss::squared_error,
                 .per_rating_mean = true,
                 .reg = opt_.reg,
                 .refeed = opt_.refeed,
                 .init = opt_.activation == nn::Activation::selu ? nn::DenseInit::lecun_normal
                                                                 : nn::DenseInit::xavier_uniform});
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] double default_rating() const noexcept { return this->net_.defaults().default_rating; }

 private:
  Options opt_;
};

}  // namespace metarec
