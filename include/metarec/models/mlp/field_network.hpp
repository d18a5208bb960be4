#pragma once
/// @file field_network.hpp
/// @brief The shared body of the factorisation-machine family over categorical fields: NFM,
/// DeepFM, Wide&Deep and xDeepFM. One class, its parts switched by a compile-time kind.
///
/// Fields: the user id and item id (each optional) and, optionally, user and item side features
/// (multi-hot fields pooled). With e_f the k-dimensional embedding of field f, E = [e_1; …; e_F]
/// and the first-order weights w_f (a 1-dimensional embedding per field value):
///
/// | kind | ŷ |
/// |---|---|
/// | NFM | w₀ + Σ_f w_f + MLP(BI(E)),      BI(E) = Σ_{f<g} e_f∘e_g |
/// | DeepFM | w₀ + Σ_f w_f + 1ᵀBI(E) + MLP(E) |
/// | Wide&Deep | w₀ + Σ_f w_f + MLP(E) |
/// | xDeepFM | w₀ + Σ_f w_f + CIN(E) + MLP(E) |
///
/// L = (1/B) Σ ℓ(ŷ) with ℓ = BCE on [r > threshold] (ŷ a logit) or squared error on r.
/// Exact gradients and R-operator Hessian-vector products, dense or sparse (embedding columns
/// the batch uses + dense blocks). `local_segments` = the user's embedding columns.

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/mlp/network_model.hpp>
#include <metarec/nn/bi_interaction.hpp>
#include <metarec/nn/cin.hpp>
#include <metarec/nn/embedding.hpp>
#include <metarec/nn/loss.hpp>
#include <metarec/nn/mlp.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// Options shared by `Nfm`, `DeepFm`, `WideDeep` and `XDeepFm` (fields a model does not use are
/// ignored: `cin_layers` only matters to xDeepFM).
struct FieldNetworkOptions {
  int embedding_dim = 16;                           ///< k, the width of every field embedding
  std::vector<Eigen::Index> hidden = {64, 64};      ///< MLP hidden sizes (then 1 output unit)
  nn::Activation activation = nn::Activation::relu;
  double dropout = 0.0;                             ///< after each hidden layer (training)
  bool user_id = true;                              ///< embed the user id
  bool item_id = true;                              ///< embed the item id
  bool side_features = false;                       ///< also embed the side-feature fields below
  std::vector<std::string> user_fields = {"gender", "age", "occupation", "zip_prefix"};
  std::vector<std::string> item_fields = {"genre", "year"};
  nn::Pooling pooling = nn::Pooling::mean;          ///< multi-hot pooling
  nn::LossKind loss = nn::LossKind::bce;
  double threshold = 3.0;                           ///< BCE label: rating > threshold
  double embedding_std = 0.01;                      ///< embeddings and w_f start N(0, std²)
  nn::DenseInit init = nn::DenseInit::he_normal;    ///< MLP initialisation
  std::vector<Eigen::Index> cin_layers = {16, 16};  ///< xDeepFM: CIN feature maps per layer
  /// Batch normalisation before each MLP hidden activation (off by default; nn/batch_norm.hpp).
  /// Training-mode passes (loss, gradient, HVP) use batch statistics, `predict` the running
  /// statistics, which live in θ and change only through `update_running_statistics`.
  bool batch_norm = false;
};

/// The options of each field network (all `FieldNetworkOptions`).
using NfmOptions = FieldNetworkOptions;
using DeepFmOptions = FieldNetworkOptions;
using WideDeepOptions = FieldNetworkOptions;
using XDeepFmOptions = FieldNetworkOptions;

/// The four field networks (one class template, `FieldNetwork<S, Kind>`, behind the aliases `Nfm`,
/// `DeepFm`, `WideDeep`, `XDeepFm` of nfm.hpp, deepfm.hpp, wide_deep.hpp, xdeepfm.hpp).
enum class FieldNetworkKind { nfm, deepfm, wide_deep, xdeepfm };

/// The FM family's body: NFM, DeepFM, Wide&Deep and xDeepFM differ only in which parts are on.
/// Use it through the aliases (`metarec::DeepFm<float>`).
template <class S, FieldNetworkKind Kind>
class FieldNetwork : public detail::NetworkModel<FieldNetwork<S, Kind>, S> {
  using Derived = FieldNetwork;
  using Base = detail::NetworkModel<FieldNetwork, S>;
  friend Base;
  static constexpr bool is_nfm = Kind == FieldNetworkKind::nfm;
  static constexpr bool has_fm = Kind == FieldNetworkKind::deepfm;
  static constexpr bool has_cin = Kind == FieldNetworkKind::xdeepfm;

 public:
  using Options = FieldNetworkOptions;
  static constexpr const char* model_name = Kind == FieldNetworkKind::nfm       ? "Nfm"
                                            : Kind == FieldNetworkKind::deepfm  ? "DeepFm"
                                            : Kind == FieldNetworkKind::wide_deep ? "WideDeep"
                                                                                : "XDeepFm";

  /// Per-thread scratch (see network_model.hpp).
  struct Workspace : detail::HeadWorkspace<S> {
    nn::MlpWorkspace<S> mlp;
    nn::CinWorkspace<S> cin;
    Matrix<S> E, dE, RE, RdE, part;      // F·k × B
    Matrix<S> s, P, Rs, RP, grep, rgrep;  // k × B
    Matrix<S> lin, glin;                  // F × B
    Matrix<S> y, ry;                      // 1 × B
  };

  /// @throws std::invalid_argument when no field is selected, a width or size < 1, or
  ///         dropout ∉ [0, 1).
  FieldNetwork(const Dataset& ds, Options options) : opt_(std::move(options)) {
    nn::FieldSelection sel{.user_id = opt_.user_id, .item_id = opt_.item_id, .pooling = opt_.pooling};
    if (opt_.side_features) {
      sel.user_fields = opt_.user_fields;
      sel.item_fields = opt_.item_fields;
    }
    emb_ = nn::EmbeddingFields::from_dataset(ds, sel, opt_.embedding_dim, layout_, "embedding");
    if (emb_.num_fields() == 0)
      throw std::invalid_argument(std::string(Derived::model_name) +
                                  ": no field selected; enable user_id, item_id or side_features");
    if ((is_nfm || has_fm) && emb_.num_fields() < 2)
      throw std::invalid_argument(std::string(Derived::model_name) +
                                  ": pairwise interactions need at least 2 fields");
    lin_ = nn::EmbeddingFields::from_dataset(ds, sel, 1, layout_, "linear");
    w0_ = layout_.add("linear.bias", 1, 1);
    std::vector<Eigen::Index> sizes{is_nfm ? emb_.dims() : emb_.rows()};
    sizes.insert(sizes.end(), opt_.hidden.begin(), opt_.hidden.end());
    sizes.push_back(1);
    mlp_ = nn::Mlp(layout_, is_nfm ? "mlp" : "deep",
                   {.sizes = sizes, .hidden = opt_.activation, .output = nn::Activation::identity,
                    .dropout = opt_.dropout, .init = opt_.init, .dropout_id = 1,
                    .batch_norm = opt_.batch_norm});
    if constexpr (has_cin)
      cin_ = nn::Cin(layout_, "cin", emb_.num_fields(), emb_.dims(), opt_.cin_layers);
  }

  [[nodiscard]] const ParameterLayout& layout() const noexcept { return layout_; }
  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] const nn::EmbeddingFields& embeddings() const noexcept { return emb_; }
  [[nodiscard]] const nn::EmbeddingFields& linear_weights() const noexcept { return lin_; }
  [[nodiscard]] const nn::Mlp& mlp() const noexcept { return mlp_; }

  /// With `batch_norm`: one training-mode forward pass over `batch`, then the running statistics
  /// of every batch-normalised layer are moved towards that batch's statistics (momentum 0.1);
  /// call it after each optimiser step. No-op without batch normalisation.
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  void update_running_statistics(VectorRef<S> theta, const RatingBatch& batch) const {
    if (!opt_.batch_norm || batch.rows.empty()) return;
    auto& ws = Base::training_forward(theta, batch, "update_running_statistics");
    mlp_.update_running<S>(theta, ws.mlp);
  }

  /// Task-local segments: the batch users' embedding and first-order columns (of the user-id
  /// field; of the user side-feature fields when the user id is not embedded).
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    const auto src = opt_.user_id ? nn::FieldSource::user_id : nn::FieldSource::user_feature;
    emb_.append_columns(batch, src, out);
    lin_.append_columns(batch, src, out);
  }

 private:
  [[nodiscard]] nn::LossKind loss_kind() const noexcept { return opt_.loss; }
  [[nodiscard]] double threshold() const noexcept { return opt_.threshold; }
  [[nodiscard]] Eigen::Index k() const noexcept { return emb_.dims(); }

  void init_(VectorRef<S> theta, Rng& rng) const {
    emb_.initialize<S>(theta, rng, opt_.embedding_std);
    lin_.initialize<S>(theta, rng, opt_.embedding_std);
    mlp_.initialize<S>(theta, rng);
    if constexpr (has_cin) cin_.initialize<S>(theta, rng);
  }
  void check_batch_(const RatingBatch& batch, const char* what) const {
    emb_.check_dataset(batch.data, Derived::model_name, what);
  }
  void reserve_(Workspace& ws, Eigen::Index B) const {
    ws.mlp.reserve(mlp_, B);
    if constexpr (has_cin) ws.cin.reserve(cin_, B);
    for (auto* m : {&ws.E, &ws.dE, &ws.RE, &ws.RdE, &ws.part}) nn::ensure_shape(*m, emb_.rows(), B);
    for (auto* m : {&ws.s, &ws.P, &ws.Rs, &ws.RP, &ws.grep, &ws.rgrep}) nn::ensure_shape(*m, k(), B);
    for (auto* m : {&ws.lin, &ws.glin}) nn::ensure_shape(*m, lin_.rows(), B);
    for (auto* m : {&ws.y, &ws.ry}) nn::ensure_shape(*m, 1, B);
  }

  void forward_(const ConstVectorRef<S>& theta, const RatingBatch& batch, Workspace& ws,
                bool training) const {
    const Eigen::Index B = ws.mlp.batch;
    auto E = ws.E.leftCols(B);
    emb_.gather<S>(theta, batch, E);
    auto lin = ws.lin.leftCols(B);
    lin_.gather<S>(theta, batch, lin);
    auto out = ws.out.leftCols(B);
    out = lin.colwise().sum();
    out.array() += theta[w0_.offset];
    if constexpr (is_nfm || has_fm) ws_bi().template forward<S>(E, ws.s.leftCols(B), ws.P.leftCols(B));
    if constexpr (has_fm) out += ws.P.leftCols(B).colwise().sum();
    if constexpr (is_nfm)
      ws.mlp.a[0].leftCols(B) = ws.P.leftCols(B);
    else
      ws.mlp.a[0].leftCols(B) = E;
    mlp_.forward<S>(theta, ws.mlp, Base::dropout_context(batch, training));
    out += ws.mlp.a.back().leftCols(B);
    if constexpr (has_cin) {
      cin_.forward<S>(theta, E, ws.cin, ws.y.leftCols(B));
      out += ws.y.leftCols(B);
    }
  }

  // The linear part's share of a backward pass with output gradient d (or R{d}): w₀ and every
  // active feature's weight receive d.
  template <class D, class Sink>
  void scatter_linear_(const D& d, const RatingBatch& batch, Workspace& ws, Sink& sink) const {
    sink.segment(w0_.segment())[0] += d.sum();
    auto glin = ws.glin.leftCols(d.cols());
    glin = d.replicate(lin_.rows(), 1);
    lin_.scatter<S>(glin, batch, sink);
  }

  template <class Sink>
  void backward_(const ConstVectorRef<S>& theta, const RatingBatch& batch, Workspace& ws,
                 Sink& sink) const {
    const Eigen::Index B = ws.mlp.batch;
    const auto dout = ws.dout.leftCols(B);
    if constexpr (nn::wants_gradient<Sink>) scatter_linear_(dout, batch, ws, sink);
    auto dE = ws.dE.leftCols(B);
    const auto E = ws.E.leftCols(B);
    ws.mlp.g.back().leftCols(B) = dout;
    mlp_.backward<S>(theta, ws.mlp, sink, true);
    if constexpr (is_nfm) {
      ws_bi().template backward<S>(E, ws.s.leftCols(B), ws.mlp.g[0].leftCols(B), dE);
    } else {
      dE = ws.mlp.g[0].leftCols(B);
    }
    if constexpr (has_fm) {
      auto grep = ws.grep.leftCols(B);
      grep = dout.replicate(k(), 1);
      auto part = ws.part.leftCols(B);
      ws_bi().template backward<S>(E, ws.s.leftCols(B), grep, part);
      dE += part;
    }
    if constexpr (has_cin) {
      ws.cin.out_grad.leftCols(B) = dout;
      auto part = ws.part.leftCols(B);
      cin_.backward<S>(theta, ws.cin, sink, part);
      dE += part;
    }
    emb_.scatter<S>(dE, batch, sink);
  }

  void r_forward_(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v,
                  const RatingBatch& batch, Workspace& ws) const {
    const Eigen::Index B = ws.mlp.batch;
    auto RE = ws.RE.leftCols(B);
    emb_.gather<S>(v, batch, RE);
    auto rlin = ws.glin.leftCols(B);  // scratch: R{lin} = lin gathered from v
    lin_.gather<S>(v, batch, rlin);
    auto rout = ws.rout.leftCols(B);
    rout = rlin.colwise().sum();
    rout.array() += v[w0_.offset];
    const auto E = ws.E.leftCols(B);
    if constexpr (is_nfm || has_fm)
      ws_bi().template r_forward<S>(E, ws.s.leftCols(B), RE, ws.Rs.leftCols(B), ws.RP.leftCols(B));
    if constexpr (has_fm) rout += ws.RP.leftCols(B).colwise().sum();
    if constexpr (is_nfm)
      ws.mlp.ra[0].leftCols(B) = ws.RP.leftCols(B);
    else
      ws.mlp.ra[0].leftCols(B) = RE;
    mlp_.r_forward<S>(theta, v, ws.mlp, true);
    rout += ws.mlp.ra.back().leftCols(B);
    if constexpr (has_cin) {
      cin_.r_forward<S>(theta, v, RE, ws.cin, ws.ry.leftCols(B));
      rout += ws.ry.leftCols(B);
    }
  }

  template <class Sink>
  void r_backward_(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v,
                   const RatingBatch& batch, Workspace& ws, Sink& sink) const {
    const Eigen::Index B = ws.mlp.batch;
    const auto dout = ws.dout.leftCols(B);
    const auto rdout = ws.rdout.leftCols(B);
    scatter_linear_(rdout, batch, ws, sink);
    auto RdE = ws.RdE.leftCols(B);
    const auto E = ws.E.leftCols(B);
    const auto RE = ws.RE.leftCols(B);
    ws.mlp.rg.back().leftCols(B) = rdout;
    mlp_.r_backward<S>(theta, v, ws.mlp, sink, true, true);
    if constexpr (is_nfm) {
      ws_bi().template r_backward<S>(E, ws.s.leftCols(B), RE, ws.Rs.leftCols(B),
                                     ws.mlp.g[0].leftCols(B), ws.mlp.rg[0].leftCols(B), RdE);
    } else {
      RdE = ws.mlp.rg[0].leftCols(B);
    }
    if constexpr (has_fm) {
      auto grep = ws.grep.leftCols(B);
      auto rgrep = ws.rgrep.leftCols(B);
      grep = dout.replicate(k(), 1);
      rgrep = rdout.replicate(k(), 1);
      auto part = ws.part.leftCols(B);
      ws_bi().template r_backward<S>(E, ws.s.leftCols(B), RE, ws.Rs.leftCols(B), grep, rgrep, part);
      RdE += part;
    }
    if constexpr (has_cin) {
      ws.cin.r_out_grad.leftCols(B) = rdout;
      auto part = ws.part.leftCols(B);
      cin_.r_backward<S>(theta, v, ws.cin, sink, part);
      RdE += part;
    }
    emb_.scatter<S>(RdE, batch, sink);
  }

  [[nodiscard]] nn::BiInteraction ws_bi() const noexcept { return nn::BiInteraction{k()}; }

  Options opt_;
  ParameterLayout layout_;
  nn::EmbeddingFields emb_, lin_;
  Block w0_;
  nn::Mlp mlp_;
  nn::Cin cin_;
};

}  // namespace metarec
