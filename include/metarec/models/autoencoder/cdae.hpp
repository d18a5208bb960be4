#pragma once
/// @file cdae.hpp
/// @brief CDAE (Wu, DuBois, Zheng, Ester, WSDM 2016, "Collaborative Denoising Auto-Encoders for
/// Top-N Recommender Systems"): a denoising autoencoder of a user's implicit feedback with a
/// per-user input vector.
///
///     z = σ(Σ_{i ∈ ỹ_u} W_{:,i} / (1 − q) + b + v_u),   ŷ_ui = W'_{:,i} · z + b'_i   (a logit)
///
/// ỹ_u is the user's rated items (every rating a positive), each dropped with probability q
/// (`corruption`, training only; the keep draws come from the batch seed). Loss on a batch of B
/// users: binary cross-entropy on the logits of the user's target items (label 1) and of
/// `negatives` × |targets| items they have not rated, drawn uniformly without repetition from the
/// batch seed (label 0), averaged over users, plus (reg/2)(‖W‖² + ‖W'‖²) per batch and
/// (reg/2)/B Σ_u ‖v_u‖² for the batch's users (the authors' lazy L2 on the user vector).
///
/// Scores (`score_all`) are the logits of every item from the user's uncorrupted training items;
/// `predict` returns σ(logit) for the targets. The user vectors start at 0, so a user unseen in
/// training is scored from their items alone. Exact gradient and Hessian-vector product (duals).
/// Task-local segments for MAML: the user's vector v_u (the model's own per-user parameter).

#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/autoencoder/detail/row_network.hpp>
#include <metarec/nn/activation.hpp>

#include <string>

namespace metarec {

/// Options of `Cdae` (defaults: the authors' settings with K = 50).
struct CdaeOptions {
  Eigen::Index hidden = 50;  ///< K
  nn::Activation activation = nn::Activation::sigmoid;
  double corruption = 0.5;   ///< q, the drop probability of an input item
  int negatives = 5;         ///< sampled negatives per target item
  double reg = 0.01;         ///< λ of the L2 terms
};

/// CDAE over user `RowBatch`es; satisfies `metarec::Model` with an exact Hessian-vector product,
/// local segments (the user vector) and `score_all`.
/// @tparam S float or double
/// @code
/// metarec::Cdae<float> model(ds, {.hidden = 100, .corruption = 0.2});
/// @endcode
template <class S = float>
class Cdae : public detail::RowNetworkModel<Cdae<S>, S> {
 public:
  static constexpr const char* model_name = "Cdae";
  using Options = CdaeOptions;

  /// @throws std::invalid_argument on hidden < 1, corruption ∉ [0, 1), negatives < 0, reg < 0
  ///         or a data set without users or items.
  explicit Cdae(const Dataset& data, Options options = {})
      : Cdae::RowNetworkModel(RowSide::user, data.num_items(), data.num_users()), opt_(options) {
    this->require(data.num_users() > 0, "no users");
    this->build({.hidden = {opt_.hidden},
                 .activations = {opt_.activation},
                 .value = detail::RowValue::binary,
                 .input_dropout = opt_.corruption,
                 .loss = detail::RowLoss::bce,
                 .negatives = opt_.negatives,
                 .user_vectors = true,
                 .reg = opt_.reg,
                 .user_reg = opt_.reg});
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  /// The segment of user u's vector v_u in θ.
  [[nodiscard]] Segment user_vector(std::uint32_t u) const noexcept { return this->net_.entity_vectors().column(u); }

 private:
  Options opt_;
};

}  // namespace metarec
