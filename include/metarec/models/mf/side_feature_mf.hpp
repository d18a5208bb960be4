#pragma once
/// @file side_feature_mf.hpp
/// @brief Matrix factorisation with user and item side features (SVDFeature style).
///
/// Every category of every user field and item field (ML-1M: gender, age, occupation, zip_prefix;
/// genre, year) owns a latent factor w_c and a bias b_c. With pooling weights a_c (below):
///
///     U_u = p_u + Σ_{user categories c of u} a_c w_c
///     I_i = q_i + Σ_{item categories d of i} a_d w_d
///     r̂_ui = μ + b_u + b_i + Σ_c a_c b_c + Σ_d a_d b_d + U_uᵀ I_i
///
/// Pooling: within one field, the categories of an entity are averaged (mean pooling,
/// a_c = 1 / (number of values of that field for that entity)). A single-valued field has a = 1;
/// a movie with three genres gets a = 1/3 per genre, so it is not "louder" than a one-genre movie.
/// A field with no value for an entity (unknown) contributes nothing. A category listed twice for
/// the same entity counts twice (the data loaders never produce that).
///
/// **Fixed with respect to the original study's code:** there, the occupation entered as an
/// item-independent additive term, so it shifted every item of a user by the same amount and could
/// not change the ranking of items. Here every user feature factor is multiplied with the item's
/// vector I_i (and every item feature factor with U_u), so side features do change item rankings.
///
/// Loss over a batch B, with per-rating L2 penalties on every parameter a rating touches:
///
///     L = 1/|B| Σ_{(u,i,r)∈B} [ (r̂_ui − r)² + λ‖p_u‖² + λ_q‖q_i‖² + λ_b b_u² + λ_bi b_i²
///                                + Σ_{touched categories c} (λ_f ‖w_c‖² + λ_b b_c²) ]
///
/// (λ_q = λ and λ_bi = λ_b unless `item_reg`, `item_bias_reg` are set: larger ones push what the item
/// ID vectors and biases would learn into the item feature factors and biases, which a new item has
/// too; docs/models_mf.md.)
/// Exact gradient and exact Hessian-vector product (the model is bilinear in (U, I)), dense or
/// sparse. The model works with any set of fields, including none (ML-10M has no user fields),
/// in which case it is biased MF. With `shared_user = true` every user reads one shared p₀, b₀ plus
/// their own feature factors: a cold user starts from a feature-informed point.

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/detail/sgd_rows.hpp>
#include <metarec/models/detail/layout_model.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace metarec {

/// Options of `SideFeatureMF`.
struct SideFeatureMFOptions {
  int dims = 32;                  ///< latent dimensions k
  double reg = 0.02;              ///< λ on p_u (and on q_i unless item_reg is set)
  double item_reg = -1.0;         ///< λ_q on the item ID factors q_i; negative: the same as reg
  double bias_reg = 0.02;         ///< λ_b on b_u, the feature biases b_c (and b_i unless item_bias_reg is set)
  double item_bias_reg = -1.0;    ///< λ_bi on the item ID biases b_i; negative: the same as bias_reg
  double feature_reg = 0.02;      ///< λ_f on the feature factors w_c
  double init_std = 0.1;          ///< p, q, w start N(0, init_std²); biases start at 0
  double global_mean = 0.0;       ///< μ (fixed, not learned)
  bool user_features = true;      ///< use the data set's user fields (if any)
  bool item_features = true;      ///< use the data set's item fields (if any)
  bool shared_user = false;       ///< every user reads one shared p₀, b₀ (+ own feature factors)
};

/// SVDFeature-style matrix factorisation with side features; satisfies `metarec::Model`.
///
/// The feature schema (field names and cardinalities) is taken from the data set given to the
/// constructor; batches must come from a data set with the same schema (checked, O(fields)).
/// @tparam S float or double
/// @code
/// metarec::SideFeatureMF<float> model(ds, {.dims = 32, .global_mean = ds.mean_rating(train)});
/// metarec::Vector<float> theta(model.num_parameters());
/// metarec::Rng rng(1);
/// model.initialize(theta, rng);
/// metarec::Vector<float> grad(model.num_parameters());
/// float loss = model.loss_and_gradient(theta, metarec::RatingBatch{&ds, train}, grad);
/// @endcode
template <class S = float>
class SideFeatureMF : public detail::LayoutModel<SideFeatureMF<S>, S> {
 public:
  /// One side-feature field as laid out in θ: its categories are feature columns
  /// `[offset, offset + cardinality)` of the user (or item) feature tables.
  struct FieldRef {
    std::string name;
    std::size_t table_index = 0;    ///< position in the data set's FeatureTable
    std::uint32_t offset = 0;       ///< first feature column of this field
    std::uint32_t cardinality = 0;
  };

  /// @param ds data set whose sizes and feature schema define the model
  /// @param options hyperparameters
  /// @throws std::invalid_argument when dims < 1 or the data set has no users or no items.
  explicit SideFeatureMF(const Dataset& ds, SideFeatureMFOptions options = {})
      : opt_(options), num_users_(ds.num_users()), num_items_(ds.num_items()) {
    const Eigen::Index user_rows =
        this->checked_user_rows(num_users_, num_items_, opt_.shared_user, {{"dims", opt_.dims}});
    const std::uint32_t nuf = opt_.user_features ? collect(ds.user_features(), user_fields_) : 0;
    const std::uint32_t nif = opt_.item_features ? collect(ds.item_features(), item_fields_) : 0;
    P_ = this->layout_.add("user_factors", opt_.dims, user_rows);
    Q_ = this->layout_.add("item_factors", opt_.dims, num_items_);
    Wu_ = this->layout_.add("user_feature_factors", opt_.dims, nuf);
    Wi_ = this->layout_.add("item_feature_factors", opt_.dims, nif);
    bu_ = this->layout_.add("user_bias", 1, user_rows);
    bi_ = this->layout_.add("item_bias", 1, num_items_);
    bfu_ = this->layout_.add("user_feature_bias", 1, nuf);
    bfi_ = this->layout_.add("item_feature_bias", 1, nif);
    if (!std::isfinite(opt_.item_reg) || !std::isfinite(opt_.item_bias_reg))
      throw std::invalid_argument("SideFeatureMF: item_reg and item_bias_reg must be finite (negative: the same as reg, bias_reg)");
  }

  /// λ_q, the L2 weight on the item ID factors q_i: `item_reg`, or `reg` when it is negative.
  [[nodiscard]] double item_factor_reg() const noexcept { return opt_.item_reg < 0.0 ? opt_.reg : opt_.item_reg; }
  /// λ_bi, the L2 weight on the item ID biases b_i: `item_bias_reg`, or `bias_reg` when it is negative.
  [[nodiscard]] double item_bias_reg() const noexcept {
    return opt_.item_bias_reg < 0.0 ? opt_.bias_reg : opt_.item_bias_reg;
  }

  using Options = SideFeatureMFOptions;

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] const std::vector<FieldRef>& user_fields() const noexcept { return user_fields_; }
  [[nodiscard]] const std::vector<FieldRef>& item_fields() const noexcept { return item_fields_; }

  /// Overwrites θ: factors N(0, init_std²), biases 0.
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {P_, Q_, Wu_, Wi_}, opt_.init_std);
  }

  /// Mean loss over the batch (squared error + per-rating L2).
  /// @throws std::invalid_argument on a wrong-size θ or a batch with another feature schema.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RatingBatch& batch) const {
    this->check_size("loss", theta.size());
    validate_batch("loss", batch);
    Scratch sc(opt_.dims);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const S e = error(theta, batch, r, sc.U, sc.I);
      total += sq(e) + penalty(theta, *batch.data, r);
    });
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from detail::SinkModelEntryPoints (sink_entry_points.hpp).

  /// One prediction per batch row (out overwritten).
  /// @throws std::invalid_argument on wrong sizes or a batch with another feature schema.
  void predict(const ConstVectorRef<S>& theta, const RatingBatch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.size());
    validate_batch("predict", batch);
    Scratch sc(opt_.dims);
    for (std::size_t k = 0; k < batch.rows.size(); ++k) {
      const RowIndex r = batch.rows[k];
      out[static_cast<Eigen::Index>(k)] =
          error(theta, batch, r, sc.U, sc.I) + static_cast<S>(batch.data->rating(r));
    }
  }

  /// Prediction for a (user, item) pair of `data` by dense index (no batch needed).
  [[nodiscard]] S score(const ConstVectorRef<S>& theta, const Dataset& data, std::uint32_t u,
                        std::uint32_t i) const {
    this->check_size("score", theta.size());
    check_schema("score", data);
    Scratch sc(opt_.dims);
    return raw_score(theta, data, u, i, sc.U, sc.I);
  }

  /// Fused plain-SGD step on one rating (`HasSgdUpdate`, docs/model_concept.md): the loss of the
  /// one-row batch and, when it is finite, θ ← θ − lr·∇ on every segment the rating touches (p_u,
  /// q_i, the feature factors and all biases), in place, with exactly the arithmetic of
  /// `loss_and_gradient` + `Sgd::step` (same θ bit for bit without FMA contraction). No gradient
  /// buffer; no allocation up to 256 dims. No checks (innermost loop): θ must have
  /// this->num_parameters() entries and `data` this model's feature schema (`fit` checks θ; the schema
  /// is the caller's duty).
  S sgd_update(VectorRef<S> theta, const Dataset& data, RowIndex row, S lr) const {
    Scratch sc(opt_.dims);
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) {
      return sgd_step<decltype(kc)::value>(theta.data(), data, row, lr, sc.U, sc.I);
    });
  }

  /// `sgd_update` over `rows` in order (the optional `sgd_update_rows` of `fit`, trainer.hpp): one
  /// scratch for the whole run; adds each loss to `loss_sum`; stops at the first non-finite loss
  /// (that row not applied) and returns its position, else rows.size().
  template <class Observe = detail::NoRowObserver>
  std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset& data, std::span<const RowIndex> rows,
                              S lr, double& loss_sum, Observe&& observe = {}) const {
    Scratch sc(opt_.dims);
    auto hint = [&](RowIndex r) {  // the per-user and per-item parameters row r touches (cache hint)
      const std::uint32_t pu = p_col(data.user(r)), i = data.item(r);
      detail::prefetch_range<true>(theta.data() + P_.column(pu).offset, P_.rows);
      detail::prefetch_range<true>(theta.data() + Q_.column(i).offset, Q_.rows);
      detail::prefetch<true>(theta.data() + bu_.offset + pu);
      detail::prefetch<true>(theta.data() + bi_.offset + i);
    };
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) {  // the dims dispatch once per run
      return detail::sgd_rows(rows, loss_sum, data, [&](RowIndex r) {
        return sgd_step<decltype(kc)::value>(theta.data(), data, r, lr, sc.U, sc.I);
      }, hint, observe);
    });
  }

  /// Task-local segments: the user's factors and bias (in shared mode the shared p₀ and b₀),
  /// once per user. Feature factors are global: they are shared by all users with that category.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    this->append_per_entity(batch.rows, out, [&](RowIndex r) { return p_col(batch.data->user(r)); },
                            [&](std::uint32_t u, std::vector<Segment>& o) {
                              o.insert(o.end(), {P_.column(u), bu_.column(u)});
                            });
  }


 private:
  static double sq(S x) noexcept { return static_cast<double>(x) * static_cast<double>(x); }

  static std::uint32_t collect(const FeatureTable& t, std::vector<FieldRef>& out) {
    std::uint32_t offset = 0;
    for (std::size_t k = 0; k < t.fields.size(); ++k) {
      out.push_back({t.fields[k].name, k, offset, t.fields[k].cardinality()});
      offset += t.fields[k].cardinality();
    }
    return offset;
  }

  static void check_fields(const char* what, const char* side, const FeatureTable& t,
                           const std::vector<FieldRef>& fields) {
    for (const FieldRef& f : fields) {
      if (f.table_index >= t.fields.size() || t.fields[f.table_index].name != f.name ||
          t.fields[f.table_index].cardinality() != f.cardinality)
        throw std::invalid_argument(
            std::string("SideFeatureMF::") + what + ": the batch's data set has no " + side +
            " field '" + f.name + "' with " + std::to_string(f.cardinality) +
            " categories at position " + std::to_string(f.table_index) +
            "; use the data set (or one with the same feature schema) the model was built on");
    }
  }

  void check_schema(const char* what, const Dataset& d) const {
    if (d.num_items() > num_items_ || (!opt_.shared_user && d.num_users() > num_users_))
      throw std::invalid_argument(std::string("SideFeatureMF::") + what + ": the data set has " +
                                  std::to_string(d.num_users()) + " users and " +
                                  std::to_string(d.num_items()) + " items, the model " +
                                  std::to_string(num_users_) + " and " +
                                  std::to_string(num_items_));
    check_fields(what, "user", d.user_features(), user_fields_);
    check_fields(what, "item", d.item_features(), item_fields_);
  }

  void validate_batch(const char* what, const RatingBatch& b) const {
    if (b.data == nullptr) {
      if (b.rows.empty()) return;
      throw std::invalid_argument(std::string("SideFeatureMF::") + what +
                                  ": batch has rows but no data set");
    }
    check_schema(what, *b.data);
  }

  [[nodiscard]] std::uint32_t p_col(std::uint32_t u) const noexcept {
    return opt_.shared_user ? 0u : u;
  }

  static Eigen::Map<const Vector<S>> col(const ConstVectorRef<S>& theta, const Block& blk,
                                         std::uint32_t c) noexcept {
    return Eigen::Map<const Vector<S>>(theta.data() + blk.offset + c * blk.rows, blk.rows);
  }

  /// Calls f(feature column, pooling weight a) for every category of entity e in `fields`.
  template <class F>
  static void for_each_feature(const FeatureTable& t, const std::vector<FieldRef>& fields,
                               std::uint32_t e, F&& f) {
    for (const FieldRef& fr : fields) {
      const auto vals = t.fields[fr.table_index].of(e);
      if (vals.empty()) continue;
      const S a = S(1) / static_cast<S>(vals.size());
      for (const std::uint32_t c : vals) f(fr.offset + c, a);
    }
  }

  // The width dispatch (detail::with_fixed_dims over opt_.dims) routes every reduction of one
  // quantity through the same K in every path (loss, gradient, fused step, prediction), so they
  // all round the same way.
  template <int K>
  using VecK = Eigen::Matrix<S, K, 1>;
  template <int K>
  Eigen::Map<const VecK<K>> col_k(const S* x, const Block& blk, std::uint32_t c) const noexcept {
    return Eigen::Map<const VecK<K>>(x + blk.offset + static_cast<Eigen::Index>(c) * blk.rows, opt_.dims);
  }

  /// Fills U = p_u + Σ a w, I = q_i + Σ a w (dims entries each), returns r̂.
  S raw_score(const ConstVectorRef<S>& x, const Dataset& d, std::uint32_t u, std::uint32_t i, S* Ub,
              S* Ib) const {
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) { return raw_score_k<decltype(kc)::value>(x.data(), d, u, i, Ub, Ib); });
  }
  template <int K>
  S raw_score_k(const S* x, const Dataset& d, std::uint32_t u, std::uint32_t i, S* Ub, S* Ib) const {
    const std::uint32_t pu = p_col(u);
    Eigen::Map<VecK<K>> U(Ub, opt_.dims), I(Ib, opt_.dims);
    U = col_k<K>(x, P_, pu);
    I = col_k<K>(x, Q_, i);
    S s = static_cast<S>(opt_.global_mean) + x[bu_.offset + pu] + x[bi_.offset + i];
    for_each_feature(d.user_features(), user_fields_, u, [&](std::uint32_t c, S a) {
      U.noalias() += a * col_k<K>(x, Wu_, c);
      s += a * x[bfu_.offset + c];
    });
    for_each_feature(d.item_features(), item_fields_, i, [&](std::uint32_t c, S a) {
      I.noalias() += a * col_k<K>(x, Wi_, c);
      s += a * x[bfi_.offset + c];
    });
    return s + U.dot(I);
  }

  S error(const ConstVectorRef<S>& theta, const RatingBatch& b, RowIndex r, S* U, S* I) const {
    return raw_score(theta, *b.data, b.data->user(r), b.data->item(r), U, I) -
           static_cast<S>(b.data->rating(r));
  }

  // Scratch for U and I: on the stack up to kStackDims dimensions (no allocation in the hot
  // loops), on the heap beyond.
  static constexpr int kStackDims = 256;
  struct Scratch {
    alignas(16) S u_stack[kStackDims];
    alignas(16) S i_stack[kStackDims];
    std::vector<S> heap;
    S* U;
    S* I;
    explicit Scratch(int dims) {
      if (dims <= kStackDims) {
        U = u_stack;
        I = i_stack;
      } else {
        heap.resize(2 * static_cast<std::size_t>(dims));
        U = heap.data();
        I = heap.data() + dims;
      }
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
  };

  // One fused SGD step (see sgd_update), with U and I scratch of dims entries; K as detail::with_fixed_dims.
  template <int K>
  S sgd_step(S* t, const Dataset& d, RowIndex r, S lr, S* Ub, S* Ib) const {
    const std::uint32_t u = d.user(r), i = d.item(r), pu = p_col(u);
    const S e = raw_score_k<K>(t, d, u, i, Ub, Ib) - static_cast<S>(d.rating(r));
    const double loss = sq(e) + penalty_k<K>(t, d, r);
    if (!std::isfinite(loss)) return static_cast<S>(loss);
    // gradient_into's arithmetic with |B| = 1, then Sgd::step's θ ← θ − lr·g, entry by entry
    const S scale = S(2);
    const S se = scale * e;
    const S sr = scale * static_cast<S>(opt_.reg);
    const S sq_i = scale * static_cast<S>(item_factor_reg());
    const S sb_i = scale * static_cast<S>(item_bias_reg());
    const S sb = scale * static_cast<S>(opt_.bias_reg);
    const S sf = scale * static_cast<S>(opt_.feature_reg);
    const Eigen::Index k = opt_.dims;
    auto step_vec = [&](S* w, const S* g_dir, S coef, S wreg) {  // Eigen-vectorised, per entry
      Eigen::Map<VecK<K>> wv(w, k);
      wv = wv - lr * (coef * Eigen::Map<const VecK<K>>(g_dir, k) + wreg * wv);
    };
    auto step_bias = [&](S* b, S g0, S breg) { *b = *b - lr * (g0 + breg * *b); };
    step_vec(t + P_.offset + static_cast<Eigen::Index>(pu) * k, Ib, se, sr);
    step_vec(t + Q_.offset + static_cast<Eigen::Index>(i) * k, Ub, se, sq_i);
    step_bias(t + bu_.offset + pu, se, sb);
    step_bias(t + bi_.offset + i, se, sb_i);
    for_each_feature(d.user_features(), user_fields_, u, [&](std::uint32_t c, S a) {
      step_vec(t + Wu_.offset + static_cast<Eigen::Index>(c) * k, Ib, se * a, sf);
      step_bias(t + bfu_.offset + c, se * a, sb);
    });
    for_each_feature(d.item_features(), item_fields_, i, [&](std::uint32_t c, S a) {
      step_vec(t + Wi_.offset + static_cast<Eigen::Index>(c) * k, Ub, se * a, sf);
      step_bias(t + bfi_.offset + c, se * a, sb);
    });
    return static_cast<S>(loss);
  }

  /// Per-rating L2 penalty of row r.
  double penalty(const ConstVectorRef<S>& x, const Dataset& d, RowIndex r) const {
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) { return penalty_k<decltype(kc)::value>(x.data(), d, r); });
  }
  template <int K>
  double penalty_k(const S* x, const Dataset& d, RowIndex r) const {
    const std::uint32_t u = d.user(r), i = d.item(r), pu = p_col(u);
    double t = opt_.reg * static_cast<double>(col_k<K>(x, P_, pu).squaredNorm()) +
               item_factor_reg() * static_cast<double>(col_k<K>(x, Q_, i).squaredNorm()) +
               opt_.bias_reg * sq(x[bu_.offset + pu]) + item_bias_reg() * sq(x[bi_.offset + i]);
    for_each_feature(d.user_features(), user_fields_, u, [&](std::uint32_t c, S) {
      t += opt_.feature_reg * static_cast<double>(col_k<K>(x, Wu_, c).squaredNorm()) +
           opt_.bias_reg * sq(x[bfu_.offset + c]);
    });
    for_each_feature(d.item_features(), item_fields_, i, [&](std::uint32_t c, S) {
      t += opt_.feature_reg * static_cast<double>(col_k<K>(x, Wi_, c).squaredNorm()) +
           opt_.bias_reg * sq(x[bfi_.offset + c]);
    });
    return t;
  }

  // The L2 weights in S: reg, bias_reg and feature_reg (PenaltyScalars), and the item IDs' λ_q, λ_bi.
  struct Weights {
    detail::PenaltyScalars<S> lam;
    S q, bi;
  };
  Weights weights() const {
    return {detail::PenaltyScalars<S>(opt_, opt_.feature_reg), static_cast<S>(item_factor_reg()),
            static_cast<S>(item_bias_reg())};
  }

  // ∂r̂/∂p_u = I, ∂r̂/∂w_c = a_c I (user side); ∂r̂/∂q_i = U, ∂r̂/∂w_d = a_d U (item side).
  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, Sink& g) const {
    const Dataset& d = *batch.data;
    const S scale = S(2) / static_cast<S>(batch.size());
    const Weights w = weights();
    Scratch sc(opt_.dims);
    const Eigen::Map<const Vector<S>> U(sc.U, opt_.dims), I(sc.I, opt_.dims);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const std::uint32_t u = d.user(r), i = d.item(r), pu = p_col(u);
      const S e = error(theta, batch, r, sc.U, sc.I);
      total += sq(e) + penalty(theta, d, r);
      const S se = scale * e;
      g.segment(P_.column(pu)).noalias() += se * I + (scale * w.lam.reg) * col(theta, P_, pu);
      g.segment(Q_.column(i)).noalias() += se * U + (scale * w.q) * col(theta, Q_, i);
      g.segment(bu_.column(pu))[0] += se + scale * w.lam.breg * theta[bu_.offset + pu];
      g.segment(bi_.column(i))[0] += se + scale * w.bi * theta[bi_.offset + i];
      for_each_feature(d.user_features(), user_fields_, u, [&](std::uint32_t c, S a) {
        g.segment(Wu_.column(c)).noalias() += (se * a) * I + (scale * w.lam.extra) * col(theta, Wu_, c);
        g.segment(bfu_.column(c))[0] += se * a + scale * w.lam.breg * theta[bfu_.offset + c];
      });
      for_each_feature(d.item_features(), item_fields_, i, [&](std::uint32_t c, S a) {
        g.segment(Wi_.column(c)).noalias() += (se * a) * U + (scale * w.lam.extra) * col(theta, Wi_, c);
        g.segment(bfi_.column(c))[0] += se * a + scale * w.lam.breg * theta[bfi_.offset + c];
      });
    });
  }

  // H·v of (r̂ − r)²: 2 ∇r̂ (∇r̂ᵀv) + 2e ∇²r̂ v. With δU = v_p + Σ a v_w (user side) and
  // δI = v_q + Σ a v_w (item side), ∇r̂ᵀv = δUᵀI + UᵀδI + (bias directions), and ∇²r̂ v is
  // a_x δI on a user-side factor x and a_x δU on an item-side factor x. Plus 2λ v per penalty.
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    if (batch.rows.empty()) return;
    const Dataset& d = *batch.data;
    const S scale = S(2) / static_cast<S>(batch.size());
    const Weights w = weights();
    Scratch sc(opt_.dims);
    const Eigen::Map<const Vector<S>> U(sc.U, opt_.dims), I(sc.I, opt_.dims);
    Vector<S> dU(opt_.dims), dI(opt_.dims), gu(opt_.dims), gi(opt_.dims);
    for (const RowIndex r : batch.rows) {
      const std::uint32_t u = d.user(r), i = d.item(r), pu = p_col(u);
      const S e = error(theta, batch, r, sc.U, sc.I);
      dU = col(v, P_, pu);
      dI = col(v, Q_, i);
      S jv = v[bu_.offset + pu] + v[bi_.offset + i];
      for_each_feature(d.user_features(), user_fields_, u, [&](std::uint32_t c, S a) {
        dU.noalias() += a * col(v, Wu_, c);
        jv += a * v[bfu_.offset + c];
      });
      for_each_feature(d.item_features(), item_fields_, i, [&](std::uint32_t c, S a) {
        dI.noalias() += a * col(v, Wi_, c);
        jv += a * v[bfi_.offset + c];
      });
      jv += dU.dot(I) + U.dot(dI);
      // Common parts: user-side factor x gets a_x (jv I + e δI), item-side a_x (jv U + e δU).
      gu.noalias() = jv * I + e * dI;
      gi.noalias() = jv * U + e * dU;
      out.segment(P_.column(pu)).noalias() += scale * gu + (scale * w.lam.reg) * col(v, P_, pu);
      out.segment(Q_.column(i)).noalias() += scale * gi + (scale * w.q) * col(v, Q_, i);
      out.segment(bu_.column(pu))[0] += scale * (jv + w.lam.breg * v[bu_.offset + pu]);
      out.segment(bi_.column(i))[0] += scale * (jv + w.bi * v[bi_.offset + i]);
      for_each_feature(d.user_features(), user_fields_, u, [&](std::uint32_t c, S a) {
        out.segment(Wu_.column(c)).noalias() += (scale * a) * gu + (scale * w.lam.extra) * col(v, Wu_, c);
        out.segment(bfu_.column(c))[0] += scale * (a * jv + w.lam.breg * v[bfu_.offset + c]);
      });
      for_each_feature(d.item_features(), item_fields_, i, [&](std::uint32_t c, S a) {
        out.segment(Wi_.column(c)).noalias() += (scale * a) * gi + (scale * w.lam.extra) * col(v, Wi_, c);
        out.segment(bfi_.column(c))[0] += scale * (a * jv + w.lam.breg * v[bfi_.offset + c]);
      });
    }
  }

  friend detail::LayoutModel<SideFeatureMF<S>, S>;  // reads model_name, opt_ and the passes
  static constexpr const char* model_name = "SideFeatureMF";  // in messages
  Options opt_;
  std::uint32_t num_users_;
  std::uint32_t num_items_;
  std::vector<FieldRef> user_fields_;
  std::vector<FieldRef> item_fields_;
  Block P_, Q_, Wu_, Wi_, bu_, bi_, bfu_, bfi_;
};

}  // namespace metarec
