#pragma once
/// @file bernoulli_rbm.hpp
/// @brief A Bernoulli RBM for implicit feedback (`rbm-binary`): one binary visible unit for EVERY
/// column (item), v_j = 1 when the case rated j at least `positive_threshold` (the original
/// study's rating >= 3 → 1), else 0 — unrated items included; F binary hidden units; CD-k.
///
///     E(v, h) = − vᵀ b − hᵀ c − hᵀ W v,  p(h = 1 | v) = σ(c + W v),  p(v_j = 1 | h) = σ(b_j + W_jᵀ h)
///
/// (W: F × columns, column j contiguous). Recommendation scores are p(v_j = 1 | p̂(h | input))
/// (mean field) for every item; `predict` gives that probability for each target row and the loss
/// is its squared error against the 0/1 label (rating >= threshold) of the target rows — the
/// original study's "0/1 RMSE", here of a prediction, not of a Gibbs sample.
///
/// Cases: as rbm_base.hpp — a training case has every unit free; a conditional case (input ≠
/// target) clamps the input rows' units. Cost per Gibbs step: columns × F (the visible side is
/// dense), plus (ones sampled) × F for the hidden side. The CD-k direction: −(v⁰h⁰ᵀ − vᵏhᵏᵀ)/B
/// (hidden probabilities, sampled visible states) for W, b, c, plus `weight_decay`·W_j once for
/// every column with a data or sampled one in the batch.

#include <metarec/core/dual.hpp>
#include <metarec/models/boltzmann/rbm_base.hpp>

namespace metarec {

/// Options of `BernoulliRbm`.
struct BernoulliRbmOptions {
  int hidden = 100;                ///< F binary hidden units
  int cd_steps = 1;                ///< k of CD-k
  float positive_threshold = 3.0f; ///< v_j = 1 when the rating is >= this
  double weight_decay = 0.001;     ///< λ: λ·W_j once per touched column per batch
  double init_std = 0.01;          ///< W starts N(0, init_std²); biases 0
};

/// The Bernoulli RBM over whole rows (`RowBatch`, users as cases for top-N); a `metarec::Model`
/// whose direction is CD-k (`exact_gradient = false`).
/// @tparam S float or double
/// @code
/// const metarec::BernoulliRbm<float> rbm(ds.num_items(), {.hidden = 100});
/// @endcode
template <class S = float>
class BernoulliRbm : public detail::RbmBase<BernoulliRbm<S>, S> {
  using Base = detail::RbmBase<BernoulliRbm<S>, S>;
  friend Base;
  friend detail::LayoutModel<BernoulliRbm<S>, S, RowBatch>;
  using Work = typename Base::Work;

 public:
  static constexpr const char* model_name = "BernoulliRbm";
  using Options = BernoulliRbmOptions;

  /// @param columns the length of a case's row (items for user cases)
  /// @throws std::invalid_argument when hidden < 1, cd_steps < 1, no columns, or a negative weight
  ///         decay or init_std.
  BernoulliRbm(std::uint32_t columns, Options options = {}, RowSide side = RowSide::user)
      : Base(columns, side, options.hidden, options.cd_steps, options.weight_decay, options.init_std), opt_(options) {
    W_ = this->layout_.add("weights", options.hidden, columns);
    b_ = this->layout_.add("visible_bias", 1, columns);
    this->add_hidden_bias(options.hidden);
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] const Block& weights() const noexcept { return W_; }
  [[nodiscard]] const Block& visible_bias() const noexcept { return b_; }

  /// Overwrites θ: W ~ N(0, init_std²), biases 0.
  /// @throws std::invalid_argument on a wrong θ size.
  void initialize(VectorRef<S> theta, Rng& rng) const { this->zero_then_normal(theta, rng, {W_}, opt_.init_std); }

  /// Sets b_j = log((n_j + 1)/(B − n_j + 1)), n_j the cases of the batch with a one at j, so that an
  /// untrained model predicts each item's share of ones (Hinton's practical guide).
  /// @throws std::invalid_argument on a wrong θ size or an incompatible batch.
  void initialize_from_data(VectorRef<S> theta, const RowBatch& batch) const {
    this->check_size("initialize_from_data", theta.size());
    this->check_batch("initialize_from_data", batch);
    auto b = b_.map(theta);
    b.setZero();
    for (const RowExample& ex : batch.examples)
      for (const RowIndex r : ex.input) b(0, batch.column(r)) += positive(batch, r) ? S(1) : S(0);
    const auto n = static_cast<S>(batch.size());
    for (Eigen::Index j = 0; j < b.cols(); ++j) b(0, j) = std::log((b(0, j) + S(1)) / (n - b(0, j) + S(1)));
  }

  /// What a prediction of row r is scored against: its 0/1 label.
  [[nodiscard]] double target_value(const Dataset& data, RowIndex r) const noexcept {
    return data.rating(r) >= opt_.positive_threshold ? 1.0 : 0.0;
  }
  /// The 0/1 label of a row: rating >= positive_threshold.
  [[nodiscard]] bool positive(const RowBatch& batch, RowIndex r) const noexcept {
    return batch.data->rating(r) >= opt_.positive_threshold;
  }

 private:
  // The chains' records: the columns sampled to one at the last step, case after case (a list per
  // case; its capacity is kept).
  struct Records {
    std::vector<std::vector<std::uint32_t>> ones;
    void reserve(std::size_t /*entries*/) {}
  };
  struct Scratch {
    Vector<S> a, a_fixed, p, h, v;           // hidden input and probabilities, hidden sample, p(v | h)
    std::vector<std::uint8_t> clamped;       // per column: 0 free, 1 clamped (conditional cases)
    std::vector<std::uint32_t> ones, data;   // current sampled ones; the data's free ones
  };
  static Scratch& scratch() {
    thread_local Scratch s;
    return s;
  }
  [[nodiscard]] static std::size_t entries_of(const RowExample& /*ex*/) noexcept { return 0; }

  [[nodiscard]] const S* column_weights(const ConstVectorRef<S>& theta, std::uint32_t j) const noexcept {
    return theta.data() + W_.offset + static_cast<Eigen::Index>(j) * W_.rows;
  }
  [[nodiscard]] Eigen::Map<const Vector<S>> wcol(const ConstVectorRef<S>& theta, std::uint32_t j) const noexcept {
    return Eigen::Map<const Vector<S>>(column_weights(theta, j), W_.rows);
  }

  // s.a = c + Σ_{positive input rows} W_j, s.p = σ(s.a).
  void input_hidden(const ConstVectorRef<S>& theta, const RowBatch& batch, const RowExample& ex, Scratch& s) const {
    s.a = Eigen::Map<const Vector<S>>(theta.data() + this->hidden_bias().offset, W_.rows);
    for (const RowIndex r : ex.input)
      if (positive(batch, r)) s.a += wcol(theta, batch.column(r));
    s.p.resize(s.a.size());
    detail::sigmoid_into(s.a, s.p);
  }
  // p(v_j = 1 | h) for column j.
  [[nodiscard]] S column_probability(const ConstVectorRef<S>& theta, std::uint32_t j, const Vector<S>& h) const noexcept {
    return sigmoid(theta[b_.offset + j] + wcol(theta, j).dot(h));
  }

  double case_predict(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, S* out, bool /*for_loss*/) const {
    Scratch& s = scratch();
    const RowExample& ex = batch.examples[b];
    input_hidden(theta, batch, ex, s);
    double sse = 0.0;
    std::size_t t = 0;
    for (const RowIndex r : ex.target) {
      const S p = column_probability(theta, batch.column(r), s.p);
      if (out != nullptr) out[t] = p;
      ++t;
      const double err = static_cast<double>(p) - (positive(batch, r) ? 1.0 : 0.0);
      sse += err * err;
    }
    return sse;
  }
  void case_scores(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, S* out) const {
    Scratch& s = scratch();
    input_hidden(theta, batch, batch.examples[b], s);
    Eigen::Map<Vector<S>> o(out, this->num_columns());
    o.noalias() = W_.map(theta).transpose() * s.p;
    o += b_.map(theta).transpose();
    for (Eigen::Index j = 0; j < o.size(); ++j) o[j] = sigmoid(o[j]);
  }

  // CD-k on case b.
  double cd_case(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, Work& w) const {
    Scratch& s = scratch();
    const RowExample& ex = batch.examples[b];
    const double sse = case_predict(theta, batch, b, nullptr, true);
    Rng rng = detail::case_rng(batch.seed, b);
    const std::uint32_t M = this->num_columns();
    const bool cond = detail::is_conditional(ex);
    if (s.clamped.size() < M) s.clamped.assign(M, 0);
    // clamped units: the input of a conditional case; their ones are fixed in the hidden input
    s.a_fixed = Eigen::Map<const Vector<S>>(theta.data() + this->hidden_bias().offset, W_.rows);
    s.data.clear();
    if (cond) {
      for (const RowIndex r : ex.input) {
        s.clamped[batch.column(r)] = 1;
        if (positive(batch, r)) s.a_fixed += wcol(theta, batch.column(r));
      }
      for (const RowIndex r : ex.target)
        if (positive(batch, r)) s.data.push_back(batch.column(r));
    } else {
      for (const RowIndex r : ex.input)
        if (positive(batch, r)) s.data.push_back(batch.column(r));
    }
    s.a = s.a_fixed;
    for (const std::uint32_t j : s.data) s.a += wcol(theta, j);
    auto h0 = w.h0.col(static_cast<Eigen::Index>(b));
    auto hk = w.hk.col(static_cast<Eigen::Index>(b));
    detail::sigmoid_into(s.a, h0);
    s.h.resize(s.a.size());
    detail::sample_bernoulli<S>(h0, s.h, rng);
    const auto W = W_.map(theta);
    for (int step = 1; step <= this->cd_steps(); ++step) {
      s.v.noalias() = W.transpose() * s.h;  // all columns; clamped ones are skipped below
      s.ones.clear();
      for (std::uint32_t j = 0; j < M; ++j) {
        const double u = rng.uniform();
        if (s.clamped[j] == 0 && u < static_cast<double>(sigmoid(theta[b_.offset + j] + s.v[j]))) s.ones.push_back(j);
      }
      s.a = s.a_fixed;
      for (const std::uint32_t j : s.ones) s.a += wcol(theta, j);
      detail::sigmoid_into(s.a, hk);
      if (step < this->cd_steps()) detail::sample_bernoulli<S>(hk, s.h, rng);
    }
    if (cond)
      for (const RowIndex r : ex.input) s.clamped[batch.column(r)] = 0;
    std::vector<std::uint32_t>& keep = w.ones[b];
    keep.assign(s.ones.begin(), s.ones.end());
    return sse;
  }

  // Case b's share for the stripe's columns: −h⁰ on the data's free ones, +hᵏ on the sampled
  // ones, (hᵏ − h⁰) on the clamped ones.
  template <class Sink>
  void reduce_case(const ConstVectorRef<S>& theta, const RowBatch& batch, std::size_t b, Work& w, S scale,
                   const Vector<S>& coeff, detail::Stripe stripe, Sink& sink) const {
    const RowExample& ex = batch.examples[b];
    const bool cond = detail::is_conditional(ex);
    const auto h0 = w.h0.col(static_cast<Eigen::Index>(b));
    const auto hk = w.hk.col(static_cast<Eigen::Index>(b));
    // W column j's share (decayed once per batch) and b_j's
    auto add = [&](std::uint32_t j, auto&& wterm, S bterm) {
      if (!stripe.owns(j)) return;
      auto gW = sink.segment(W_.column(j));
      auto gb = sink.segment(b_.column(j));
      if (stripe.touch) return;
      this->decay(theta, W_, j, gW, w);
      gW += wterm;
      gb[0] += bterm;
    };
    if (cond)
      for (const RowIndex r : ex.input)
        if (positive(batch, r)) add(batch.column(r), coeff, S(0));
    for (const RowIndex r : cond ? ex.target : ex.input)
      if (positive(batch, r)) add(batch.column(r), -scale * h0, -scale);
    for (const std::uint32_t j : w.ones[b]) add(j, scale * hk, scale);
  }

  Work& batch_work(const RowBatch& batch) const {
    Work& w = Base::batch_work(batch);
    if (w.ones.size() < batch.size()) w.ones.resize(batch.size());
    return w;
  }

  Options opt_;
  Block W_, b_;
};

}  // namespace metarec
