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
///
/// Task kernel (the MAML fast path, `HasLocalTaskKernel` in meta/adapt.hpp): while only the
/// decision layers are adapted, the embedded input X of a task's support rows is constant, so it
/// is gathered once per task (`begin_task`); each inner step's forward/backward passes over the
/// whole support set (GEMMs over the B support columns) are kept in a per-step slot, and the
/// Hessian-vector product at θ_j reuses them (R-forward with R{X} = 0, R-backward), so an HVP
/// costs only its R-passes. Results equal the generic members up to rounding.

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/mlp/network_model.hpp>
#include <metarec/nn/embedding.hpp>
#include <metarec/nn/loss.hpp>
#include <metarec/nn/mlp.hpp>

#include <algorithm>
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
  /// Per-thread scratch (see network_model.hpp).
  struct Workspace : detail::HeadWorkspace<S> {
    nn::MlpWorkspace<S> mlp;
    Matrix<S> tables;  ///< the first layer's per-field tables (prediction over many rows)
  };

  /// Per-thread scratch of the task kernel: one slot per inner step (the passes at θ_j).
  struct TaskCache {
    struct Step {
      nn::MlpWorkspace<S> mlp;
      Matrix<S> curvature;  ///< ℓ''(ŷ_b)/B (1 × B)
    };
    std::vector<Step> steps;
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

  /// Task kernel, 1/3: sizes `cache` for `steps` inner steps over `support` and gathers the
  /// support rows' embeddings from θ once. Valid while only the local segments change.
  /// Grow-only: no allocation once a task of this support size and step count was seen.
  void begin_task(TaskCache& cache, const ConstVectorRef<S>& theta, const RatingBatch& support,
                  int steps) const {
    const auto B = static_cast<Eigen::Index>(support.size());
    const auto n = static_cast<std::size_t>(std::max(steps, 1));
    if (cache.steps.size() < n) cache.steps.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
      cache.steps[j].mlp.reserve(decision_, B);
      nn::ensure_shape(cache.steps[j].curvature, 1, B);
    }
    if (B == 0) return;
    emb_.gather<S>(theta, support, cache.steps[0].mlp.a[0].leftCols(B));
    for (std::size_t j = 1; j < n; ++j)
      cache.steps[j].mlp.a[0].leftCols(B) = cache.steps[0].mlp.a[0].leftCols(B);
  }

  /// Task kernel, 2/3: support loss at θ (= θ_j of inner step `step`) and its gradient with
  /// respect to the decision layers only, ACCUMULATED into `grad` (the caller clears it); keeps
  /// the step's passes for `local_hessian_vector_product`. The embedding part of θ must be the
  /// one `begin_task` saw.
  S local_loss_and_gradient(TaskCache& cache, int step, const ConstVectorRef<S>& theta,
                            const RatingBatch& support, SparseGradient<S>& grad) const {
    const auto B = static_cast<Eigen::Index>(support.size());
    if (B == 0) return S(0);
    auto& slot = cache.steps[static_cast<std::size_t>(step)];
    nn::MlpWorkspace<S>& w = slot.mlp;
    w.batch = B;
    decision_.forward<S>(theta, w, Base::dropout_context(support, true));
    const S inv_b = S(1) / static_cast<S>(B);
    double total = 0.0;
    const Matrix<S>& out = w.a.back();
    Matrix<S>& dout = w.g.back();
    for (Eigen::Index b = 0; b < B; ++b) {
      const double t = nn::loss_target(opt_.loss,
                                       support.data->rating(support.rows[static_cast<std::size_t>(b)]),
                                       opt_.threshold);
      const auto terms = nn::loss_terms<S>(opt_.loss, out(0, b), t);
      total += terms.value;
      dout(0, b) = terms.d1 * inv_b;
      slot.curvature(0, b) = terms.d2 * inv_b;
    }
    decision_.backward<S>(theta, w, grad, false);
    return static_cast<S>(total / static_cast<double>(B));
  }

  /// Task kernel, 3/3: H·v of the support loss at θ_j (the θ of `local_loss_and_gradient(step)`)
  /// for a direction v that is zero outside the decision layers, ACCUMULATED into `out` (the
  /// caller clears it): the decision-layer rows and the rows of the embedding columns the support
  /// uses. Reads v only on the decision layers.
  void local_hessian_vector_product(TaskCache& cache, int step, const ConstVectorRef<S>& theta,
                                    const RatingBatch& support, const ConstVectorRef<S>& v,
                                    SparseGradient<S>& out) const {
    const auto B = static_cast<Eigen::Index>(support.size());
    if (B == 0) return;
    auto& slot = cache.steps[static_cast<std::size_t>(step)];
    nn::MlpWorkspace<S>& w = slot.mlp;
    w.batch = B;
    decision_.r_forward<S>(theta, v, w, false);
    w.rg.back().leftCols(B) = slot.curvature.leftCols(B).cwiseProduct(w.ra.back().leftCols(B));
    decision_.r_backward<S>(theta, v, w, out, false, true);
    emb_.scatter<S>(w.rg[0].leftCols(B), support, out);
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
    const nn::Dense& first = decision_.layers().front();
    // Prediction over many rows (a new user's whole catalogue): the first layer through per-field
    // tables, W₁ x = Σ_f W₁,f e_f, when cheaper than embedding every row (no dropout:
    // prediction mode only). Equal up to rounding (tested).
    if (!training) {
      const auto [tables, plain] = emb_.linear_costs(first.out(), B);
      if (tables < plain) {
        emb_.linear_by_tables<S>(theta, first.W.map<S>(theta), nn::bias_map<S>(theta, first.b), batch, ws.tables,
                                 ws.mlp.z[0].leftCols(B));
        decision_.forward<S>(theta, ws.mlp, Base::dropout_context(batch, false), true);
        ws.out.leftCols(B) = ws.mlp.a.back().leftCols(B);
        return;
      }
    }
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

  static constexpr const char* model_name = "Melu";  // in messages
  Options opt_;
  ParameterLayout layout_;
  nn::EmbeddingFields emb_;
  nn::Mlp decision_;
};

}  // namespace metarec
