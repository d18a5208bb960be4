#pragma once
/// @file mixture_mf.hpp
/// @brief Mixture-of-tastes matrix factorisation (Kula 2017, "Mixture-of-tastes models for
/// representing users with diverse interests").
///
/// Each user u has T taste vectors t_{u,1..T} and T attention vectors a_{u,1..T}; item i has an
/// embedding q_i and a bias b_i. The item picks, by a softmax over attention scores, how much each
/// taste counts for it:
///
///     α_k = softmax_k(a_{u,k}ᵀ q_i),   s_k = t_{u,k}ᵀ q_i,   r̂ = μ + b_u + b_i + Σ_k α_k s_k
///
/// (the spotlight reference code, `MixtureLSTMNet.forward`, scores the same way; there the taste and
/// attention vectors are projections of an LSTM state, here they are free per-user parameters, as in
/// the paper's factorisation variant). With T = 1, α = 1 and r̂ is biased MF's score.
///
/// Loss over a batch B, squared error with per-rating L2 penalties on the parameters each rating
/// touches (the `MatrixFactorization` convention):
///
///     L = 1/|B| Σ_{(u,i,r)∈B} [ (r̂ − r)² + λ(Σ_k ‖t_{u,k}‖² + ‖a_{u,k}‖² + ‖q_i‖²) + λ_b(b_u² + b_i²) ]
///
/// Gradient (hand-derived, e = r̂ − r, m = Σ_k α_k s_k, w_k = α_k (s_k − m) = ∂r̂/∂(a_kᵀq)):
/// ∂r̂/∂t_k = α_k q, ∂r̂/∂a_k = w_k q, ∂r̂/∂q = Σ_k α_k t_k + w_k a_k, ∂r̂/∂b = 1.
///
/// Hessian-vector product: forward-mode dual numbers (core/dual.hpp). The per-rating gradient code
/// is one template over its arithmetic type; the HVP runs it with the rating's parameters lifted to
/// Dual(θ_k, v_k) and reads H·v from the tangents. Why: the softmax makes the hand R-operator long
/// (second derivatives of α couple every pair of tastes and attention vectors with q); the dual run
/// is exact to rounding by construction, shares every line with the checked gradient (so it cannot
/// drift from it), and costs a small constant multiple of a gradient per row. The softmax subtracts the max
/// score for stability; the shift cancels exactly in α, so its tangent is irrelevant.
///
/// Layout of θ: tastes (dims × users·T; user u's T tastes are one contiguous segment), attention
/// (same shape), item factors (dims × items), user bias, item bias. Task-local segments (MAML): the
/// user's tastes, attention vectors and bias.
///
/// Cost: O(|B| · dims · T) per loss, gradient or HVP; per call a scratch of O(dims · T) values is
/// allocated once, nothing inside the loop over rows (θ is read through `Eigen::Map`s).

#include <metarec/data/batch.hpp>
#include <metarec/core/dual.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/models/detail/dual_rows.hpp>
#include <metarec/models/detail/sgd_rows.hpp>
#include <metarec/models/detail/layout_model.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metarec {

/// Options of `MixtureMF`.
struct MixtureMFOptions {
  int dims = 32;              ///< latent dimensions k
  int tastes = 4;             ///< T, taste (and attention) vectors per user
  double reg = 0.02;          ///< λ on tastes, attention vectors and item factors
  double bias_reg = 0.02;     ///< λ_b on biases
  double init_std = 0.1;      ///< factors start N(0, init_std²); biases start at 0
  double global_mean = 0.0;   ///< μ (fixed, not learned)
  bool shared_user = false;   ///< every user reads one shared set of tastes/attention and bias
};

/// Mixture-of-tastes MF over `RatingBatch`es; satisfies `metarec::Model` with exact gradient,
/// exact Hessian-vector product (dense and sparse), sparse gradients and task-local segments.
/// @tparam S float or double
/// @code
/// metarec::MixtureMF<double> mix(ds.num_users(), ds.num_items(),
///     {.dims = 32, .tastes = 4, .global_mean = ds.mean_rating(split.train)});
/// metarec::Vector<double> theta(mix.num_parameters());
/// metarec::Rng rng(1);
/// mix.initialize(theta, rng);
/// metarec::Vector<double> grad(mix.num_parameters());
/// double loss = mix.loss_and_gradient(theta, metarec::RatingBatch{&ds, split.train}, grad);
/// @endcode
template <class S = float>
class MixtureMF : public detail::LayoutModel<MixtureMF<S>, S> {
 public:
  /// @param num_users number of users (ignored with `shared_user`, except that it may be 0 then)
  /// @param num_items number of items
  /// @param options hyperparameters
  /// @throws std::invalid_argument when dims < 1, tastes < 1, or there are no users or items.
  MixtureMF(std::uint32_t num_users, std::uint32_t num_items, MixtureMFOptions options = {})
      : opt_(options) {
    const Eigen::Index user_rows = this->checked_user_rows(
        num_users, num_items, opt_.shared_user, {{"dims", opt_.dims}, {"tastes", opt_.tastes}});
    Tu_ = this->layout_.add("user_tastes", opt_.dims, user_rows * opt_.tastes);
    Au_ = this->layout_.add("user_attention", opt_.dims, user_rows * opt_.tastes);
    Q_ = this->layout_.add("item_factors", opt_.dims, num_items);
    bu_ = this->layout_.add("user_bias", 1, user_rows);
    bi_ = this->layout_.add("item_bias", 1, num_items);
  }

  using Options = MixtureMFOptions;


  /// Tastes, attention vectors and item factors N(0, init_std²); biases 0. Overwrites θ.
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {Tu_, Au_, Q_}, opt_.init_std);  // the first three blocks
  }

  /// Mean loss (with penalties) over the batch.
  /// @throws std::invalid_argument when θ has the wrong size.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RatingBatch& batch) const {
    this->check_size("loss", theta.size());
    Scratch<S> sc(opt_);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const auto [u, i] = this->ids(batch, r);
      total += static_cast<double>(row_loss(view(theta, u, i), static_cast<S>(batch.data->rating(r)), sc));
    });
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from detail::SinkModelEntryPoints (sink_entry_points.hpp).

  /// One prediction per batch row (overwritten).
  /// @throws std::invalid_argument when θ or out has the wrong size.
  void predict(const ConstVectorRef<S>& theta, const RatingBatch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.size());
    Scratch<S> sc(opt_);
    for (std::size_t k = 0; k < batch.rows.size(); ++k) {
      const auto [u, i] = this->ids(batch, batch.rows[k]);
      out[static_cast<Eigen::Index>(k)] = forward(view(theta, u, i), sc);
    }
  }

  /// Fused plain-SGD step on one rating (`HasSgdUpdate`, docs/model_concept.md): the one-row
  /// loss and, when it is finite, θ ← θ − lr·∇ on the user's tastes, attention vectors and bias
  /// and the item's factors and bias, in place, with exactly the arithmetic of
  /// `loss_and_gradient` + `Sgd::step` (same θ bit for bit). No gradient buffer; no allocation up
  /// to kStackDims dims and kStackTastes tastes (beyond, the scratch is allocated per call here and
  /// once per run in `sgd_update_rows`). No checks (innermost loop).
  S sgd_update(VectorRef<S> theta, const Dataset& data, RowIndex row, S lr) const {
    return with_scratch([&](auto& sc) { return sgd_step(theta, data, row, lr, sc); });
  }

  /// `sgd_update` over `rows` in order (the optional `sgd_update_rows` of `fit`, trainer.hpp): one
  /// scratch for the whole run; adds each loss to `loss_sum`; stops at the first non-finite loss
  /// (that row not applied) and returns its position, else rows.size().
  template <class Observe = detail::NoRowObserver>
  std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset& data, std::span<const RowIndex> rows,
                              S lr, double& loss_sum, Observe&& observe = {}) const {
    auto hint = [&](RowIndex r) {  // the parameters row r touches (cache hint)
      const std::uint32_t u = opt_.shared_user ? 0u : data.user(r), i = data.item(r);
      for (const Segment& s : {user_segment(Tu_, u), user_segment(Au_, u), Q_.column(i)})
        detail::prefetch_range<true>(theta.data() + s.offset, s.size);
      detail::prefetch<true>(theta.data() + bu_.offset + u);
      detail::prefetch<true>(theta.data() + bi_.offset + i);
    };
    return with_scratch([&](auto& sc) {
      return detail::sgd_rows(rows, loss_sum, data, [&](RowIndex r) { return sgd_step(theta, data, r, lr, sc); }, hint, observe);
    });
  }

  /// Task-local segments: each batch user's tastes, attention vectors and bias, once each.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    this->append_per_entity(batch.rows, out, [&](RowIndex r) { return this->user_index(batch, r); },
                            [&](std::uint32_t u, std::vector<Segment>& o) {
                              o.insert(o.end(), {user_segment(Tu_, u), user_segment(Au_, u), bu_.column(u)});
                            });
  }

  /// Prediction for one (user, item) pair by dense index (user 0 with `shared_user`).
  [[nodiscard]] S score(const ConstVectorRef<S>& theta, std::uint32_t u, std::uint32_t i) const {
    Scratch<S> sc(opt_);
    return forward(view(theta, opt_.shared_user ? 0u : u, i), sc);
  }

  /// Attention weights α (size T, overwritten) of user u for item i.
  void attention(const ConstVectorRef<S>& theta, std::uint32_t u, std::uint32_t i,
                 VectorRef<S> alpha) const {
    if (alpha.size() != opt_.tastes)
      throw std::invalid_argument("MixtureMF::attention: alpha has " +
                                  std::to_string(alpha.size()) + " entries for " +
                                  std::to_string(opt_.tastes) + " tastes");
    Scratch<S> sc(opt_);
    (void)forward(view(theta, opt_.shared_user ? 0u : u, i), sc);
    alpha = sc.alpha;
  }

 private:
  template <class T>
  using CMat = Eigen::Map<const Matrix<T>>;
  template <class T>
  using CVec = Eigen::Map<const Vector<T>>;

  // The parameters one rating reads, as views of arithmetic type T (θ itself, or lifted duals).
  template <class T>
  struct RowView {
    CMat<T> tastes;     // dims × T
    CMat<T> attention;  // dims × T
    CVec<T> q;          // dims
    T bu;
    T bi;
  };

  // Per-call scratch, reused for every row. MaxD/MaxK > 0: Eigen's fixed-capacity storage (on
  // the stack, no allocation; dims <= MaxD, tastes <= MaxK); Dynamic: allocated once per call.
  static constexpr int kStackDims = 64;
  static constexpr int kStackTastes = 8;
  // f(scratch): a stack scratch up to kStackDims dims and kStackTastes tastes, else a heap one.
  template <class F>
  decltype(auto) with_scratch(F&& f) const {
    return detail::with_scratch<Scratch<S, kStackDims, kStackTastes>, Scratch<S>>(
        opt_.dims <= kStackDims && opt_.tastes <= kStackTastes, opt_, f);
  }
  template <class T, int MaxD = Eigen::Dynamic, int MaxK = Eigen::Dynamic>
  struct Scratch {
    explicit Scratch(const Options& o)
        : alpha(o.tastes), taste_score(o.tastes), g_tastes(o.dims, o.tastes),
          g_attention(o.dims, o.tastes), g_q(o.dims) {}
    Eigen::Matrix<T, Eigen::Dynamic, 1, 0, MaxK, 1> alpha, taste_score;
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, 0, MaxD, MaxK> g_tastes, g_attention;
    Eigen::Matrix<T, Eigen::Dynamic, 1, 0, MaxD, 1> g_q;
    T g_bu = T(0), g_bi = T(0);
  };

  // Dual copies of one rating's parameters (θ_k, v_k), for the HVP.
  struct DualInputs {
    explicit DualInputs(const Options& o)
        : tastes(o.dims, o.tastes), attention(o.dims, o.tastes), q(o.dims) {}
    Matrix<Dual<S>> tastes, attention;
    Vector<Dual<S>> q;
  };

  [[nodiscard]] Segment user_segment(const Block& blk, std::uint32_t u) const noexcept {
    const Eigen::Index n = blk.rows * opt_.tastes;
    return {blk.offset + u * n, n};
  }

  [[nodiscard]] RowView<S> view(const ConstVectorRef<S>& theta, std::uint32_t u,
                                std::uint32_t i) const noexcept {
    const Eigen::Index d = opt_.dims, nt = opt_.tastes;
    return {CMat<S>(theta.data() + user_segment(Tu_, u).offset, d, nt),
            CMat<S>(theta.data() + user_segment(Au_, u).offset, d, nt),
            CVec<S>(theta.data() + Q_.column(i).offset, d), theta[bu_.offset + u],
            theta[bi_.offset + i]};
  }

  // r̂; leaves α and s in the scratch. Stable softmax: the max score is subtracted.
  template <class T, class Sc>
  [[nodiscard]] T forward(const RowView<T>& in, Sc& sc) const {
    const Eigen::Index K = opt_.tastes;
    T top = T(0);
    for (Eigen::Index k = 0; k < K; ++k) {
      sc.alpha[k] = in.attention.col(k).dot(in.q);
      sc.taste_score[k] = in.tastes.col(k).dot(in.q);
      if (k == 0 || sc.alpha[k] > top) top = sc.alpha[k];
    }
    T norm = T(0);
    for (Eigen::Index k = 0; k < K; ++k) {
      using std::exp;
      sc.alpha[k] = exp(sc.alpha[k] - top);
      norm += sc.alpha[k];
    }
    T mix = T(0);
    for (Eigen::Index k = 0; k < K; ++k) {
      sc.alpha[k] /= norm;
      mix += sc.alpha[k] * sc.taste_score[k];
    }
    return T(static_cast<S>(opt_.global_mean)) + in.bu + in.bi + mix;
  }

  template <class T>
  [[nodiscard]] T penalty(const RowView<T>& in) const {
    return T(static_cast<S>(opt_.reg)) *
               (in.tastes.squaredNorm() + in.attention.squaredNorm() + in.q.squaredNorm()) +
           T(static_cast<S>(opt_.bias_reg)) * (in.bu * in.bu + in.bi * in.bi);
  }

  template <class T, class Sc>
  [[nodiscard]] T row_loss(const RowView<T>& in, T rating, Sc& sc) const {
    const T e = forward(in, sc) - rating;
    return e * e + penalty(in);
  }

  // The gradient of one rating's loss (unscaled) into the scratch; returns that loss. Templated on
  // T: S for the gradient, Dual<S> for the HVP (the tangents of the result are H_row · v).
  template <class T, class Sc>
  T row_gradient(const RowView<T>& in, T rating, Sc& sc) const {
    const Eigen::Index K = opt_.tastes;
    const T e = forward(in, sc) - rating;
    const T c = T(2) * e;
    const T reg2 = T(static_cast<S>(2 * opt_.reg));
    const T breg2 = T(static_cast<S>(2 * opt_.bias_reg));
    T mix = T(0);
    for (Eigen::Index k = 0; k < K; ++k) mix += sc.alpha[k] * sc.taste_score[k];
    sc.g_q = reg2 * in.q;
    for (Eigen::Index k = 0; k < K; ++k) {
      const T ca = c * sc.alpha[k];                            // 2e ∂r̂/∂s_k
      const T cw = c * sc.alpha[k] * (sc.taste_score[k] - mix);  // 2e ∂r̂/∂(a_kᵀq)
      sc.g_tastes.col(k) = ca * in.q + reg2 * in.tastes.col(k);
      sc.g_attention.col(k) = cw * in.q + reg2 * in.attention.col(k);
      sc.g_q += ca * in.tastes.col(k) + cw * in.attention.col(k);
    }
    sc.g_bu = c + breg2 * in.bu;
    sc.g_bi = c + breg2 * in.bi;
    return e * e + penalty(in);
  }

  template <bool Tangent, class Sc, class Sink>
  void scatter(const Sc& sc, std::uint32_t u, std::uint32_t i, S scale, Sink& g) const {
    detail::add_scaled<Tangent>(g.segment(user_segment(Tu_, u)), sc.g_tastes, scale);
    detail::add_scaled<Tangent>(g.segment(user_segment(Au_, u)), sc.g_attention, scale);
    detail::add_scaled<Tangent>(g.segment(Q_.column(i)), sc.g_q, scale);
    detail::add_scaled_scalar<Tangent>(g.segment(bu_.column(u)), sc.g_bu, scale);
    detail::add_scaled_scalar<Tangent>(g.segment(bi_.column(i)), sc.g_bi, scale);
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, Sink& g) const {
    const S scale = S(1) / static_cast<S>(batch.size());
    Scratch<S> sc(opt_);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const auto [u, i] = this->ids(batch, r);
      total += static_cast<double>(
          row_gradient(view(theta, u, i), static_cast<S>(batch.data->rating(r)), sc));
      scatter<false>(sc, u, i, scale, g);
    });
  }

  // One fused step: row_gradient from the old θ, then θ_seg ← θ_seg − lr·g (gradient_into scales
  // by 1/|B| = 1, exactly).
  template <class Sc>
  S sgd_step(VectorRef<S> theta, const Dataset& data, RowIndex r, S lr, Sc& sc) const {
    const std::uint32_t u = opt_.shared_user ? 0u : data.user(r), i = data.item(r);
    const S loss = row_gradient(view(theta, u, i), static_cast<S>(data.rating(r)), sc);
    if (!std::isfinite(loss)) return loss;
    auto step = [&](const Segment& seg, const S* g) {
      S* t = theta.data() + seg.offset;
      for (Eigen::Index j = 0; j < seg.size; ++j) t[j] = t[j] - lr * g[j];
    };
    step(user_segment(Tu_, u), sc.g_tastes.data());
    step(user_segment(Au_, u), sc.g_attention.data());
    step(Q_.column(i), sc.g_q.data());
    theta[bu_.offset + u] = theta[bu_.offset + u] - lr * sc.g_bu;
    theta[bi_.offset + i] = theta[bi_.offset + i] - lr * sc.g_bi;
    return loss;
  }

  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    if (batch.rows.empty()) return;
    using D = Dual<S>;
    const S scale = S(1) / static_cast<S>(batch.size());
    Scratch<D> sc(opt_);
    DualInputs x(opt_);
    for (const RowIndex r : batch.rows) {
      const auto [u, i] = this->ids(batch, r);
      detail::lift(theta, v, user_segment(Tu_, u), x.tastes.data());
      detail::lift(theta, v, user_segment(Au_, u), x.attention.data());
      detail::lift(theta, v, Q_.column(i), x.q.data());
      const Eigen::Index bu = bu_.offset + u, bi = bi_.offset + i;
      const RowView<D> in{CMat<D>(x.tastes.data(), x.tastes.rows(), x.tastes.cols()),
                          CMat<D>(x.attention.data(), x.attention.rows(), x.attention.cols()),
                          CVec<D>(x.q.data(), x.q.size()), D(theta[bu], v[bu]),
                          D(theta[bi], v[bi])};
      (void)row_gradient(in, D(static_cast<S>(batch.data->rating(r))), sc);
      scatter<true>(sc, u, i, scale, out);
    }
  }

  friend detail::LayoutModel<MixtureMF<S>, S>;  // reads model_name, opt_ and the passes
  static constexpr const char* model_name = "MixtureMF";  // in messages
  Options opt_;
  Block Tu_, Au_, Q_, bu_, bi_;
};

}  // namespace metarec
