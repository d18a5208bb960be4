#pragma once
/// @file factorization_machine.hpp
/// @brief Second-order Factorization Machine (Rendle 2010) over categorical fields.
///
/// Each rating row is a sparse feature vector x over FIELDS: user id, item id, every user side
/// field, every item side field, and (when enabled and the data has times) the time bin. Each field
/// owns a contiguous range of feature indices, `[offset, offset + cardinality)`, with offsets the
/// running sum of the cardinalities in field order, so two distinct (field, value) pairs can never
/// share a feature index (the original study's code computed overlapping offsets; fixed and tested
/// here). Single-valued fields set x_j = 1; a multi-hot field with n values sets x_j = 1/n for each
/// (so a three-genre movie is not louder than a one-genre movie); an unknown value sets nothing.
/// A value listed twice for one entity counts as two occurrences (loaders never produce that).
///
/// With w₀ the global bias, w the linear weights and v_j ∈ ℝ^k the factor of feature j, in the
/// O(k·n_active) form
///
///     ŷ(x) = w₀ + Σ_j w_j x_j + ½ Σ_f [ (Σ_j v_{j,f} x_j)² − Σ_j v_{j,f}² x_j² ]
///          = w₀ + Σ_j w_j x_j + Σ_{j<l} ⟨v_j, v_l⟩ x_j x_l.
///
/// Loss: L = 1/|B| Σ_rows [ (ŷ − r)² + Σ_{active j} (λ_w w_j² + λ_v ‖v_j‖²) ] (w₀ unpenalised).
///
/// **Exact Hessian.** With s = Σ_j x_j v_j: ∂ŷ/∂w₀ = 1, ∂ŷ/∂w_j = x_j, ∂ŷ/∂v_j = x_j s − x_j² v_j.
/// ŷ is linear in (w₀, w), so the only second derivatives are between factors:
/// ∂²ŷ/∂v_j∂v_l = x_j x_l I for j ≠ l and 0 for j = l. Hence, for a direction δ with
/// δs = Σ_j x_j δv_j, (∇²ŷ δ)_{v_j} = x_j (δs − x_j δv_j), and
///
///     H δ = 2/|B| Σ_rows [ ∇ŷ (∇ŷᵀδ) + e ∇²ŷ δ + λ δ ]    (e = ŷ − r),
///
/// computed per row in O(k · n_active), dense or sparse.
///
/// Task-local segments: the user-id feature's weight w_u and factor v_u (nothing when the user-id
/// field is disabled).

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/detail/sgd_rows.hpp>
#include <metarec/models/detail/layout_model.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace metarec {

/// Options of `FactorizationMachine`.
struct FactorizationMachineOptions {
  int dims = 8;                 ///< factor dimensions k
  double reg = 0.01;            ///< λ_v on the factors v_j of active features
  double bias_reg = 0.01;       ///< λ_w on the linear weights w_j of active features
  double init_std = 0.1;        ///< v starts N(0, init_std²); w starts at 0
  double global_mean = 0.0;     ///< initial value of the (learned) global bias w₀
  bool user_id = true;          ///< field "user_id" (one-hot user)
  bool item_id = true;          ///< field "item_id" (one-hot item)
  bool user_features = true;    ///< one field per user side field ("user:<name>")
  bool item_features = true;    ///< one field per item side field ("item:<name>")
  int time_bins = 0;            ///< > 0: field "time_bin" with this many bins (needs times)
};

/// What a field of a `FactorizationMachine` encodes.
enum class FmFieldKind { user_id, item_id, user_feature, item_feature, time_bin };

/// One field of a `FactorizationMachine`: its features are `[offset, offset + cardinality)`.
struct FmField {
  std::string name;                 ///< "user_id", "item_id", "user:gender", "item:genre", "time_bin"
  FmFieldKind kind = FmFieldKind::user_id;
  std::size_t table_index = 0;      ///< position in the data set's FeatureTable (side fields)
  Eigen::Index offset = 0;          ///< first feature index of the field
  std::uint32_t cardinality = 0;
};

/// Second-order Factorization Machine over user/item ids, side fields and time bins; satisfies
/// `metarec::Model`.
/// @tparam S float or double
/// @code
/// metarec::FactorizationMachine<float> fm(ds, {.dims = 16, .global_mean = ds.mean_rating(train),
///                                              .time_bins = 10});
/// metarec::Vector<float> theta(fm.num_parameters());
/// metarec::Rng rng(1);
/// fm.initialize(theta, rng);
/// metarec::Vector<float> pred(static_cast<Eigen::Index>(test.size()));
/// fm.predict(theta, metarec::RatingBatch{&ds, test}, pred);
/// @endcode
template <class S = float>
class FactorizationMachine : public detail::LayoutModel<FactorizationMachine<S>, S> {
 public:
  /// @param ds data set whose sizes, feature schema and time range define the fields
  /// @param options hyperparameters and field selection
  /// @throws std::invalid_argument when dims < 1, time_bins < 0, `time_bins > 0` on data without
  ///         timestamps, or no field has any feature.
  explicit FactorizationMachine(const Dataset& ds, FactorizationMachineOptions options = {})
      : opt_(options), num_users_(ds.num_users()), num_items_(ds.num_items()) {
    if (opt_.dims < 1 || opt_.time_bins < 0)
      throw std::invalid_argument("FactorizationMachine: dims must be >= 1 and time_bins >= 0 "
                                  "(got " + std::to_string(opt_.dims) + ", " +
                                  std::to_string(opt_.time_bins) + ")");
    Eigen::Index n = 0;
    auto add = [&](std::string name, FmFieldKind kind, std::size_t idx, std::uint32_t card) {
      fields_.push_back({std::move(name), kind, idx, n, card});
      n += card;
    };
    if (opt_.user_id) add("user_id", FmFieldKind::user_id, 0, num_users_);
    if (opt_.item_id) add("item_id", FmFieldKind::item_id, 0, num_items_);
    if (opt_.user_features)
      for (std::size_t k = 0; k < ds.user_features().fields.size(); ++k)
        add("user:" + ds.user_features().fields[k].name, FmFieldKind::user_feature, k,
            ds.user_features().fields[k].cardinality());
    if (opt_.item_features)
      for (std::size_t k = 0; k < ds.item_features().fields.size(); ++k)
        add("item:" + ds.item_features().fields[k].name, FmFieldKind::item_feature, k,
            ds.item_features().fields[k].cardinality());
    if (opt_.time_bins > 0) {
      ds.require_times("FactorizationMachine (time_bins > 0)");
      if (ds.num_ratings() == 0)
        throw std::invalid_argument("FactorizationMachine: time_bins > 0 on an empty data set");
      const auto [lo, hi] = std::minmax_element(ds.times().begin(), ds.times().end());
      t_min_ = *lo;
      t_max_ = *hi;
      width_ = static_cast<std::uint64_t>(t_max_) - static_cast<std::uint64_t>(t_min_) + 1u;
      if (width_ == 0 || width_ > std::numeric_limits<std::uint64_t>::max() /
                                      static_cast<std::uint64_t>(opt_.time_bins))
        throw std::invalid_argument("FactorizationMachine: time range too wide for " +
                                    std::to_string(opt_.time_bins) + " bins");
      add("time_bin", FmFieldKind::time_bin, 0, static_cast<std::uint32_t>(opt_.time_bins));
    }
    if (n == 0)
      throw std::invalid_argument("FactorizationMachine: no features (all fields disabled or "
                                  "empty); enable user_id or item_id");
    num_features_ = n;
    w0_ = this->layout_.add("global_bias", 1, 1);
    w_ = this->layout_.add("linear_weights", 1, n);
    V_ = this->layout_.add("factors", opt_.dims, n);
  }

  using Options = FactorizationMachineOptions;

  /// Number n of features (sum of the field cardinalities).
  [[nodiscard]] Eigen::Index num_features() const noexcept { return num_features_; }
  /// The fields in feature order.
  [[nodiscard]] const std::vector<FmField>& fields() const noexcept { return fields_; }

  /// Feature index of `value` of field number `field` (position in `fields()`).
  /// @throws std::invalid_argument when the field or the value is out of range.
  [[nodiscard]] Eigen::Index feature_index(std::size_t field, std::uint32_t value) const {
    if (field >= fields_.size() || value >= fields_[field].cardinality)
      throw std::invalid_argument(
          "FactorizationMachine::feature_index: field " + std::to_string(field) + " value " +
          std::to_string(value) + " out of range (" + std::to_string(fields_.size()) +
          " fields" +
          (field < fields_.size()
               ? ", cardinality " + std::to_string(fields_[field].cardinality)
               : std::string()) +
          ")");
    return fields_[field].offset + value;
  }

  /// Time bin of a time (clamped to the data set's time range). Requires `time_bins > 0`.
  [[nodiscard]] std::uint32_t time_bin(std::int64_t t) const noexcept {
    t = std::clamp(t, t_min_, t_max_);
    const std::uint64_t off = static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(t_min_);
    return static_cast<std::uint32_t>(off * static_cast<std::uint64_t>(opt_.time_bins) / width_);
  }

  /// Overwrites θ: w₀ = global_mean, w = 0, v ~ N(0, init_std²).
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {V_}, opt_.init_std);
    theta[w0_.offset] = static_cast<S>(opt_.global_mean);
  }

  /// Mean loss over the batch (squared error + per-rating L2 on active features).
  /// @throws std::invalid_argument on a wrong-size θ or an incompatible batch data set.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RatingBatch& batch) const {
    this->check_size("loss", theta.size());
    validate_batch("loss", batch);
    Scratch sc(opt_.dims);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      double pen = 0.0;
      const S e = forward(theta, *batch.data, r, sc.s, &pen) - static_cast<S>(batch.data->rating(r));
      total += sq(e) + pen;
    });
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from detail::SinkModelEntryPoints (sink_entry_points.hpp).

  /// One prediction per batch row (out overwritten).
  void predict(const ConstVectorRef<S>& theta, const RatingBatch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.size());
    validate_batch("predict", batch);
    Scratch sc(opt_.dims);
    for (std::size_t k = 0; k < batch.rows.size(); ++k)
      out[static_cast<Eigen::Index>(k)] = forward(theta, *batch.data, batch.rows[k], sc.s, nullptr);
  }

  /// Fused plain-SGD step on one rating (`HasSgdUpdate`, docs/model_concept.md): the loss of the
  /// one-row batch and, when it is finite, θ ← θ − lr·∇ on w₀ and the weights and factors of the
  /// row's active features, in place, with exactly the arithmetic of `loss_and_gradient` +
  /// `Sgd::step` (same θ bit for bit without FMA contraction). No gradient buffer; no allocation
  /// up to 256 dims. No checks (innermost loop): θ must have this->num_parameters() entries and `data`
  /// this model's schema (`fit` checks θ; the schema is the caller's duty).
  S sgd_update(VectorRef<S> theta, const Dataset& data, RowIndex row, S lr) const {
    Scratch sc(opt_.dims);
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) { return sgd_step<decltype(kc)::value>(theta.data(), data, row, lr, sc.s); });
  }

  /// `sgd_update` over `rows` in order (the optional `sgd_update_rows` of `fit`, trainer.hpp): one
  /// scratch for the whole run; adds each loss to `loss_sum`; stops at the first non-finite loss
  /// (that row not applied) and returns its position, else rows.size().
  template <class Observe = detail::NoRowObserver>
  std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset& data, std::span<const RowIndex> rows,
                              S lr, double& loss_sum, Observe&& observe = {}) const {
    Scratch sc(opt_.dims);
    auto hint = [&](RowIndex r) {  // the weights and factors of row r's active features (cache hint)
      for_each_feature(data, r, [&](Eigen::Index j, S) {
        detail::prefetch_range<true>(theta.data() + V_.column(j).offset, V_.rows);
        detail::prefetch<true>(theta.data() + w_.offset + j);
      });
    };
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) {  // the dims dispatch once per run
      return detail::sgd_rows(rows, loss_sum, data, [&](RowIndex r) {
        return sgd_step<decltype(kc)::value>(theta.data(), data, r, lr, sc.s);
      }, hint, observe);
    });
  }

  /// Task-local segments: the user-id feature's weight and factor of each user, once each.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    if (!opt_.user_id) return;
    this->append_per_entity(batch.rows, out, [&](RowIndex r) { return batch.data->user(r); },
                            [&](std::uint32_t u, std::vector<Segment>& o) {
                              const Eigen::Index j = fields_[0].offset + u;
                              o.insert(o.end(), {w_.column(j), V_.column(j)});
                            });
  }


  /// Calls f(feature index, x_j) for every active feature of row r of `d` (d must have this
  /// model's schema).
  template <class F>
  void for_each_feature(const Dataset& d, RowIndex r, F&& f) const {
    for (const FmField& fld : fields_) {
      switch (fld.kind) {
        case FmFieldKind::user_id: f(fld.offset + d.user(r), S(1)); break;
        case FmFieldKind::item_id: f(fld.offset + d.item(r), S(1)); break;
        case FmFieldKind::user_feature: pooled(d.user_features(), fld, d.user(r), f); break;
        case FmFieldKind::item_feature: pooled(d.item_features(), fld, d.item(r), f); break;
        case FmFieldKind::time_bin: f(fld.offset + time_bin(d.time(r)), S(1)); break;
      }
    }
  }

 private:
  static double sq(S x) noexcept { return static_cast<double>(x) * static_cast<double>(x); }

  template <class F>
  static void pooled(const FeatureTable& t, const FmField& fld, std::uint32_t e, F& f) {
    const auto vals = t.fields[fld.table_index].of(e);
    if (vals.empty()) return;
    const S x = S(1) / static_cast<S>(vals.size());
    for (const std::uint32_t c : vals) f(fld.offset + c, x);
  }

  void validate_batch(const char* what, const RatingBatch& b) const {
    if (b.data == nullptr) {
      if (b.rows.empty()) return;
      throw std::invalid_argument(std::string("FactorizationMachine::") + what +
                                  ": batch has rows but no data set");
    }
    const Dataset& d = *b.data;
    const std::string caller = std::string("FactorizationMachine::") + what;
    if ((opt_.user_id && d.num_users() > num_users_) || (opt_.item_id && d.num_items() > num_items_))
      throw std::invalid_argument(caller + ": the data set has " + std::to_string(d.num_users()) +
                                  " users and " + std::to_string(d.num_items()) +
                                  " items, the model " + std::to_string(num_users_) + " and " +
                                  std::to_string(num_items_));
    for (const FmField& f : fields_) {
      const FeatureTable* t = f.kind == FmFieldKind::user_feature   ? &d.user_features()
                              : f.kind == FmFieldKind::item_feature ? &d.item_features()
                                                                    : nullptr;
      if (f.kind == FmFieldKind::time_bin) d.require_times(caller.c_str());
      if (t == nullptr) continue;
      if (f.table_index >= t->fields.size() ||
          f.name.compare(5, std::string::npos, t->fields[f.table_index].name) != 0 ||
          t->fields[f.table_index].cardinality() != f.cardinality)
        throw std::invalid_argument(caller + ": the batch's data set has no field '" + f.name +
                                    "' with " + std::to_string(f.cardinality) +
                                    " categories at position " + std::to_string(f.table_index) +
                                    "; use the data set (or one with the same feature schema) "
                                    "the model was built on");
    }
  }

  static Eigen::Map<const Vector<S>> col(const ConstVectorRef<S>& theta, const Block& blk,
                                         Eigen::Index c) noexcept {
    return Eigen::Map<const Vector<S>>(theta.data() + blk.offset + c * blk.rows, blk.rows);
  }

  // Scratch for s = Σ x_j v_j: on the stack up to kStackDims dimensions (no allocation in the
  // hot loops), on the heap beyond.
  static constexpr int kStackDims = 256;
  struct Scratch {
    alignas(16) S stack[kStackDims];
    std::vector<S> heap;
    S* s;
    explicit Scratch(int dims) {
      if (dims <= kStackDims) {
        s = stack;
      } else {
        heap.resize(static_cast<std::size_t>(dims));
        s = heap.data();
      }
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
  };

  // The width dispatch (detail::with_fixed_dims over opt_.dims) routes every reduction of one
  // quantity through the same K in every path (loss, gradient, fused step, prediction), so they
  // all round the same way.
  template <int K>
  using VecK = Eigen::Matrix<S, K, 1>;

  // One fused SGD step (see sgd_update) with scratch s of dims entries; K as detail::with_fixed_dims.
  template <int K>
  S sgd_step(S* t, const Dataset& d, RowIndex r, S lr, S* s) const {
    double pen = 0.0;
    const S e = forward_k<K>(t, d, r, s, &pen) - static_cast<S>(d.rating(r));
    const double loss = sq(e) + pen;
    if (!std::isfinite(loss)) return static_cast<S>(loss);
    // gradient_into's arithmetic with |B| = 1, then Sgd::step's θ ← θ − lr·g, entry by entry
    const S scale = S(2);
    const S wreg = scale * static_cast<S>(opt_.bias_reg), vreg = scale * static_cast<S>(opt_.reg);
    const S se = scale * e;
    const Eigen::Index k = opt_.dims;
    t[w0_.offset] = t[w0_.offset] - lr * se;
    for_each_feature(d, r, [&](Eigen::Index j, S x) {
      S* w = t + w_.offset + j;
      *w = *w - lr * (se * x + wreg * *w);
      S* v = t + V_.offset + j * k;
      const S a = se * x, b = vreg - se * x * x;
      Eigen::Map<VecK<K>> vv(v, k);  // Eigen-vectorised, per entry
      vv = vv - lr * (a * Eigen::Map<const VecK<K>>(s, k) + b * vv);
    });
    return static_cast<S>(loss);
  }

  /// ŷ of row r; fills s = Σ x_j v_j; adds the row's penalty to *pen when pen is not null.
  S forward(const ConstVectorRef<S>& t, const Dataset& d, RowIndex r, S* s_buf,
            double* pen) const {
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) { return forward_k<decltype(kc)::value>(t.data(), d, r, s_buf, pen); });
  }
  template <int K>
  S forward_k(const S* t, const Dataset& d, RowIndex r, S* s_buf, double* pen) const {
    Eigen::Map<VecK<K>> s(s_buf, opt_.dims);
    s.setZero();
    S lin = t[w0_.offset], self = S(0);
    for_each_feature(d, r, [&](Eigen::Index j, S x) {
      const Eigen::Map<const VecK<K>> v(t + V_.offset + j * V_.rows, opt_.dims);
      const S vv = v.squaredNorm();
      s.noalias() += x * v;
      lin += x * t[w_.offset + j];
      self += x * x * vv;
      if (pen) *pen += opt_.bias_reg * sq(t[w_.offset + j]) + opt_.reg * static_cast<double>(vv);
    });
    return lin + S(0.5) * (s.squaredNorm() - self);
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& t, const RatingBatch& batch, Sink& g) const {
    const Dataset& d = *batch.data;
    const S scale = S(2) / static_cast<S>(batch.size());
    const S wreg = scale * static_cast<S>(opt_.bias_reg), vreg = scale * static_cast<S>(opt_.reg);
    Scratch sc(opt_.dims);
    const Eigen::Map<const Vector<S>> s(sc.s, opt_.dims);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      double pen = 0.0;
      const S e = forward(t, d, r, sc.s, &pen) - static_cast<S>(d.rating(r));
      total += sq(e) + pen;
      const S se = scale * e;
      g.segment(w0_.segment())[0] += se;
      for_each_feature(d, r, [&](Eigen::Index j, S x) {
        const auto v = col(t, V_, j);
        g.segment(w_.column(j))[0] += se * x + wreg * t[w_.offset + j];
        // ∂ŷ/∂v_j = x s − x² v_j
        g.segment(V_.column(j)).noalias() += (se * x) * s + (vreg - se * x * x) * v;
      });
    });
  }

  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& t, const RatingBatch& batch, const ConstVectorRef<S>& dv,
                Sink& out) const {
    if (batch.rows.empty()) return;
    const Dataset& d = *batch.data;
    const S scale = S(2) / static_cast<S>(batch.size());
    const S wreg = static_cast<S>(opt_.bias_reg), vreg = static_cast<S>(opt_.reg);
    Scratch sc(opt_.dims);
    const Eigen::Map<const Vector<S>> s(sc.s, opt_.dims);
    Vector<S> ds(opt_.dims);
    for (const RowIndex r : batch.rows) {
      // Pass 1: s, δs, ŷ and ∇ŷᵀδ = δw₀ + Σ x δw_j + Σ (x s − x² v_j)ᵀδv_j
      //                            = δw₀ + Σ x δw_j + sᵀδs − Σ x² v_jᵀδv_j.
      ds.setZero();
      S jv = dv[w0_.offset];
      S self_dot = S(0);
      const S e = forward(t, d, r, sc.s, nullptr) - static_cast<S>(d.rating(r));
      for_each_feature(d, r, [&](Eigen::Index j, S x) {
        const auto dvj = col(dv, V_, j);
        ds.noalias() += x * dvj;
        jv += x * dv[w_.offset + j];
        self_dot += x * x * col(t, V_, j).dot(dvj);
      });
      jv += s.dot(ds) - self_dot;
      // Pass 2: H δ = scale · [∇ŷ jv + e ∇²ŷ δ + λ δ], (∇²ŷ δ)_{v_j} = x (δs − x δv_j).
      out.segment(w0_.segment())[0] += scale * jv;
      for_each_feature(d, r, [&](Eigen::Index j, S x) {
        const auto v = col(t, V_, j);
        const auto dvj = col(dv, V_, j);
        out.segment(w_.column(j))[0] += scale * (jv * x + wreg * dv[w_.offset + j]);
        out.segment(V_.column(j)).noalias() += (scale * jv * x) * s - (scale * jv * x * x) * v +
                                               (scale * e * x) * ds +
                                               (scale * (vreg - e * x * x)) * dvj;
      });
    }
  }

  friend detail::LayoutModel<FactorizationMachine<S>, S>;  // reads model_name, opt_ and the passes
  static constexpr const char* model_name = "FactorizationMachine";  // in messages
  Options opt_;
  std::uint32_t num_users_;
  std::uint32_t num_items_;
  std::vector<FmField> fields_;
  Eigen::Index num_features_ = 0;
  std::int64_t t_min_ = 0, t_max_ = 0;
  std::uint64_t width_ = 1;
  Block w0_, w_, V_;
};

}  // namespace metarec
