#pragma once
/// @file melu.hpp
/// @brief MeLU-style preference estimator (Lee et al., KDD 2019): embeddings of user and item
/// side features concatenated into a decision MLP; MAML's local update adapts the decision layers.
///
///     x  = [e_gender; e_age; e_occupation; e_zip_prefix; e_genre (mean-pooled); e_year] (+ ids)
///     ŷ  = w₃ᵀ ReLU(W₂ ReLU(W₁ x + b₁) + b₂) + b₃
///     L  = (1/B) Σ (ŷ − r)²          (or BCE on [r > threshold] with ŷ a logit)
///
/// Exact gradient and Hessian-vector product (R-operator), dense or sparse (embedding columns the
/// batch uses + the decision layers); `local_segments` = every decision layer (W and b, output
/// layer included), as MeLU's `local_update_target_weight_name`. See docs/models_mlp.md.

#include <metarec/core/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/mlp/network_model.hpp>
#include <metarec/nn/embedding.hpp>
#include <metarec/nn/loss.hpp>
#include <metarec/nn/mlp.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// Options of `Melu`.
struct MeluModelOptions {
  int embedding_dim = 32;                         ///< width of every field embedding
  std::vector<Eigen::Index> hidden = {64, 64};    ///< decision layers' hidden sizes (then 1 output)
  nn::Activation activation = nn::Activation::relu;  ///< hidden activation
  std::vector<std::string> user_fields = {"gender", "age", "occupation", "zip_prefix"};
  std::vector<std::string> item_fields = {"genre", "year"};
  bool user_id = false;                           ///< also embed the user id
  bool item_id = false;                           ///< also embed the item id
  nn::Pooling pooling = nn::Pooling::mean;        ///< multi-hot pooling (MeLU: mean)
  nn::LossKind loss = nn::LossKind::squared_error;  ///< MeLU regresses ratings
  double threshold = 3.0;                         ///< BCE label: rating > threshold
  double dropout = 0.0;                           ///< dropout after each hidden layer (training)
  double embedding_std = 0.1;                     ///< embeddings start N(0, std²)
  nn::DenseInit init = nn::DenseInit::torch_default;  ///< decision layers' initialisation
};

/// MeLU-style model over `RatingBatch`es; a `metarec::Model` with exact (sparse) HVPs and local
/// segments.
/// @tparam S float or double
/// @code
/// const metarec::Dataset ds = metarec::load_movielens("data/ml-1m");
/// metarec::Melu<float> melu(ds);                      // six 32-d embeddings → 64 → 64 → 1
/// metarec::Vector<float> theta(melu.num_parameters());
/// metarec::Rng rng(1);
/// melu.initialize(theta, rng);
/// std::vector<metarec::Segment> local;
/// melu.local_segments(batch, local);                  // the decision layers
/// @endcode
template <class S = float>
class Melu : public detail::NetworkModel<Melu<S>, S> {
  using Base = detail::NetworkModel<Melu<S>, S>;
  friend Base;

 public:
  using Options = MeluModelOptions;
  static constexpr const char* model_name = "Melu";

  /// Per-thread scratch (see network_model.hpp).
  struct Workspace : detail::HeadWorkspace<S> {
    nn::MlpWorkspace<S> mlp;
  };

  /// Builds the model on the fields of `ds` (requested fields the data set lacks are skipped).
  /// @throws std::invalid_argument when no field is left, embedding_dim < 1, a hidden size < 1,
  ///         or dropout ∉ [0, 1).
  explicit Melu(const Dataset& ds, Options options = {}) : opt_(std::move(options)) {
    emb_ = nn::EmbeddingFields::from_dataset(
        ds,
        {.user_id = opt_.user_id, .item_id = opt_.item_id, .user_fields = opt_.user_fields,
         .item_fields = opt_.item_fields, .pooling = opt_.pooling},
        opt_.embedding_dim, layout_, "embedding");
    if (emb_.num_fields() == 0)
      throw std::invalid_argument(
          "Melu: none of the requested fields exists in the data set '" + ds.name() +
          "'; enable user_id/item_id or name existing side-feature fields");
    std::vector<Eigen::Index> sizes{emb_.rows()};
    sizes.insert(sizes.end(), opt_.hidden.begin(), opt_.hidden.end());
    sizes.push_back(1);
    decision_ = nn::Mlp(layout_, "decision",
                        {.sizes = sizes, .hidden = opt_.activation,
                         .output = nn::Activation::identity, .dropout = opt_.dropout,
                         .init = opt_.init, .dropout_id = 1});
  }

  [[nodiscard]] const ParameterLayout& layout() const noexcept { return layout_; }
  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] const nn::EmbeddingFields& embeddings() const noexcept { return emb_; }
  [[nodiscard]] const nn::Mlp& decision_layers() const noexcept { return decision_; }

  /// Task-local segments: every decision layer's W and b (the same for any batch); the embeddings
  /// are global. Appended in layer order.
  void local_segments(const RatingBatch& /*batch*/, std::vector<Segment>& out) const {
    decision_.append_segments(out);
  }

 private:
  [[nodiscard]] nn::LossKind loss_kind() const noexcept { return opt_.loss; }
  [[nodiscard]] double threshold() const noexcept { return opt_.threshold; }

  void init_(VectorRef<S> theta, Rng& rng) const {
    emb_.initialize<S>(theta, rng, opt_.embedding_std);
    decision_.initialize<S>(theta, rng);
  }
  void check_batch_(const RatingBatch& batch, const char* what) const {
    emb_.check_dataset(batch.data, model_name, what);
  }
  void reserve_(Workspace& ws, Eigen::Index B) const { ws.mlp.reserve(decision_, B); }

  void forward_(const ConstVectorRef<S>& theta, const RatingBatch& batch, Workspace& ws,
                bool training) const {
    const Eigen::Index B = ws.mlp.batch;
    emb_.gather<S>(theta, batch, ws.mlp.a[0].leftCols(B));
    decision_.forward<S>(theta, ws.mlp, Base::dropout_context(batch, training));
    ws.out.leftCols(B) = ws.mlp.a.back().leftCols(B);
  }
  template <class Sink>
  void backward_(const ConstVectorRef<S>& theta, const RatingBatch& batch, Workspace& ws,
                 Sink& sink) const {
    const Eigen::Index B = ws.mlp.batch;
    ws.mlp.g.back().leftCols(B) = ws.dout.leftCols(B);
    decision_.backward<S>(theta, ws.mlp, sink, nn::wants_gradient<Sink>);
    emb_.scatter<S>(ws.mlp.g[0].leftCols(B), batch, sink);
  }
  void r_forward_(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v,
                  const RatingBatch& batch, Workspace& ws) const {
    const Eigen::Index B = ws.mlp.batch;
    emb_.gather<S>(v, batch, ws.mlp.ra[0].leftCols(B));
    decision_.r_forward<S>(theta, v, ws.mlp, true);
    ws.rout.leftCols(B) = ws.mlp.ra.back().leftCols(B);
  }
  template <class Sink>
  void r_backward_(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v,
                   const RatingBatch& batch, Workspace& ws, Sink& sink) const {
    const Eigen::Index B = ws.mlp.batch;
    ws.mlp.rg.back().leftCols(B) = ws.rdout.leftCols(B);
    decision_.r_backward<S>(theta, v, ws.mlp, sink, true, true);
    emb_.scatter<S>(ws.mlp.rg[0].leftCols(B), batch, sink);
  }

  Options opt_;
  ParameterLayout layout_;
  nn::EmbeddingFields emb_;
  nn::Mlp decision_;
};

}  // namespace metarec
