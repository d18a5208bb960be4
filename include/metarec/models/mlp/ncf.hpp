#pragma once
/// @file ncf.hpp
/// @brief Neural collaborative filtering (He et al., WWW 2017): GMF, MLP and NeuMF, with SEPARATE
/// embedding tables for the GMF and the MLP paths.
///
///     GMF:   φ_G = p_u^G ∘ q_i^G
///     MLP:   φ_M = tower([p_u^M; q_i^M; side-feature embeddings])       (ReLU layers)
///     ŷ      = hᵀ φ_G + b          (GMF)
///            = hᵀ φ_M + b          (MLP)
///            = hᵀ [φ_G; φ_M] + b   (NeuMF)
///     L      = (1/B) Σ BCE(ŷ, [r > threshold])    (or squared error on r)
///
/// Exact gradient and Hessian-vector product (R-operator; the GMF product is bilinear, so its
/// R-backward pass carries the cross terms R{∂p} = R{g}∘q + g∘R{q}), dense or sparse.
/// `local_segments` = the user-id columns (GMF and MLP tables) of the batch's users.

#include <metarec/data/batch.hpp>
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

/// Which NCF instance.
enum class NcfVariant { gmf, mlp, neumf };

/// Options of `Ncf` (defaults: the paper's NeuMF with 8 predictive factors and a 64-32-16-8 tower).
struct NcfOptions {
  NcfVariant variant = NcfVariant::neumf;
  int gmf_dim = 8;                                  ///< GMF embedding width (predictive factors)
  int mlp_dim = 32;                                 ///< MLP id/side embedding width
  std::vector<Eigen::Index> hidden = {32, 16, 8};   ///< tower sizes after the [p; q] input
  nn::Activation activation = nn::Activation::relu;
  double dropout = 0.0;                             ///< after each tower layer but the last (training)
  bool side_features = false;                       ///< also feed side-feature embeddings to the tower
  std::vector<std::string> user_fields = {"gender", "age", "occupation", "zip_prefix"};
  std::vector<std::string> item_fields = {"genre", "year"};
  nn::Pooling pooling = nn::Pooling::mean;
  nn::LossKind loss = nn::LossKind::bce;
  double threshold = 3.0;                           ///< BCE label: rating > threshold
  double embedding_std = 0.01;                      ///< embeddings start N(0, std²) (paper: 0.01)
  nn::DenseInit init = nn::DenseInit::xavier_uniform;  ///< tower and output (Keras Glorot default)
};

/// GMF / MLP / NeuMF over `RatingBatch`es; a `metarec::Model` with exact (sparse) HVPs.
/// @tparam S float or double
/// @code
/// metarec::Ncf<float> neumf(ds, {.variant = metarec::NcfVariant::neumf});
/// metarec::Vector<float> theta(neumf.num_parameters());
/// metarec::Rng rng(1);
/// neumf.initialize(theta, rng);
/// metarec::Vector<float> p(batch.size());
/// neumf.predict(theta, batch, p);   // probabilities σ(ŷ)
/// @endcode
template <class S = float>
class Ncf : public detail::NetworkModel<Ncf<S>, S> {
  using Base = detail::NetworkModel<Ncf<S>, S>;
  friend Base;

 public:
  using Options = NcfOptions;
  /// Per-thread scratch (see network_model.hpp).
  struct Workspace : detail::HeadWorkspace<S> {
    nn::MlpWorkspace<S> tower, head;
    Matrix<S> xg, dxg, rxg, rdxg;  // GMF [p; q] (2k × B), its gradient, R{}, R{gradient}
  };

  /// @throws std::invalid_argument when a width or size < 1, or dropout ∉ [0, 1).
  explicit Ncf(const Dataset& ds, Options options = {}) : opt_(std::move(options)) {
    if (opt_.gmf_dim < 1 || opt_.mlp_dim < 1)
      throw std::invalid_argument("Ncf: gmf_dim and mlp_dim must be >= 1 (got " +
                                  std::to_string(opt_.gmf_dim) + ", " +
                                  std::to_string(opt_.mlp_dim) + ")");
    Eigen::Index head_in = 0;
    if (has_gmf()) {
      gmf_ = nn::EmbeddingFields::from_dataset(ds, {.user_id = true, .item_id = true}, opt_.gmf_dim,
                                               layout_, "gmf");
      head_in += opt_.gmf_dim;
    }
    if (has_mlp()) {
      nn::FieldSelection sel{.pooling = opt_.pooling};
      if (opt_.side_features) {
        sel.user_fields = opt_.user_fields;
        sel.item_fields = opt_.item_fields;
      }
      mlp_ = nn::EmbeddingFields::from_dataset(ds, sel, opt_.mlp_dim, layout_, "mlp");
      if (opt_.hidden.empty())
        throw std::invalid_argument("Ncf: the MLP path needs at least one hidden layer");
      std::vector<Eigen::Index> sizes{mlp_.rows()};
      sizes.insert(sizes.end(), opt_.hidden.begin(), opt_.hidden.end());
      tower_ = nn::Mlp(layout_, "tower",
                       {.sizes = sizes, .hidden = opt_.activation, .output = opt_.activation,
                        .dropout = opt_.dropout, .init = opt_.init, .dropout_id = 1});
      head_in += opt_.hidden.back();
    }
    head_ = nn::Mlp(layout_, "predict",
                    {.sizes = {head_in, 1}, .output = nn::Activation::identity, .init = opt_.init});
  }

  [[nodiscard]] const ParameterLayout& layout() const noexcept { return layout_; }
  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] const nn::EmbeddingFields& gmf_embeddings() const noexcept { return gmf_; }
  [[nodiscard]] const nn::EmbeddingFields& mlp_embeddings() const noexcept { return mlp_; }

  /// Task-local segments: the user-id columns (GMF and MLP tables) of the batch's users.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    if (has_gmf()) gmf_.append_columns(batch, nn::FieldSource::user_id, out);
    if (has_mlp()) mlp_.append_columns(batch, nn::FieldSource::user_id, out);
  }

 private:
  [[nodiscard]] bool has_gmf() const noexcept { return opt_.variant != NcfVariant::mlp; }
  [[nodiscard]] bool has_mlp() const noexcept { return opt_.variant != NcfVariant::gmf; }
  [[nodiscard]] Eigen::Index kg() const noexcept { return has_gmf() ? opt_.gmf_dim : 0; }
  [[nodiscard]] nn::LossKind loss_kind() const noexcept { return opt_.loss; }
  [[nodiscard]] double threshold() const noexcept { return opt_.threshold; }

  void init_(VectorRef<S> theta, Rng& rng) const {
    if (has_gmf()) gmf_.initialize<S>(theta, rng, opt_.embedding_std);
    if (has_mlp()) {
      mlp_.initialize<S>(theta, rng, opt_.embedding_std);
      tower_.initialize<S>(theta, rng);
    }
    head_.initialize<S>(theta, rng);
  }
  void check_batch_(const RatingBatch& batch, const char* what) const {
    if (has_gmf()) gmf_.check_dataset(batch.data, model_name, what);
    if (has_mlp()) mlp_.check_dataset(batch.data, model_name, what);
  }
  void reserve_(Workspace& ws, Eigen::Index B) const {
    ws.head.reserve(head_, B);
    if (has_mlp()) ws.tower.reserve(tower_, B);
    for (auto* m : {&ws.xg, &ws.dxg, &ws.rxg, &ws.rdxg}) nn::ensure_shape(*m, 2 * kg(), B);
  }

  void forward_(const ConstVectorRef<S>& theta, const RatingBatch& batch, Workspace& ws,
                bool training) const {
    const Eigen::Index B = ws.head.batch, k = kg();
    const auto ctx = Base::dropout_context(batch, training);
    auto in = ws.head.a[0].leftCols(B);
    if (has_gmf()) {
      auto xg = ws.xg.leftCols(B);
      gmf_.gather<S>(theta, batch, xg);
      in.topRows(k) = xg.topRows(k).cwiseProduct(xg.bottomRows(k));
    }
    if (has_mlp()) {
      mlp_.gather<S>(theta, batch, ws.tower.a[0].leftCols(B));
      tower_.forward<S>(theta, ws.tower, ctx);
      in.bottomRows(in.rows() - k) = ws.tower.a.back().leftCols(B);
    }
    head_.forward<S>(theta, ws.head, ctx);
    ws.out.leftCols(B) = ws.head.a.back().leftCols(B);
  }

  template <class Sink>
  void backward_(const ConstVectorRef<S>& theta, const RatingBatch& batch, Workspace& ws,
                 Sink& sink) const {
    const Eigen::Index B = ws.head.batch, k = kg();
    ws.head.g.back().leftCols(B) = ws.dout.leftCols(B);
    head_.backward<S>(theta, ws.head, sink, true);
    const auto gin = ws.head.g[0].leftCols(B);
    if (has_gmf() && nn::wants_gradient<Sink>) {
      const auto xg = ws.xg.leftCols(B);
      auto dxg = ws.dxg.leftCols(B);
      dxg.topRows(k) = gin.topRows(k).cwiseProduct(xg.bottomRows(k));
      dxg.bottomRows(k) = gin.topRows(k).cwiseProduct(xg.topRows(k));
      gmf_.scatter<S>(dxg, batch, sink);
    }
    if (has_mlp()) {
      ws.tower.g.back().leftCols(B) = gin.bottomRows(gin.rows() - k);
      tower_.backward<S>(theta, ws.tower, sink, nn::wants_gradient<Sink>);
      mlp_.scatter<S>(ws.tower.g[0].leftCols(B), batch, sink);
    }
  }

  void r_forward_(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v,
                  const RatingBatch& batch, Workspace& ws) const {
    const Eigen::Index B = ws.head.batch, k = kg();
    auto rin = ws.head.ra[0].leftCols(B);
    if (has_gmf()) {
      const auto xg = ws.xg.leftCols(B);
      auto rxg = ws.rxg.leftCols(B);
      gmf_.gather<S>(v, batch, rxg);
      rin.topRows(k) = rxg.topRows(k).cwiseProduct(xg.bottomRows(k)) +
                       xg.topRows(k).cwiseProduct(rxg.bottomRows(k));
    }
    if (has_mlp()) {
      mlp_.gather<S>(v, batch, ws.tower.ra[0].leftCols(B));
      tower_.r_forward<S>(theta, v, ws.tower, true);
      rin.bottomRows(rin.rows() - k) = ws.tower.ra.back().leftCols(B);
    }
    head_.r_forward<S>(theta, v, ws.head, true);
    ws.rout.leftCols(B) = ws.head.ra.back().leftCols(B);
  }

  template <class Sink>
  void r_backward_(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v,
                   const RatingBatch& batch, Workspace& ws, Sink& sink) const {
    const Eigen::Index B = ws.head.batch, k = kg();
    ws.head.rg.back().leftCols(B) = ws.rdout.leftCols(B);
    head_.r_backward<S>(theta, v, ws.head, sink, true, true);
    const auto gin = ws.head.g[0].leftCols(B);
    const auto rgin = ws.head.rg[0].leftCols(B);
    if (has_gmf()) {
      const auto xg = ws.xg.leftCols(B);
      const auto rxg = ws.rxg.leftCols(B);
      auto rdxg = ws.rdxg.leftCols(B);
      rdxg.topRows(k) = rgin.topRows(k).cwiseProduct(xg.bottomRows(k)) +
                        gin.topRows(k).cwiseProduct(rxg.bottomRows(k));
      rdxg.bottomRows(k) = rgin.topRows(k).cwiseProduct(xg.topRows(k)) +
                           gin.topRows(k).cwiseProduct(rxg.topRows(k));
      gmf_.scatter<S>(rdxg, batch, sink);
    }
    if (has_mlp()) {
      ws.tower.rg.back().leftCols(B) = rgin.bottomRows(rgin.rows() - k);
      tower_.r_backward<S>(theta, v, ws.tower, sink, true, true);
      mlp_.scatter<S>(ws.tower.rg[0].leftCols(B), batch, sink);
    }
  }

  static constexpr const char* model_name = "Ncf";  // in messages
  Options opt_;
  ParameterLayout layout_;
  nn::EmbeddingFields gmf_, mlp_;
  nn::Mlp tower_, head_;
};

}  // namespace metarec
