#pragma once
/// @file rbm_base.hpp
/// @brief What the RBMs of metarec share: `RbmBase`, the `Model` members around a per-case CD-k
/// kernel (cases in parallel with one random stream each, statistics reduced in case order:
/// bitwise the same result for any thread count; the case loop is in case_loop.hpp), and
/// `SoftmaxRbm`, the CRTP base of the softmax RBMs for rating data (`RbmCf`, `ExplainableRbm`).
/// The Bernoulli RBM (bernoulli_rbm.hpp) derives from `RbmBase` too.
///
/// **Softmax RBM** (Salakhutdinov, Mnih & Hinton, ICML 2007). A case (a user, or an item for the
/// item-based model) has one softmax visible unit with K levels per RATED entry — no unit for a
/// missing rating — and F binary hidden units; the weights W_j (F × K) and visible biases b_j (K)
/// of column j are shared by every case that rated j, the hidden biases c (F) by all. Energy of a
/// case with visible set V (v_j one-hot at level k_j) and hidden h:
///
///     E(v, h) = − Σ_{j∈V} (b_j[k_j] + W_j[:, k_j]ᵀ h) − cᵀ h − aᶜᵀ h
///
/// (aᶜ: an optional conditional input to the hidden units, the explainable RBM's). Its conditionals
/// are the paper's: p(h = 1 | v) = σ(c + aᶜ + Σ_j W_j[:, k_j]) and p(v_j = k | h) =
/// softmax_k(b_j + W_jᵀ h). (The paper also writes a term Σ_j log Z_j(h) into E; with it p(h | v)
/// would not factorise into the sigmoids it states, so we use the energy whose conditionals are
/// the ones it uses.) Free energy: F(v) = − Σ_j b_j[k_j] − Σ_f softplus(c + aᶜ + Σ_j W_j[:, k_j])_f.
///
/// **Cases with conditioning.** A `RowExample` whose input and target are the same rows (training,
/// a MAML support batch) is one case whose units are all free. When they differ (a MAML query
/// batch: input = support, target = query; fold-in evaluation: input = training, target =
/// held-out rows) the case's visible set is input ∪ target, the INPUT units are clamped and only
/// the target units are sampled: the direction then estimates the gradient of log p(v_target |
/// v_input), the quantity FOMAML's query step should follow. Input and target rows must then be
/// disjoint.
///
/// **Direction (CD-k).** Per case: h⁰ = p(h | v⁰); h ~ Bernoulli(h⁰); k times {sample the free
/// units from p(v | h), hᵗ = p(h | vᵗ), and, but for the last step, h ~ Bernoulli(hᵗ)} (with
/// `mean_field_negative`, the last visible step takes p(v | h) itself instead of a sample: the
/// common lower-variance variant, whose expectation is no longer the CD-k statistic's). The
/// "gradient" written is the DESCENT direction −(⟨v h⟩_data − ⟨v h⟩_k) / B (hidden probabilities
/// on both sides, sampled levels on the model side) for W, b and c, plus `weight_decay`·W_j once
/// for every column j the batch touches; it is not the derivative of `loss` (`exact_gradient =
/// false`). Cost per Gibbs step: (rated entries) × K × F for the visible side, (entries) × F for
/// the hidden side.
///
/// **Loss** (what `fit` reports and early stopping and MAML's query loss read): the mean squared
/// error of the prediction of every target entry from the case's INPUT entries (for a training
/// case: the reconstruction error of its own ratings), in rating units (levels 1..K), or in 0/1
/// units for the like/dislike variant.
///
/// **Prediction.** p̂ = p(h = 1 | input), then p(v_j = k) = softmax_k(b_j + W_jᵀ p̂) (mean field,
/// the paper's fast prediction) or the exact marginal p(v_j = k | input) ∝ exp(b_j[k]) Π_f (1 +
/// exp(a_f + W_j[f, k])) (`RbmPrediction::exact`, same cost up to the softplus). The prediction is
/// the expected value Σ_k value_k p_k, inside [value_1, value_K].

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
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// How a softmax RBM predicts a rating (see rbm_base.hpp).
enum class RbmPrediction : std::uint8_t {
  mean_field,  ///< softmax(b_j + W_jᵀ p(h | input)): the paper's fast prediction
  exact,       ///< the exact marginal p(v_j | input), hidden units summed out
};

/// Options of the softmax RBMs (`RbmCf`, and `ExplainableRbm` through `ExplainableRbmOptions`).
struct SoftmaxRbmOptions {
  int hidden = 100;               ///< F binary hidden units
  int cd_steps = 1;               ///< k of CD-k (Gibbs steps per direction)
  int levels = 5;                 ///< K softmax levels: rating r is level round(r) − 1, clamped to 0..K−1
  float like_threshold = 0.0f;    ///< > 0: two levels instead, like (r >= threshold) / dislike; predictions are p(like)
  double weight_decay = 0.001;    ///< λ: the direction gets λ·W_j once per touched column j (W only)
  double init_std = 0.01;         ///< W starts N(0, init_std²); biases start at 0
  RbmPrediction prediction = RbmPrediction::mean_field;
  bool mean_field_negative = false;  ///< the chain's last visible step uses p(v | h), not a sample (lower variance, biased)
};

namespace detail {

/// out = σ(a), element-wise (stable for large |a|).
template <class A, class O>
void sigmoid_into(const A& a, O& out) noexcept {
  for (Eigen::Index f = 0; f < a.size(); ++f) out[f] = sigmoid(a[f]);
}

/// h_f ← 1 with probability p_f, else 0 (one uniform per unit, in order).
template <class S, class P, class H>
void sample_bernoulli(const P& p, H& h, Rng& rng) noexcept {
  for (Eigen::Index f = 0; f < p.size(); ++f) h[f] = rng.uniform() < static_cast<double>(p[f]) ? S(1) : S(0);
}

/// CRTP base of every RBM of the family (`SoftmaxRbm`, `BernoulliRbm`): the `Model` members
/// around a per-case kernel. It gives `loss`, `predict`, `score_all`, `loss_and_gradient` (dense
/// and sparse, through `SinkModelEntryPoints`), the local segments (the hidden biases c), the
/// deleted Hessian-vector product and the batch checks; the CD-k direction runs `Derived::cd_case`
/// on every case in parallel, then `Derived::reduce_case` on every case in order.
///
/// `Derived` provides `model_name`, `struct Records` (what its chains leave for the reduction,
/// with `void reserve(std::size_t entries)`), `std::size_t entries_of(const RowExample&)` (the
/// case's share of the records) and, all const:
/// - `double case_predict(θ, batch, b, S* out, bool for_loss)`: the targets of example b predicted
///   from its inputs (written to out when not null), returns their squared error (`for_loss`: the
///   prediction the loss uses);
/// - `void case_scores(θ, batch, b, S* out)`: every column's prediction (num_columns values);
/// - `double cd_case(θ, batch, b, Work&)`: CD-k on case b: h⁰ and hᵏ into the work's columns b,
///   its records; returns the loss's squared error of its targets;
/// - `template <class Sink> void reduce_case(θ, batch, b, Work&, S scale, const Vector<S>& coeff,
///   Stripe, Sink&)`: adds the case's share of the direction (scale = 1/B, coeff = −(h⁰ − hᵏ)/B) for
///   the columns the stripe owns into the sink (a touch stripe only looks the segments up), calling
///   `decay` for each W column; the base adds the hidden biases' share.
template <class Derived, class S>
class RbmBase : public LayoutModel<Derived, S, RowBatch> {
  using Base = LayoutModel<Derived, S, RowBatch>;
  friend Base;

 public:
  using Scalar = S;
  using Batch = RowBatch;
  using Base::layout, Base::num_parameters;
  /// The CD-k direction is not the derivative of `loss`: no second-order MAML or Meta-SGD.
  static constexpr bool exact_gradient = false;

  /// CD-k has no Hessian: deleted, so that `HasHessianVectorProduct` is false and `Maml` refuses
  /// second-order MAML and Meta-SGD with its message.
  template <class... A>
  void hessian_vector_product(A&&...) const = delete;

  [[nodiscard]] RowSide side() const noexcept { return side_; }
  /// Number of columns (visible positions): items for user cases, users for item cases.
  [[nodiscard]] std::uint32_t num_columns() const noexcept { return columns_; }
  /// Number of hidden units F.
  [[nodiscard]] Eigen::Index num_hidden() const noexcept { return c_.rows; }
  /// The hidden biases c (F), a block of θ.
  [[nodiscard]] const Block& hidden_bias() const noexcept { return c_; }

  /// Mean squared error of the targets predicted (mean field) from the inputs (see the file
  /// comment); 0 for a batch without targets.
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    this->check_size("loss", theta.size());
    check_batch("loss", batch);
    Work& w = self().batch_work(batch);
    for_each_case(batch.size(), [&](std::size_t b) { w.sse[b] = self().case_predict(theta, batch, b, nullptr, true); });
    return mean_error(batch, w);
  }

  /// One prediction per target row, example after example (OVERWRITTEN), from the example's input
  /// rows.
  /// @throws std::invalid_argument on a wrong θ size, a wrong output size or an incompatible batch.
  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.num_targets());
    check_batch("predict", batch);
    Work& w = self().batch_work(batch);
    for_each_case(batch.size(), [&](std::size_t b) {
      (void)self().case_predict(theta, batch, b, out.data() + w.target_offset[b], false);
    });
  }

  /// Every column's prediction for each example, from its input rows (`report::HasRowScores`):
  /// out (columns × examples) OVERWRITTEN. Targets are ignored.
  /// @throws std::invalid_argument on a wrong θ size, a wrong output shape or an incompatible batch.
  void score_all(const ConstVectorRef<S>& theta, const Batch& batch, Eigen::Ref<Matrix<S>> out) const {
    this->check_size("score_all", theta.size());
    check_batch("score_all", batch);
    if (out.rows() != columns_ || out.cols() != static_cast<Eigen::Index>(batch.size()))
      throw std::invalid_argument(std::string(Derived::model_name) + "::score_all: out is " +
                                  std::to_string(out.rows()) + " x " + std::to_string(out.cols()) +
                                  ", expected " + std::to_string(columns_) + " x " +
                                  std::to_string(batch.size()) + " (columns x examples)");
    for_each_case(batch.size(), [&](std::size_t b) {
      self().case_scores(theta, batch, b, out.col(static_cast<Eigen::Index>(b)).data());
    });
  }

  /// Task-local segments (MAML): the hidden biases c.
  void local_segments(const Batch& /*batch*/, std::vector<Segment>& out) const { out.push_back(c_.segment()); }

 protected:
  using Base::layout_;

  RbmBase(std::uint32_t columns, RowSide side, int hidden, int cd_steps, double weight_decay, double init_std)
      : side_(side), columns_(columns), cd_steps_(cd_steps), decay_(weight_decay) {
    Base::require(hidden >= 1, "hidden must be >= 1 (got " + std::to_string(hidden) + ")");
    Base::require(cd_steps >= 1, "cd_steps must be >= 1 (got " + std::to_string(cd_steps) + ")");
    Base::require(columns >= 1, "the rows have no columns (0 " +
                                    std::string(side == RowSide::user ? "items" : "users") + ")");
    Base::require(weight_decay >= 0.0 && init_std >= 0.0,
                  "weight_decay and init_std must be >= 0 (got " + std::to_string(weight_decay) +
                      ", " + std::to_string(init_std) + ")");
  }
  /// Adds the hidden biases (Derived calls it after its visible blocks).
  void add_hidden_bias(Eigen::Index hidden) { c_ = layout_.add("hidden_bias", hidden, 1); }

  // What a batch's chains leave for the reduction, per calling thread, grow-only.
  template <class D>
  struct WorkOf : D::Records {
    Matrix<S> h0, hk;                        // F × B: p(h | data), p(h | k-th visible state)
    std::vector<std::size_t> entry_offset;   // B + 1: each case's share of the records
    std::vector<std::size_t> target_offset;  // B + 1
    std::vector<double> sse;                 // per case: squared error of its targets
    std::vector<std::uint32_t> stamp;        // per column: the last batch that decayed it
    std::uint32_t generation = 0;
    Vector<S> coeff;                         // F zeros: the touch pass's coefficient
  };
  using Work = WorkOf<Derived>;

  void check_batch(const char* what, const RowBatch& batch) const {
    check_row_batch(Derived::model_name, what, batch, side_, columns_);
  }
  [[nodiscard]] const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
  [[nodiscard]] int cd_steps() const noexcept { return cd_steps_; }

  /// The weight decay of W column j (the segment `gW` of the sink), once per batch.
  template <class G>
  void decay(const ConstVectorRef<S>& theta, const Block& W, std::uint32_t j, G&& gW, Work& w) const {
    if (w.stamp[j] == w.generation) return;
    w.stamp[j] = w.generation;
    gW += static_cast<S>(decay_) * Eigen::Map<const Vector<S>>(theta.data() + W.offset + static_cast<Eigen::Index>(j) * W.rows, W.rows);
  }

  /// Sizes the calling thread's work and the entry / target offsets of the batch.
  Work& batch_work(const RowBatch& batch) const {
    thread_local Work w;
    const std::size_t B = batch.size();
    w.entry_offset.resize(B + 1);
    w.target_offset.resize(B + 1);
    w.sse.resize(B);
    w.entry_offset[0] = w.target_offset[0] = 0;
    for (std::size_t b = 0; b < B; ++b) {
      w.entry_offset[b + 1] = w.entry_offset[b] + self().entries_of(batch.examples[b]);
      w.target_offset[b + 1] = w.target_offset[b] + batch.examples[b].target.size();
    }
    return w;
  }

 private:
  // −(h⁰ − hᵏ)/B of the case a stripe is reducing (per thread).
  static Vector<S>& stripe_coeff() {
    thread_local Vector<S> coeff;
    return coeff;
  }

  [[nodiscard]] static S mean_error(const RowBatch& batch, const Work& w) {
    double sse = 0.0;
    for (std::size_t b = 0; b < batch.size(); ++b) sse += w.sse[b];
    const std::size_t n = w.target_offset[batch.size()];
    return n == 0 ? S(0) : static_cast<S>(sse / static_cast<double>(n));
  }

  // The CD-k direction: the chains in parallel, then the statistics reduced in case order.
  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const Batch& batch, Sink& sink) const {
    const std::size_t B = batch.size();
    if (B == 0) return S(0);
    check_batch("loss_and_gradient", batch);
    Work& w = self().batch_work(batch);
    grow_columns(w.h0, c_.rows, static_cast<Eigen::Index>(B));
    grow_columns(w.hk, c_.rows, static_cast<Eigen::Index>(B));
    w.coeff = Vector<S>::Zero(c_.rows);
    w.reserve(w.entry_offset[B]);
    for_each_case(B, [&](std::size_t b) { w.sse[b] = self().cd_case(theta, batch, b, w); });
    if (w.stamp.size() < columns_) w.stamp.assign(columns_, 0u);
    if (++w.generation == 0) {
      std::fill(w.stamp.begin(), w.stamp.end(), 0u);
      w.generation = 1;
    }
    const S scale = S(1) / static_cast<S>(B);
    auto gc = sink.segment(c_.segment());
    for (std::size_t b = 0; b < B; ++b) self().reduce_case(theta, batch, b, w, scale, w.coeff, Stripe{.touch = true}, sink);
    for_each_stripe([&](const Stripe stripe) {
      Vector<S>& coeff = stripe_coeff();
      coeff.resize(c_.rows);
      for (std::size_t b = 0; b < B; ++b) {
        coeff = scale * (w.hk.col(static_cast<Eigen::Index>(b)) - w.h0.col(static_cast<Eigen::Index>(b)));
        if (stripe.owns_shared()) gc += coeff;
        self().reduce_case(theta, batch, b, w, scale, coeff, stripe, sink);
      }
    });
    return mean_error(batch, w);
  }

  RowSide side_;
  std::uint32_t columns_;
  int cd_steps_;
  double decay_;
  Block c_;
};

/// CRTP base of the softmax RBMs (see the file comment). `Derived` declares `model_name` and may add
/// blocks after the base's (W, b, c) and a conditional input to the hidden units by defining
/// - `void initialize_extra(VectorRef<S> θ, Rng&) const` (its blocks' initial values),
/// - `void add_conditional(θ, const RowBatch&, const RowExample&, Eigen::Ref<Vector<S>> a) const`
///   (adds aᶜ to a) and
/// - `template <class Sink> void conditional_direction(θ, const RowBatch&, const RowExample&,
///   const Vector<S>& coeff, Stripe, Sink&) const` (its weights' share of the direction given coeff =
///   −(h⁰ − hᵏ)/B, for the columns the stripe owns).
template <class Derived, class S>
class SoftmaxRbm : public RbmBase<Derived, S> {
  using Base = RbmBase<Derived, S>;
  friend Base;
  friend LayoutModel<Derived, S, RowBatch>;

 public:
  [[nodiscard]] const SoftmaxRbmOptions& rbm_options() const noexcept { return opt_; }
  /// Number of softmax levels K (2 in the like/dislike variant).
  [[nodiscard]] int levels() const noexcept { return K_; }
  /// The level of a rating: round(r) − 1 clamped to 0..K−1, or (like/dislike) r >= threshold.
  [[nodiscard]] int level_of(float rating) const noexcept { return levels_.level_of(rating); }
  /// The value a level predicts: k + 1 (ratings), or k (like/dislike: 0, 1).
  [[nodiscard]] S value_of(int level) const noexcept { return levels_.template value_of<S>(level); }
  /// What a prediction of row r is scored against: the value of its level (the rating, rounded and
  /// clamped to 1..K; 0/1 for like/dislike).
  [[nodiscard]] double target_value(const Dataset& data, RowIndex r) const noexcept {
    return static_cast<double>(value_of(level_of(data.rating(r))));
  }
  /// The blocks of θ: W (F·K × columns; column j is F × K, level-major), b (K × columns), c (F).
  [[nodiscard]] const Block& weights() const noexcept { return W_; }
  [[nodiscard]] const Block& visible_bias() const noexcept { return b_; }

  /// Overwrites θ: W ~ N(0, init_std²), the rest 0 (Derived may draw its blocks after W).
  /// @throws std::invalid_argument on a wrong θ size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {W_}, opt_.init_std);
    this->self().initialize_extra(theta, rng);
  }

  /// Sets the visible biases from the level counts of the batch's input entries: b_j[k] =
  /// log((n_jk + 1) / (n_j + K)) (add-one smoothing), so that an untrained model predicts each
  /// column's level frequencies (Hinton's practical guide sets visible biases the same way).
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  void initialize_from_data(VectorRef<S> theta, const RowBatch& batch) const {
    this->check_size("initialize_from_data", theta.size());
    this->check_batch("initialize_from_data", batch);
    column_log_frequencies<S>(batch, levels_, b_.map(theta));
  }

  /// Resets every column that no input or target row of `batch` touches (a new item for a user
  /// RBM) to what the model says when it knows nothing: W_j = 0 and b_j = the smoothed log
  /// frequencies of the levels among ALL the batch's input entries. Such a column is then
  /// predicted at the pooled rating distribution's mean (≈ the mean training rating; before, an
  /// untrained column's uniform levels gave 3) whatever the hidden state, and a rating of it in a
  /// support set moves no hidden unit. Returns how many parameters changed.
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  std::size_t reset_untrained(VectorRef<S> theta, const RowBatch& batch) const {
    this->check_size("reset_untrained", theta.size());
    this->check_batch("reset_untrained", batch);
    return reset_untouched_columns<S>(theta, batch, levels_, {W_}, b_, false);
  }

  /// Mean free energy over the examples of the batch, each of its visible set (input rows, and the
  /// target rows when they are not the same list): F(v) = −Σ_j b_j[k_j] − Σ_f softplus(a_f).
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  [[nodiscard]] double free_energy(const ConstVectorRef<S>& theta, const RowBatch& batch) const {
    this->check_size("free_energy", theta.size());
    this->check_batch("free_energy", batch);
    double total = 0.0;
    Scratch& s = scratch();
    for (const RowExample& ex : batch.examples) {
      gather(batch, ex, s);
      base_input(theta, batch, ex, s.a);
      double fe = 0.0;
      for (std::size_t e = 0; e < s.n; ++e) {
        add_column(theta, s.col[e], s.lvl0[e], s.a);
        fe -= static_cast<double>(column_bias(theta, s.col[e])[s.lvl0[e]]);
      }
      for (Eigen::Index f = 0; f < s.a.size(); ++f) fe -= static_cast<double>(softplus(s.a[f]));
      total += fe;
    }
    return batch.examples.empty() ? 0.0 : total / static_cast<double>(batch.size());
  }

 protected:
  SoftmaxRbm(std::uint32_t columns, SoftmaxRbmOptions options, RowSide side)
      : Base(columns, side, options.hidden, options.cd_steps, options.weight_decay, options.init_std),
        opt_(options), K_(options.like_threshold > 0.0f ? 2 : options.levels), levels_{K_, options.like_threshold} {
    LayoutModel<Derived, S, RowBatch>::require(K_ >= 2 && K_ <= 255, "levels must be in 2..255 (got " + std::to_string(K_) + ")");
    const Eigen::Index F = opt_.hidden;
    W_ = this->layout_.add("weights", F * K_, columns);
    b_ = this->layout_.add("visible_bias", K_, columns);
    this->add_hidden_bias(F);
  }

  /// Default hooks (no conditional input, nothing more to initialise).
  void initialize_extra(VectorRef<S> /*theta*/, Rng& /*rng*/) const noexcept {}
  void add_conditional(const ConstVectorRef<S>& /*theta*/, const RowBatch& /*batch*/,
                       const RowExample& /*ex*/, Eigen::Ref<Vector<S>> /*a*/) const noexcept {}
  template <class Sink>
  void conditional_direction(const ConstVectorRef<S>& /*theta*/, const RowBatch& /*batch*/, const RowExample& /*ex*/,
                             const Vector<S>& /*coeff*/, Stripe /*stripe*/, Sink& /*sink*/) const noexcept {}

 private:
  using Work = typename Base::Work;
  // The chains' records: the sampled level of every entry (and, mean-field negative phase, p(v | h)
  // of every free entry, K each).
  struct Records {
    std::vector<std::uint8_t> lvlk;
    std::vector<S> pk;
    std::size_t levels = 0;
    bool probabilities = false;
    void reserve(std::size_t entries) {
      if (lvlk.size() < entries) lvlk.resize(entries);
      if (probabilities && pk.size() < entries * levels) pk.resize(entries * levels);
    }
  };
  // One case's scratch, per thread, grow-only (no allocation once the largest case was seen).
  struct Scratch {
    std::size_t n = 0, n_clamped = 0;     // entries; the first n_clamped are clamped input units
    std::vector<std::uint32_t> col;       // column of each entry
    std::vector<std::uint8_t> lvl0, lvl;  // data level, current level
    Vector<S> a, a_fixed, p, h, logits;
  };
  static Scratch& scratch() {
    thread_local Scratch s;
    return s;
  }

  // A case's entries: its input rows, then (conditional case) its target rows.
  [[nodiscard]] static std::size_t entries_of(const RowExample& ex) noexcept {
    return ex.input.size() + (is_conditional(ex) ? ex.target.size() : 0);
  }

  void gather(const RowBatch& batch, const RowExample& ex, Scratch& s) const {
    const bool cond = is_conditional(ex);
    s.n = entries_of(ex);
    s.n_clamped = cond ? ex.input.size() : 0;
    if (s.col.size() < s.n) {
      s.col.resize(s.n);
      s.lvl0.resize(s.n);
      s.lvl.resize(s.n);
    }
    std::size_t e = 0;
    auto put = [&](RowIndex r) {
      s.col[e] = batch.column(r);
      s.lvl0[e] = static_cast<std::uint8_t>(level_of(batch.data->rating(r)));
      ++e;
    };
    for (const RowIndex r : ex.input) put(r);
    if (cond)
      for (const RowIndex r : ex.target) put(r);
  }

  // out = c + aᶜ (the hidden input without any visible unit).
  void base_input(const ConstVectorRef<S>& theta, const RowBatch& batch, const RowExample& ex, Vector<S>& out) const {
    out = Eigen::Map<const Vector<S>>(theta.data() + this->hidden_bias().offset, this->num_hidden());
    this->self().add_conditional(theta, batch, ex, out);
  }
  [[nodiscard]] const S* column_weights(const ConstVectorRef<S>& theta, std::uint32_t j) const noexcept {
    return theta.data() + W_.offset + static_cast<Eigen::Index>(j) * W_.rows;
  }
  [[nodiscard]] const S* column_bias(const ConstVectorRef<S>& theta, std::uint32_t j) const noexcept {
    return theta.data() + b_.offset + static_cast<Eigen::Index>(j) * K_;
  }
  // a += W_j[:, k]
  void add_column(const ConstVectorRef<S>& theta, std::uint32_t j, int k, Vector<S>& a) const noexcept {
    const Eigen::Index F = this->num_hidden();
    a += Eigen::Map<const Vector<S>>(column_weights(theta, j) + static_cast<Eigen::Index>(k) * F, F);
  }

  // s.a = the hidden pre-activation from the input rows, s.p = σ(s.a).
  void input_hidden(const ConstVectorRef<S>& theta, const RowBatch& batch, const RowExample& ex, Scratch& s) const {
    base_input(theta, batch, ex, s.a);
    for (const RowIndex r : ex.input) add_column(theta, batch.column(r), level_of(batch.data->rating(r)), s.a);
    s.p.resize(s.a.size());
    sigmoid_into(s.a, s.p);
  }

  // Expected value of column j given the hidden pre-activation s.a and p̂ = s.p.
  [[nodiscard]] S expected_value(const ConstVectorRef<S>& theta, std::uint32_t j, Scratch& s, RbmPrediction how) const {
    const Eigen::Index F = this->num_hidden();
    const Eigen::Map<const Matrix<S>> Wj(column_weights(theta, j), F, K_);
    const Eigen::Map<const Vector<S>> bj(column_bias(theta, j), K_);
    s.logits.resize(K_);
    if (how == RbmPrediction::mean_field) {
      s.logits.noalias() = Wj.transpose() * s.p;
      s.logits += bj;
    } else {
      for (int k = 0; k < K_; ++k) {
        S t = bj[k];
        for (Eigen::Index f = 0; f < F; ++f) t += softplus(s.a[f] + Wj(f, k)) - softplus(s.a[f]);
        s.logits[k] = t;
      }
    }
    const S top = s.logits.maxCoeff();
    S z = S(0), m = S(0);
    for (int k = 0; k < K_; ++k) {
      const S e = std::exp(s.logits[k] - top);
      z += e;
      m += e * value_of(k);
    }
    return std::clamp(m / z, value_of(0), value_of(K_ - 1));
  }

  // Predicts the example's targets from the hidden state in the scratch (into out, when given)
  // and returns their squared error.
  double predict_targets(const ConstVectorRef<S>& theta, const RowBatch& batch, const RowExample& ex, Scratch& s,
                         RbmPrediction how, S* out) const {
    double sse = 0.0;
    std::size_t t = 0;
    for (const RowIndex r : ex.target) {
      const S pred = expected_value(theta, batch.column(r), s, how);
      if (out != nullptr) out[t] = pred;
      ++t;
      const double err = static_cast<double>(pred) - static_cast<double>(value_of(level_of(batch.data->rating(r))));
      sse += err * err;
    }
    return sse;
  }

  double case_predict(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, S* out, bool for_loss) const {
    Scratch& s = scratch();
    input_hidden(theta, batch, batch.examples[b], s);
    return predict_targets(theta, batch, batch.examples[b], s, for_loss ? RbmPrediction::mean_field : opt_.prediction, out);
  }
  void case_scores(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, S* out) const {
    Scratch& s = scratch();
    input_hidden(theta, batch, batch.examples[b], s);
    for (std::uint32_t j = 0; j < this->num_columns(); ++j) out[j] = expected_value(theta, j, s, opt_.prediction);
  }

  // Samples each free unit's level from p(v_j | h = s.h) (one uniform per unit), or, with `probs`,
  // writes p(v_j | h) (K per free unit, unit after unit) there instead.
  void sample_visible(const ConstVectorRef<S>& theta, Scratch& s, Rng& rng, S* probs = nullptr) const {
    const Eigen::Index F = this->num_hidden();
    s.logits.resize(K_);
    for (std::size_t e = s.n_clamped; e < s.n; ++e) {
      const std::uint32_t j = s.col[e];
      const Eigen::Map<const Matrix<S>> Wj(column_weights(theta, j), F, K_);
      s.logits.noalias() = Wj.transpose() * s.h;
      s.logits += Eigen::Map<const Vector<S>>(column_bias(theta, j), K_);
      const S top = s.logits.maxCoeff();
      S z = S(0);
      for (int k = 0; k < K_; ++k) z += (s.logits[k] = std::exp(s.logits[k] - top));
      if (probs != nullptr) {
        for (int k = 0; k < K_; ++k) probs[(e - s.n_clamped) * static_cast<std::size_t>(K_) + static_cast<std::size_t>(k)] = s.logits[k] / z;
        continue;
      }
      const double u = rng.uniform() * static_cast<double>(z);
      double acc = 0.0;
      int k = 0;
      for (; k < K_ - 1; ++k) {
        acc += static_cast<double>(s.logits[k]);
        if (u < acc) break;
      }
      s.lvl[e] = static_cast<std::uint8_t>(k);
    }
  }

  // CD-k on case b (see the file comment); returns the squared error of its mean-field target
  // predictions (the loss).
  double cd_case(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, Work& w) const {
    Scratch& s = scratch();
    const RowExample& ex = batch.examples[b];
    Rng rng = case_rng(batch.seed, b);
    gather(batch, ex, s);
    // the clamped units' part of the hidden input is fixed during the chain
    base_input(theta, batch, ex, s.a_fixed);
    for (std::size_t e = 0; e < s.n_clamped; ++e) add_column(theta, s.col[e], s.lvl0[e], s.a_fixed);
    s.a = s.a_fixed;
    for (std::size_t e = s.n_clamped; e < s.n; ++e) add_column(theta, s.col[e], s.lvl0[e], s.a);
    auto h0 = w.h0.col(static_cast<Eigen::Index>(b));
    auto hk = w.hk.col(static_cast<Eigen::Index>(b));
    sigmoid_into(s.a, h0);
    // the loss: the targets predicted from the input units (all of them, or the clamped ones)
    if (is_conditional(ex)) s.a = s.a_fixed;
    s.p.resize(s.a.size());
    sigmoid_into(s.a, s.p);
    const double sse = predict_targets(theta, batch, ex, s, RbmPrediction::mean_field, nullptr);
    s.h.resize(s.a.size());
    sample_bernoulli<S>(h0, s.h, rng);
    std::copy_n(s.lvl0.begin(), s.n, s.lvl.begin());
    const int k_steps = this->cd_steps();
    for (int step = 1; step <= k_steps; ++step) {
      s.a = s.a_fixed;
      if (step == k_steps && opt_.mean_field_negative) {
        S* probs = w.pk.data() + w.entry_offset[b] * static_cast<std::size_t>(K_);
        sample_visible(theta, s, rng, probs);
        for (std::size_t e = s.n_clamped; e < s.n; ++e)
          s.a.noalias() += Eigen::Map<const Matrix<S>>(column_weights(theta, s.col[e]), this->num_hidden(), K_) *
                           Eigen::Map<const Vector<S>>(probs + (e - s.n_clamped) * static_cast<std::size_t>(K_), K_);
      } else {
        sample_visible(theta, s, rng);
        for (std::size_t e = s.n_clamped; e < s.n; ++e) add_column(theta, s.col[e], s.lvl[e], s.a);
      }
      sigmoid_into(s.a, hk);
      if (step < k_steps) sample_bernoulli<S>(hk, s.h, rng);
    }
    std::copy_n(s.lvl.begin(), s.n, w.lvlk.begin() + static_cast<std::ptrdiff_t>(w.entry_offset[b]));
    return sse;
  }

  // Case b's share of the direction for the stripe's columns: −h⁰ at its data levels, +hᵏ at its
  // sampled levels (or +hᵏ p(v | h)ᵀ), the visible biases likewise, the conditional weights; W
  // decayed once per batch.
  template <class Sink>
  void reduce_case(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, Work& w, S scale,
                   const Vector<S>& coeff, Stripe stripe, Sink& sink) const {
    const Eigen::Index F = this->num_hidden();
    Scratch& s = scratch();
    const RowExample& ex = batch.examples[b];
    gather(batch, ex, s);
    const auto h0 = w.h0.col(static_cast<Eigen::Index>(b));
    const auto hk = w.hk.col(static_cast<Eigen::Index>(b));
    const std::uint8_t* lvlk = w.lvlk.data() + w.entry_offset[b];
    for (std::size_t e = 0; e < s.n; ++e) {
      const std::uint32_t j = s.col[e];
      if (!stripe.owns(j)) continue;
      auto gW = sink.segment(W_.column(j));
      if (stripe.touch) {
        if (e >= s.n_clamped) (void)sink.segment(b_.column(j));
        continue;
      }
      this->decay(theta, W_, j, gW, w);
      const int k0 = s.lvl0[e], kk = lvlk[e];
      if (opt_.mean_field_negative && e >= s.n_clamped) {
        const Eigen::Map<const Vector<S>> pv(w.pk.data() + (w.entry_offset[b] + e - s.n_clamped) * static_cast<std::size_t>(K_), K_);
        gW.segment(k0 * F, F) -= scale * h0;
        Eigen::Map<Matrix<S>>(gW.data(), F, K_).noalias() += (scale * hk) * pv.transpose();
        auto gb = sink.segment(b_.column(j));
        gb[k0] -= scale;
        gb += scale * pv;
      } else if (e < s.n_clamped || k0 == kk) {
        gW.segment(k0 * F, F) += coeff;
      } else {
        gW.segment(k0 * F, F) -= scale * h0;
        gW.segment(kk * F, F) += scale * hk;
        auto gb = sink.segment(b_.column(j));
        gb[k0] -= scale;
        gb[kk] += scale;
      }
    }
    this->self().conditional_direction(theta, batch, ex, coeff, stripe, sink);
  }

  Work& batch_work(const RowBatch& batch) const {
    Work& w = Base::batch_work(batch);
    w.levels = static_cast<std::size_t>(K_);
    w.probabilities = opt_.mean_field_negative;
    return w;
  }

  SoftmaxRbmOptions opt_;
  int K_;
  RatingLevels levels_;
  Block W_, b_;
};

}  // namespace detail
}  // namespace metarec
