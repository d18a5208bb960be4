#pragma once
/// @file cf_nade.hpp
/// @brief CF-NADE (Zheng, Tang, Ding & Zhou, ICML 2016): a neural autoregressive model of a case's
/// ratings (a user's, `cf-nade-u`, or an item's, `cf-nade-i`), with the weights shared across
/// rating levels ("-S"), the ordinal cost, one or two tanh hidden layers; exact gradient and exact
/// Hessian-vector product (forward-mode duals over the hand-written gradient).
///
/// **Model.** For a case with observed entries (column j, level r_j ∈ 0..K−1) taken in an order o,
///
///     p(r) = Π_i p(r_{o_i} | r_{o_<i}),   h₁ = tanh(c₁ + Σ_{i<d} Σ_{l ≤ r_{o_i}} W_{o_i}[:, l])
///     (two layers: h₂ = tanh(c₂ + U h₁)),  h = the top layer
///     s_k = Σ_{l ≤ k} (b_j[l] + V_j[:, l]ᵀ h),   p(r_j = k | context) = softmax_k(s)
///
/// (W_j: H₁ × K, V_j: H × K, b_j: K per column j; the cumulative sums over levels are the shared
/// parameterisation W^{≤k}, the paper's "-S").
///
/// **Cost of one target** with true level r: (1 − λ)·C_reg + λ·C_ord, C_reg = −log p(r) and the
/// ordinal cost C_ord = Σ_{k ≤ r} [LSE(s_0..s_k) − s_k] + Σ_{k ≥ r} [LSE(s_k..s_{K−1}) − s_k] (the
/// −log-probabilities of the rankings r ≻ r−1 ≻ … ≻ 0 and r ≻ r+1 ≻ … ≻ K−1 under Plackett–Luce).
///
/// **Loss of a batch** = (1/B) Σ_cases J_case + reg·‖U‖² (two layers), with, per case:
/// - a training case (input and target are the same rows, n of them): order-agnostic training as
///   the authors do: a random ordering and a split d ~ U{0..n−1}, both from the batch seed (case
///   b's stream); the first d entries are the context and J = n/(n−d) · Σ_{the other n−d} cost;
/// - a conditional case (input ≠ target: a MAML query batch, fold-in): the context is every input
///   row and J = Σ_{target rows} cost — the NLL of the targets given the inputs;
/// plus, per case, reg·(‖W_j‖² + ‖V_j‖²) for every column j of its rows (L2 on the columns a case
/// touches, the per-rating convention of the MF family; biases are not penalised).
///
/// **Prediction** of a target: Σ_k (k+1)·p(r_j = k | all input rows) (one pass, as the authors).

#include <metarec/core/dual.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/boltzmann/case_loop.hpp>
#include <metarec/models/detail/layout_model.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace metarec {

/// Options of `CfNade`.
struct CfNadeOptions {
  std::vector<int> hidden{500};   ///< one or two tanh layers: {H₁} or {H₁, H₂}
  int levels = 5;                 ///< K rating levels (rating r is level round(r) − 1, clamped)
  double ordinal_weight = 1.0;    ///< λ in (1 − λ)·C_reg + λ·C_ord (the authors' README: 1)
  double reg = 0.0;               ///< L2 on the W and V columns a case touches (and on U)
  double init_scale = 1.0;        ///< weights start U(±init_scale·√(6/(fan_in + fan_out)))
};

/// CF-NADE over whole rows (`RowBatch`): a `metarec::Model` with an exact gradient, sparse
/// gradients (the columns a batch touches, the layers' weights and biases) and exact
/// Hessian-vector products. The hidden biases are the MAML-local segments.
/// @tparam S float or double
/// @code
/// const metarec::WholeRows items(ds, split.train, metarec::RowSide::item);
/// const metarec::CfNade<float> nade(ds.num_users(), {.hidden = {500}}, metarec::RowSide::item);
/// metarec::Vector<float> theta(nade.num_parameters());
/// metarec::Rng rng(1);
/// nade.initialize(theta, rng);
/// nade.initialize_from_data(theta, items.batch());
/// metarec::RowBatches batches(items, 32, /*seed=*/1);
/// metarec::Adam<float> adam({.lr = 1e-3});
/// metarec::fit(nade, theta, adam, batches, {.epochs = 10});
/// @endcode
template <class S = float>
class CfNade : public detail::LayoutModel<CfNade<S>, S, RowBatch> {
  using Base = detail::LayoutModel<CfNade<S>, S, RowBatch>;
  friend Base;
  using Base::check_predict, Base::check_size, Base::layout_, Base::require;

 public:
  static constexpr const char* model_name = "CfNade";
  using typename Base::Batch;
  using Base::layout, Base::num_parameters;
  using Options = CfNadeOptions;

  /// @param columns the length of a case's row: items for `RowSide::user`, users for `RowSide::item`
  /// @throws std::invalid_argument on no columns, not one or two hidden layers, a layer size < 1,
  ///         levels outside 2..255, λ outside [0, 1], or a negative reg or init_scale.
  CfNade(std::uint32_t columns, Options options = {}, RowSide side = RowSide::user)
      : opt_(std::move(options)), side_(side), columns_(columns), levels_{opt_.levels, 0.0f} {
    require(columns >= 1, "the rows have no columns");
    require(opt_.hidden.size() == 1 || opt_.hidden.size() == 2,
            "hidden must list one or two layer sizes (got " + std::to_string(opt_.hidden.size()) + ")");
    for (const int h : opt_.hidden) require(h >= 1, "hidden layer sizes must be >= 1 (got " + std::to_string(h) + ")");
    require(opt_.levels >= 2 && opt_.levels <= 255, "levels must be in 2..255 (got " + std::to_string(opt_.levels) + ")");
    require(opt_.ordinal_weight >= 0.0 && opt_.ordinal_weight <= 1.0,
            "ordinal_weight must be in [0, 1] (got " + std::to_string(opt_.ordinal_weight) + ")");
    require(opt_.reg >= 0.0 && opt_.init_scale >= 0.0,
            "reg and init_scale must be >= 0 (got " + std::to_string(opt_.reg) + ", " +
                std::to_string(opt_.init_scale) + ")");
    const Eigen::Index K = opt_.levels, H1 = opt_.hidden[0];
    W_ = layout_.add("input_weights", H1 * K, columns);
    c1_ = layout_.add("hidden_bias", H1, 1);
    if (two_layers()) {
      U_ = layout_.add("hidden2_weights", opt_.hidden[1], H1);
      c2_ = layout_.add("hidden2_bias", opt_.hidden[1], 1);
    }
    V_ = layout_.add("output_weights", top() * K, columns);
    b_ = layout_.add("output_bias", K, columns);
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] RowSide side() const noexcept { return side_; }
  [[nodiscard]] std::uint32_t num_columns() const noexcept { return columns_; }
  [[nodiscard]] bool two_layers() const noexcept { return opt_.hidden.size() == 2; }

  /// Overwrites θ: W, V (and U) uniform in ±init_scale·√(6/(fan_in + fan_out)) (W, V: columns and
  /// the layer; U: the two layers), biases 0.
  /// @throws std::invalid_argument on a wrong θ size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    check_size("initialize", theta.size());
    theta.setZero();
    auto fill = [&](const Block& blk, double fan) {
      const double bound = opt_.init_scale * std::sqrt(6.0 / fan);
      for (Eigen::Index k = 0; k < blk.size(); ++k) theta[blk.offset + k] = static_cast<S>(rng.uniform(-bound, bound));
    };
    fill(W_, static_cast<double>(columns_) + static_cast<double>(opt_.hidden[0]));
    if (two_layers()) fill(U_, static_cast<double>(opt_.hidden[0] + opt_.hidden[1]));
    fill(V_, static_cast<double>(columns_) + static_cast<double>(top()));
  }

  /// Sets the output biases so that an untrained model (h = 0) predicts each column's level
  /// frequencies among the batch's input rows (add-one smoothed): the cumulative sums s_k =
  /// Σ_{l≤k} b_j[l] are the log frequencies, as the authors initialise them.
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  void initialize_from_data(VectorRef<S> theta, const RowBatch& batch) const {
    check_size("initialize_from_data", theta.size());
    check_batch("initialize_from_data", batch);
    auto b = b_.map(theta);
    detail::column_log_frequencies<S>(batch, levels_, b);
    for (Eigen::Index j = 0; j < b.cols(); ++j)
      for (Eigen::Index k = b.rows() - 1; k >= 1; --k) b(k, j) -= b(k - 1, j);
  }

  /// Resets every column that no input or target row of `batch` touches (a new item for a user
  /// model) to what the model says when it knows nothing: W_j = 0, V_j = 0 and b_j such that
  /// s_k = the smoothed log frequency of level k among ALL the batch's input entries. Such a
  /// column is then predicted at the pooled rating distribution's mean (≈ the mean training
  /// rating) whatever the context, and a rating of it in a support set moves no hidden unit.
  /// Returns how many parameters changed.
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  std::size_t reset_untrained(VectorRef<S> theta, const RowBatch& batch) const {
    check_size("reset_untrained", theta.size());
    check_batch("reset_untrained", batch);
    return detail::reset_untouched_columns<S>(theta, batch, levels_, {W_, V_}, b_, true);
  }

  /// The loss of the batch (see the file comment); 0 for an empty batch.
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    check_size("loss", theta.size());
    check_batch("loss", batch);
    auto& w = work<S>();
    prepare(w, batch);
    detail::for_each_case(batch.size(), [&](std::size_t b) {
      w.cost[b] = case_pass<S, false>(ThetaParams{this, theta.data()}, batch, b, w);
    });
    return total_loss(theta, batch, w);
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their checks: inherited
  // from detail::SinkModelEntryPoints.

  /// One prediction per target row, example after example (OVERWRITTEN): Σ_k (k+1)·p(k | input).
  /// @throws std::invalid_argument on a wrong θ size, a wrong output size or an incompatible batch.
  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    check_predict(theta, out.size(), batch.num_targets());
    check_batch("predict", batch);
    auto& w = work<S>();
    prepare(w, batch);
    detail::for_each_case(batch.size(), [&](std::size_t b) {
      Scratch<S>& s = scratch<S>();
      const RowExample& ex = batch.examples[b];
      hidden_from(ThetaParams{this, theta.data()}, batch, ex.input, s);
      std::size_t t = w.target_offset[b];
      for (const RowIndex r : ex.target) {
        output_logits(ThetaParams{this, theta.data()}, batch.column(r), s);
        out[static_cast<Eigen::Index>(t++)] = expected_level(s.sc);
      }
    });
  }

  /// Every column's prediction for each example (`report::HasRowScores`): out (columns × examples)
  /// OVERWRITTEN. Targets are ignored.
  /// @throws std::invalid_argument on a wrong θ size, a wrong shape or an incompatible batch.
  void score_all(const ConstVectorRef<S>& theta, const Batch& batch, Eigen::Ref<Matrix<S>> out) const {
    check_size("score_all", theta.size());
    check_batch("score_all", batch);
    if (out.rows() != columns_ || out.cols() != static_cast<Eigen::Index>(batch.size()))
      throw std::invalid_argument(std::string(model_name) + "::score_all: out is " +
                                  std::to_string(out.rows()) + " x " + std::to_string(out.cols()) +
                                  ", expected " + std::to_string(columns_) + " x " +
                                  std::to_string(batch.size()) + " (columns x examples)");
    detail::for_each_case(batch.size(), [&](std::size_t b) {
      Scratch<S>& s = scratch<S>();
      hidden_from(ThetaParams{this, theta.data()}, batch, batch.examples[b].input, s);
      for (std::uint32_t j = 0; j < columns_; ++j) {
        output_logits(ThetaParams{this, theta.data()}, j, s);
        out(j, static_cast<Eigen::Index>(b)) = expected_level(s.sc);
      }
    });
  }

  /// Task-local segments (MAML): the hidden biases.
  void local_segments(const Batch& /*batch*/, std::vector<Segment>& out) const {
    out.push_back(c1_.segment());
    if (two_layers()) out.push_back(c2_.segment());
  }

 private:
  [[nodiscard]] Eigen::Index top() const noexcept { return opt_.hidden.back(); }
  [[nodiscard]] Eigen::Index K() const noexcept { return opt_.levels; }

  void check_batch(const char* what, const RowBatch& batch) const {
    detail::check_row_batch(model_name, what, batch, side_, columns_);
  }

  // --- parameter access: θ itself (T = S) or lifted duals (T = Dual<S>) --------------------------

  // Reads the parameters straight from θ.
  struct ThetaParams {
    const CfNade* m;
    const S* t;
    using T = S;
    [[nodiscard]] const S* W(std::uint32_t j, std::size_t /*slot*/) const noexcept {
      return t + m->W_.offset + static_cast<Eigen::Index>(j) * m->W_.rows;
    }
    [[nodiscard]] const S* V(std::uint32_t j, std::size_t /*slot*/) const noexcept {
      return t + m->V_.offset + static_cast<Eigen::Index>(j) * m->V_.rows;
    }
    [[nodiscard]] const S* b(std::uint32_t j, std::size_t /*slot*/) const noexcept {
      return t + m->b_.offset + static_cast<Eigen::Index>(j) * m->K();
    }
    [[nodiscard]] const S* c1() const noexcept { return t + m->c1_.offset; }
    [[nodiscard]] const S* U() const noexcept { return t + m->U_.offset; }
    [[nodiscard]] const S* c2() const noexcept { return t + m->c2_.offset; }
  };
  // Reads the parameters from duals (θ_k, v_k) lifted per case: the columns of the case's
  // context entries (slot = position among them), of its targets (slot = position among them)
  // and the shared blocks.
  struct DualParams {
    using T = Dual<S>;
    const Dual<S>* ctx_W;   // slot × W_.rows
    const Dual<S>* tgt_V;   // slot × V_.rows
    const Dual<S>* tgt_b;   // slot × K
    const Dual<S>* shared;  // c1, U, c2
    Eigen::Index wr, vr, k, u_off, c2_off;
    [[nodiscard]] const T* W(std::uint32_t, std::size_t slot) const noexcept { return ctx_W + static_cast<Eigen::Index>(slot) * wr; }
    [[nodiscard]] const T* V(std::uint32_t, std::size_t slot) const noexcept { return tgt_V + static_cast<Eigen::Index>(slot) * vr; }
    [[nodiscard]] const T* b(std::uint32_t, std::size_t slot) const noexcept { return tgt_b + static_cast<Eigen::Index>(slot) * k; }
    [[nodiscard]] const T* c1() const noexcept { return shared; }
    [[nodiscard]] const T* U() const noexcept { return shared + u_off; }
    [[nodiscard]] const T* c2() const noexcept { return shared + c2_off; }
  };

  // --- per-thread scratch and per-batch records ------------------------------------------------

  template <class T>
  struct Scratch {
    Vector<T> a1, h1, a2, h2, gh, g1, g2;  // pre-activations, activations, backward deltas
    Vector<T> u, sc, gs, gu, pre, suf;     // per target: level terms, cumulative scores, gradients
    std::vector<std::uint32_t> order;      // the case's ordering of its entries
    std::vector<Dual<S>> lift_W, lift_V, lift_b;  // lifted columns (HVP only)
  };
  template <class T>
  struct BatchWork {
    std::vector<std::size_t> entry_offset, target_offset;  // B + 1 each
    std::vector<std::uint32_t> order;  // every case's ordering, case after case
    std::vector<std::size_t> split;    // per case: the context size d
    std::vector<double> cost;          // per case: J_case (without penalties)
    Matrix<T> g1, h, g2, h1;           // per case: ∂J/∂a₁, top activation, ∂J/∂a₂, h₁ (two layers)
    Matrix<T> gu;                      // per target: ∂J/∂u (K), target after target
    std::vector<Dual<S>> shared;       // lifted c1, U, c2 (HVP only)
  };
  template <class T>
  static Scratch<T>& scratch() {
    thread_local Scratch<T> s;
    return s;
  }
  template <class T>
  static BatchWork<T>& work() {
    thread_local BatchWork<T> w;
    return w;
  }

  // Offsets of the batch's entries and targets; the orderings and splits of its training cases
  // (drawn from each case's stream: a permutation of 0..n−1, then d ~ U{0..n−1}).
  template <class T>
  void prepare(BatchWork<T>& w, const RowBatch& batch) const {
    const std::size_t B = batch.size();
    w.entry_offset.assign(B + 1, 0);
    w.target_offset.assign(B + 1, 0);
    w.split.resize(B);
    w.cost.resize(B);
    for (std::size_t b = 0; b < B; ++b) {
      const RowExample& ex = batch.examples[b];
      w.entry_offset[b + 1] = w.entry_offset[b] + ex.input.size();
      w.target_offset[b + 1] = w.target_offset[b] + ex.target.size();
    }
    if (w.order.size() < w.entry_offset[B]) w.order.resize(w.entry_offset[B]);
    for (std::size_t b = 0; b < B; ++b) {
      const RowExample& ex = batch.examples[b];
      const std::size_t n = ex.input.size();
      const std::span<std::uint32_t> ord(w.order.data() + w.entry_offset[b], n);
      std::iota(ord.begin(), ord.end(), 0u);
      if (detail::is_conditional(ex) || n == 0) {
        w.split[b] = n;
        continue;
      }
      Rng rng = detail::case_rng(batch.seed, b);
      rng.shuffle(ord);
      w.split[b] = static_cast<std::size_t>(rng.below(n));
    }
  }

  // --- the forward pass ------------------------------------------------------------------------

  // s.a1/h1 (and a2/h2) from the context rows `ctx` (slot = position in ctx).
  template <class P, class Rows>
  void hidden_from(const P& p, const RowBatch& batch, const Rows& ctx, Scratch<typename P::T>& s) const {
    using T = typename P::T;
    const Eigen::Index H1 = opt_.hidden[0];
    s.a1 = Eigen::Map<const Vector<T>>(p.c1(), H1);
    std::size_t slot = 0;
    for (const RowIndex r : ctx) {
      const int lv = levels_.level_of(batch.data->rating(r));
      const T* Wj = p.W(batch.column(r), slot++);
      for (int l = 0; l <= lv; ++l) s.a1 += Eigen::Map<const Vector<T>>(Wj + l * H1, H1);
    }
    s.h1 = s.a1.unaryExpr([](const T& x) { using std::tanh; return T(tanh(x)); });
    if (two_layers()) {
      const Eigen::Index H2 = opt_.hidden[1];
      s.a2 = Eigen::Map<const Vector<T>>(p.c2(), H2);
      s.a2.noalias() += Eigen::Map<const Matrix<T>>(p.U(), H2, H1) * s.h1;
      s.h2 = s.a2.unaryExpr([](const T& x) { using std::tanh; return T(tanh(x)); });
    }
  }
  template <class T>
  [[nodiscard]] const Vector<T>& top_of(const Scratch<T>& s) const noexcept {
    return two_layers() ? s.h2 : s.h1;
  }

  // s.sc = the cumulative scores s_k of column j (slot: its position among the case's targets).
  template <class P>
  void output_logits(const P& p, std::uint32_t j, Scratch<typename P::T>& s, std::size_t slot = 0) const {
    using T = typename P::T;
    const Eigen::Index Ht = top();
    s.u.noalias() = Eigen::Map<const Matrix<T>>(p.V(j, slot), Ht, K()).transpose() * top_of(s);
    s.u += Eigen::Map<const Vector<T>>(p.b(j, slot), K());
    s.sc.resize(K());
    T acc = T(0);
    for (Eigen::Index k = 0; k < K(); ++k) s.sc[k] = acc += s.u[k];
  }

  // Σ_k (k+1)·softmax(s)_k.
  [[nodiscard]] S expected_level(const Vector<S>& sc) const noexcept {
    const S top = sc.maxCoeff();
    S z = S(0), m = S(0);
    for (Eigen::Index k = 0; k < sc.size(); ++k) {
      const S e = std::exp(sc[k] - top);
      z += e;
      m += e * static_cast<S>(k + 1);
    }
    return m / z;
  }

  // log Σ_{k ∈ [lo, hi]} exp(s_k).
  template <class T>
  static T lse(const Vector<T>& sc, Eigen::Index lo, Eigen::Index hi) {
    using std::exp;
    using std::log;
    T top = sc[lo];
    for (Eigen::Index k = lo + 1; k <= hi; ++k) top = sc[k] > top ? sc[k] : top;
    T z = T(0);
    for (Eigen::Index k = lo; k <= hi; ++k) z += exp(sc[k] - top);
    return top + log(z);
  }

  // The cost of one target of level r from s.sc; with `grad`, s.gs = ∂cost/∂s (unscaled).
  template <class T, bool Grad>
  T target_cost(Scratch<T>& s, Eigen::Index r) const {
    using std::exp;
    const Eigen::Index K = this->K();
    const T lam = T(static_cast<S>(opt_.ordinal_weight));
    const T reg_w = T(static_cast<S>(1.0 - opt_.ordinal_weight));
    s.pre.resize(K);
    s.suf.resize(K);
    for (Eigen::Index k = 0; k < K; ++k) {
      s.pre[k] = lse(s.sc, 0, k);
      s.suf[k] = lse(s.sc, k, K - 1);
    }
    // C_reg = LSE(all) − s_r; C_ord = Σ_{k≤r} (pre_k − s_k) + Σ_{k≥r} (suf_k − s_k)
    T c_ord = T(0);
    for (Eigen::Index k = 0; k <= r; ++k) c_ord += s.pre[k] - s.sc[k];
    for (Eigen::Index k = r; k < K; ++k) c_ord += s.suf[k] - s.sc[k];
    const T cost = reg_w * (s.pre[K - 1] - s.sc[r]) + lam * c_ord;
    if constexpr (Grad) {
      s.gs.resize(K);
      for (Eigen::Index m = 0; m < K; ++m) {
        T g = reg_w * (exp(s.sc[m] - s.pre[K - 1]) - T(m == r ? S(1) : S(0)));
        T o = T(0);
        if (m <= r) {
          for (Eigen::Index k = m; k <= r; ++k) o += exp(s.sc[m] - s.pre[k]);
          o -= T(S(1));
        }
        if (m >= r) {
          for (Eigen::Index k = r; k <= m; ++k) o += exp(s.sc[m] - s.suf[k]);
          o -= T(S(1));
        }
        s.gs[m] = g + lam * o;
      }
    }
    return cost;
  }

  // One case: the forward pass and (Grad) the backward pass into the batch records. Returns J_case
  // (penalties excluded) as a double (the value part for duals).
  template <class T, bool Grad, class P>
  double case_pass(const P& p, const RowBatch& batch, std::size_t b, BatchWork<T>& w) const {
    Scratch<T>& s = scratch<T>();
    const RowExample& ex = batch.examples[b];
    const bool cond = detail::is_conditional(ex);
    const std::uint32_t* ord = w.order.data() + w.entry_offset[b];
    const std::size_t n = ex.input.size(), d = w.split[b];
    // context rows: the whole input (conditional) or the first d of the ordering
    struct Ctx {
      const RowExample* ex;
      const std::uint32_t* ord;
      std::size_t d;
      struct It {
        const Ctx* c;
        std::size_t k;
        RowIndex operator*() const noexcept { return c->ex->input[c->ord[k]]; }
        It& operator++() noexcept { return ++k, *this; }
        bool operator!=(const It& o) const noexcept { return k != o.k; }
      };
      [[nodiscard]] It begin() const noexcept { return {this, 0}; }
      [[nodiscard]] It end() const noexcept { return {this, d}; }
    } ctx{&ex, ord, cond ? n : d};
    hidden_from(p, batch, ctx, s);
    const std::size_t n_targets = cond ? ex.target.size() : n - d;
    const S scale = cond || n_targets == 0 ? S(1) : static_cast<S>(n) / static_cast<S>(n_targets);
    const Eigen::Index Ht = top();
    if constexpr (Grad) s.gh = Vector<T>::Zero(Ht);
    T total = T(0);
    for (std::size_t t = 0; t < n_targets; ++t) {
      const RowIndex r = cond ? ex.target[t] : ex.input[ord[d + t]];
      const std::uint32_t j = batch.column(r);
      output_logits(p, j, s, t);
      total += target_cost<T, Grad>(s, levels_.level_of(batch.data->rating(r)));
      if constexpr (Grad) {
        auto gu = w.gu.col(static_cast<Eigen::Index>(w.target_offset[b] + t));
        T acc = T(0);
        for (Eigen::Index k = K() - 1; k >= 0; --k) gu[k] = (acc += s.gs[k] * T(scale));
        s.gh.noalias() += Eigen::Map<const Matrix<T>>(p.V(j, t), Ht, K()) * gu;
      }
    }
    if constexpr (Grad) {
      const auto bi = static_cast<Eigen::Index>(b);
      w.h.col(bi).head(Ht) = top_of(s);
      auto dtanh = [](const T& h) { return T(S(1)) - h * h; };
      if (two_layers()) {
        const Eigen::Index H1 = opt_.hidden[0], H2 = opt_.hidden[1];
        w.g2.col(bi) = s.gh.cwiseProduct(s.h2.unaryExpr(dtanh));
        w.h1.col(bi) = s.h1;
        s.g1.noalias() = Eigen::Map<const Matrix<T>>(p.U(), H2, H1).transpose() * w.g2.col(bi);
        w.g1.col(bi) = s.g1.cwiseProduct(s.h1.unaryExpr(dtanh));
      } else {
        w.g1.col(bi) = s.gh.cwiseProduct(s.h1.unaryExpr(dtanh));
      }
    }
    return static_cast<double>(value_of(total)) * static_cast<double>(scale);
  }

  // (1/B) Σ J_case + the penalties (values from θ).
  template <class T>
  S total_loss(const ConstVectorRef<S>& theta, const RowBatch& batch, const BatchWork<T>& w) const {
    const std::size_t B = batch.size();
    if (B == 0) return S(0);
    double total = 0.0;
    for (std::size_t b = 0; b < B; ++b) total += w.cost[b];
    double pen = 0.0;
    if (opt_.reg > 0.0) {
      for (const RowExample& ex : batch.examples) {
        auto add = [&](RowIndex r) {
          const std::uint32_t j = batch.column(r);
          pen += static_cast<double>(W_.template map<S>(theta).col(j).squaredNorm() +
                                     V_.template map<S>(theta).col(j).squaredNorm());
        };
        for (const RowIndex r : ex.input) add(r);
        if (detail::is_conditional(ex))
          for (const RowIndex r : ex.target) add(r);
      }
      pen *= opt_.reg;
    }
    double u_pen = 0.0;
    if (two_layers() && opt_.reg > 0.0) u_pen = opt_.reg * static_cast<double>(U_.template map<S>(theta).squaredNorm());
    return static_cast<S>((total + pen) / static_cast<double>(B) + u_pen);
  }

  // --- accumulation of the records into a sink (in case order) ---------------------------------

  // out[0..n) += the S part of coef·x[i]: its value (gradient) or its tangent (H·v).
  template <class T>
  static void axpy_part(S* out, const T& coef, const T* x, Eigen::Index n) noexcept {
    if constexpr (std::is_same_v<T, S>) {
      Eigen::Map<Vector<S>>(out, n) += coef * Eigen::Map<const Vector<S>>(x, n);
    } else {
      for (Eigen::Index i = 0; i < n; ++i) out[i] += (coef * x[i]).tangent();
    }
  }

  // Accumulates the records of every case of the batch (and the penalties, read from `pen`: θ for
  // the gradient, v for H·v) into the sink: the segments recorded first, then the columns in
  // parallel stripes (each column's terms in case order: the same result for any thread count).
  template <class T, class Sink>
  void accumulate(const ConstVectorRef<S>& pen, const RowBatch& batch, const BatchWork<T>& w, Sink& sink) const {
    accumulate_stripe(pen, batch, w, detail::Stripe{.touch = true}, sink);
    if constexpr (std::is_same_v<T, S>)
      detail::for_each_stripe([&](const detail::Stripe stripe) { accumulate_stripe(pen, batch, w, stripe, sink); });
    else
      accumulate_stripe(pen, batch, w, detail::Stripe{}, sink);
  }

  template <class T, class Sink>
  void accumulate_stripe(const ConstVectorRef<S>& pen, const RowBatch& batch, const BatchWork<T>& w,
                         const detail::Stripe stripe, Sink& sink) const {
    const std::size_t B = batch.size();
    const T inv_b = T(S(1) / static_cast<S>(B));
    const Eigen::Index H1 = opt_.hidden[0], Ht = top(), Kk = K();
    const S two_reg = static_cast<S>(2.0 * opt_.reg) / static_cast<S>(B);
    S* gc1 = sink.segment(c1_.segment()).data();
    S* gU = two_layers() ? sink.segment(U_.segment()).data() : nullptr;
    S* gc2 = two_layers() ? sink.segment(c2_.segment()).data() : nullptr;
    for (std::size_t b = 0; b < B; ++b) {
      const auto bi = static_cast<Eigen::Index>(b);
      const RowExample& ex = batch.examples[b];
      const bool cond = detail::is_conditional(ex);
      const std::uint32_t* ord = w.order.data() + w.entry_offset[b];
      const std::size_t n = ex.input.size(), d = w.split[b];
      const std::size_t n_ctx = cond ? n : d;
      const T* g1 = w.g1.col(bi).data();
      if (stripe.owns_shared()) {
        axpy_part(gc1, inv_b, g1, H1);
        if (two_layers()) {
          const Eigen::Index H2 = opt_.hidden[1];
          const T* g2 = w.g2.col(bi).data();
          const T* h1 = w.h1.col(bi).data();
          for (Eigen::Index q = 0; q < H1; ++q) axpy_part(gU + q * H2, h1[q] * inv_b, g2, H2);
          axpy_part(gc2, inv_b, g2, H2);
        }
      }
      for (std::size_t e = 0; e < n_ctx; ++e) {
        const RowIndex r = ex.input[cond ? e : ord[e]];
        const std::uint32_t j = batch.column(r);
        if (!stripe.owns(j)) continue;
        S* gW = sink.segment(W_.column(j)).data();
        if (stripe.touch) continue;
        const int lv = levels_.level_of(batch.data->rating(r));
        for (int l = 0; l <= lv; ++l) axpy_part(gW + l * H1, inv_b, g1, H1);
      }
      const std::size_t n_targets = cond ? ex.target.size() : n - d;
      const T* h = w.h.col(bi).data();
      for (std::size_t t = 0; t < n_targets; ++t) {
        const RowIndex r = cond ? ex.target[t] : ex.input[ord[d + t]];
        const std::uint32_t j = batch.column(r);
        if (!stripe.owns(j)) continue;
        S* gV = sink.segment(V_.column(j)).data();
        S* gb = sink.segment(b_.column(j)).data();
        if (stripe.touch) continue;
        const T* gu = w.gu.col(static_cast<Eigen::Index>(w.target_offset[b] + t)).data();
        for (Eigen::Index l = 0; l < Kk; ++l) {
          axpy_part(gV + l * Ht, gu[l] * inv_b, h, Ht);
          axpy_part(gb + l, inv_b, gu + l, 1);
        }
      }
      if (opt_.reg > 0.0) {
        auto add = [&](RowIndex r) {
          const std::uint32_t j = batch.column(r);
          if (!stripe.owns(j)) return;
          auto gW = sink.segment(W_.column(j));
          auto gV = sink.segment(V_.column(j));
          if (stripe.touch) return;
          gW += two_reg * pen.segment(W_.column(j).offset, W_.rows);
          gV += two_reg * pen.segment(V_.column(j).offset, V_.rows);
        };
        for (const RowIndex r : ex.input) add(r);
        if (cond)
          for (const RowIndex r : ex.target) add(r);
      }
    }
    if (two_layers() && opt_.reg > 0.0 && stripe.owns_shared())
      Eigen::Map<Vector<S>>(gU, U_.size()) += static_cast<S>(2.0 * opt_.reg) * pen.segment(U_.offset, U_.size());
  }

  template <class T>
  void size_records(BatchWork<T>& w, const RowBatch& batch) const {
    const auto B = static_cast<Eigen::Index>(batch.size());
    detail::grow_columns(w.g1, opt_.hidden[0], B);
    detail::grow_columns(w.h, top(), B);
    if (two_layers()) {
      detail::grow_columns(w.g2, opt_.hidden[1], B);
      detail::grow_columns(w.h1, opt_.hidden[0], B);
    }
    detail::grow_columns(w.gu, K(), static_cast<Eigen::Index>(w.target_offset[batch.size()]));
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const Batch& batch, Sink& sink) const {
    if (batch.examples.empty()) return S(0);
    check_batch("loss_and_gradient", batch);
    auto& w = work<S>();
    prepare(w, batch);
    size_records(w, batch);
    detail::for_each_case(batch.size(), [&](std::size_t b) {
      w.cost[b] = case_pass<S, true>(ThetaParams{this, theta.data()}, batch, b, w);
    });
    accumulate(theta, batch, w, sink);
    return total_loss(theta, batch, w);
  }

  // H·v: the gradient code run on duals (θ, v) lifted per case; the tangents are H·v.
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const Batch& batch, const ConstVectorRef<S>& v,
                Sink& sink) const {
    if (batch.examples.empty()) return;
    check_batch("hessian_vector_product", batch);
    using D = Dual<S>;
    auto& w = work<D>();
    prepare(w, batch);
    size_records(w, batch);
    // shared blocks: c1, then U and c2
    const Eigen::Index u_off = c1_.size(), c2_off = u_off + (two_layers() ? U_.size() : 0);
    w.shared.resize(static_cast<std::size_t>(c2_off + (two_layers() ? c2_.size() : 0)));
    auto lift = [&](const Block& blk, Eigen::Index at) {
      for (Eigen::Index k = 0; k < blk.size(); ++k)
        w.shared[static_cast<std::size_t>(at + k)] = D(theta[blk.offset + k], v[blk.offset + k]);
    };
    lift(c1_, 0);
    if (two_layers()) {
      lift(U_, u_off);
      lift(c2_, c2_off);
    }
    for (std::size_t b = 0; b < batch.size(); ++b) {  // single-threaded: lifts per case
      Scratch<D>& s = scratch<D>();
      const RowExample& ex = batch.examples[b];
      const bool cond = detail::is_conditional(ex);
      const std::uint32_t* ord = w.order.data() + w.entry_offset[b];
      const std::size_t n = ex.input.size(), d = w.split[b];
      const std::size_t n_ctx = cond ? n : d, n_targets = cond ? ex.target.size() : n - d;
      auto lift_cols = [&](std::vector<D>& out, const Block& blk, Eigen::Index rows, std::size_t count, auto row_of) {
        out.resize(static_cast<std::size_t>(rows) * count);
        for (std::size_t k = 0; k < count; ++k) {
          const Eigen::Index off = blk.offset + static_cast<Eigen::Index>(batch.column(row_of(k))) * rows;
          for (Eigen::Index q = 0; q < rows; ++q)
            out[k * static_cast<std::size_t>(rows) + static_cast<std::size_t>(q)] = D(theta[off + q], v[off + q]);
        }
      };
      auto ctx_row = [&](std::size_t k) { return ex.input[cond ? k : ord[k]]; };
      auto tgt_row = [&](std::size_t k) { return cond ? ex.target[k] : ex.input[ord[d + k]]; };
      lift_cols(s.lift_W, W_, W_.rows, n_ctx, ctx_row);
      lift_cols(s.lift_V, V_, V_.rows, n_targets, tgt_row);
      lift_cols(s.lift_b, b_, K(), n_targets, tgt_row);
      const DualParams p{s.lift_W.data(), s.lift_V.data(), s.lift_b.data(), w.shared.data(),
                         W_.rows, V_.rows, K(), u_off, c2_off};
      w.cost[b] = case_pass<D, true>(p, batch, b, w);
    }
    accumulate(v, batch, w, sink);
  }

  Options opt_;
  RowSide side_;
  std::uint32_t columns_;
  detail::RatingLevels levels_;
  Block W_, c1_, U_, c2_, V_, b_;
};

}  // namespace metarec
