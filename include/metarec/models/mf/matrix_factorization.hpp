#pragma once
/// @file matrix_factorization.hpp
/// @brief Matrix factorisation, vanilla (r̂ = p_uᵀq_i) and biased (r̂ = μ + b_u + b_i + p_uᵀq_i).
///
/// Loss over a batch B of rating rows, with per-rating L2 penalties on the parameters each rating
/// touches (Funk-SVD / Surprise / LIBMF convention):
///
///     L = 1/|B| Σ_{(u,i,r)∈B} [ (r̂_ui − r)² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²) ]
///
/// Exact gradient and Hessian-vector product, dense or sparse (only the rows a batch touches), and
/// task-local segments (the user's factors and bias) for MAML. With `shared_user = true` every
/// user reads one shared vector p₀ (and bias b₀): the meta-learned initialisation a new user's
/// factors start from, adapted per task in a MAML inner loop.
///
/// Fused per-rating SGD (`sgd_update`, `HasSgdUpdate`): one rating's error, the step on p_u, q_i,
/// b_u, b_i in place, no gradient buffer; the same arithmetic as `loss_and_gradient` on a one-row
/// batch followed by `Sgd::step`, so `fit` with plain `Sgd` and batch size 1 gives the same θ.

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

#ifndef METAREC_DETAIL_ALWAYS_INLINE
#if defined(__GNUC__) || defined(__clang__)
#define METAREC_DETAIL_ALWAYS_INLINE [[gnu::always_inline]] inline
#else
#define METAREC_DETAIL_ALWAYS_INLINE inline
#endif
#endif

namespace metarec {

/// Options of `MatrixFactorization`.
struct MatrixFactorizationOptions {
  int dims = 32;                 ///< latent dimensions k
  bool biases = true;            ///< false: vanilla MF (no μ, b_u, b_i)
  double reg = 0.02;             ///< λ on factors
  double bias_reg = 0.02;        ///< λ_b on biases
  double init_std = 0.1;         ///< factors start N(0, init_std²); biases start at 0
  double global_mean = 0.0;      ///< μ (fixed, not learned); used only when biases = true
  bool shared_user = false;      ///< every user reads one shared p₀, b₀ (cold-start / MAML mode)
};

/// Matrix factorisation model over `RatingBatch`es; satisfies `metarec::Model`.
/// @tparam S float or double
/// @code
/// metarec::MatrixFactorization<float> mf(ds.num_users(), ds.num_items(),
///     {.dims = 64, .global_mean = ds.mean_rating(split.train)});
/// metarec::Vector<float> theta(mf.num_parameters());
/// metarec::Rng rng(1);
/// mf.initialize(theta, rng);
/// float loss = mf.loss(theta, metarec::RatingBatch{&ds, split.train});
/// @endcode
template <class S = float>
class MatrixFactorization : public detail::LayoutModel<MatrixFactorization<S>, S> {
 public:
  /// @throws std::invalid_argument when dims < 1 or there are no items.
  MatrixFactorization(std::uint32_t num_users, std::uint32_t num_items, MatrixFactorizationOptions options = {})
      : opt_(options), num_users_(num_users), num_items_(num_items) {
    const Eigen::Index user_rows =
        this->checked_user_rows(num_users, num_items, opt_.shared_user, {{"dims", opt_.dims}});
    P_ = this->layout_.add("user_factors", opt_.dims, user_rows);
    Q_ = this->layout_.add("item_factors", opt_.dims, num_items);
    if (opt_.biases) {
      bu_ = this->layout_.add("user_bias", 1, user_rows);
      bi_ = this->layout_.add("item_bias", 1, num_items);
    }
  }

  using Options = MatrixFactorizationOptions;

  [[nodiscard]] const Options& options() const noexcept { return opt_; }

  /// Overwrites θ: factors N(0, init_std²) (users' first), biases 0.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {P_, Q_}, opt_.init_std);
  }

  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RatingBatch& batch) const {
    this->check_size("loss", theta.size());
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const auto [u, i] = this->ids(batch, r);
      const S* p = theta.data() + P_.offset + static_cast<Eigen::Index>(u) * P_.rows;
      const S* q = theta.data() + Q_.offset + static_cast<Eigen::Index>(i) * Q_.rows;
      S pn, qn;
      S s = detail::with_fixed_dims(opt_.dims, [&](auto kc) { return reduce_k<decltype(kc)::value, true>(p, q, &pn, &qn); });
      if (opt_.biases)
        s += static_cast<S>(opt_.global_mean) + theta[bu_.offset + u] + theta[bi_.offset + i];
      const double e = static_cast<double>(s) - batch.data->rating(r);
      total += e * e + opt_.reg * (static_cast<double>(pn) + static_cast<double>(qn));
      if (opt_.biases)
        total += opt_.bias_reg * (sq(theta[bu_.offset + u]) + sq(theta[bi_.offset + i]));
    });
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from detail::SinkModelEntryPoints (sink_entry_points.hpp).

  void predict(const ConstVectorRef<S>& theta, const RatingBatch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.size());
    for (std::size_t k = 0; k < batch.rows.size(); ++k) {
      const auto [u, i] = this->ids(batch, batch.rows[k]);
      out[static_cast<Eigen::Index>(k)] = score(theta, u, i);
    }
  }

  /// Task-local segments: the factors (and bias) of each user in the batch, once each.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    this->append_per_entity(batch.rows, out, [&](RowIndex r) { return this->user_index(batch, r); },
                            [&](std::uint32_t u, std::vector<Segment>& o) {
                              o.push_back(P_.column(u));
                              if (opt_.biases) o.push_back(bu_.column(u));
                            });
  }

  /// Fused plain-SGD step on one rating (see `HasSgdUpdate` in concepts.hpp): computes
  /// ℓ = (r̂ − r)² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²) and, when ℓ is finite, updates in place
  ///     p_u ← p_u − lr·2(e q_i + λ p_u),  q_i ← q_i − lr·2(e p_u + λ q_i)   (both from the old values)
  ///     b_u ← b_u − lr·2(e + λ_b b_u),    b_i ← b_i − lr·2(e + λ_b b_i)
  /// with exactly the operations of `loss_and_gradient` + `Sgd::step`. Returns ℓ (before the step).
  /// No size checks (innermost loop): θ must have this->num_parameters() entries and `row` must be a row
  /// of `data` (`fit` checks both once).
  S sgd_update(VectorRef<S> theta, const Dataset& data, RowIndex row, S lr) const noexcept {
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) { return sgd_update_k<decltype(kc)::value>(theta.data(), data, row, lr); });
  }

  /// Fused plain-SGD steps over `rows`, in order (the optional `sgd_update_rows` of `fit`'s fused
  /// path, see trainer.hpp): exactly `sgd_update(θ, data, rows[b], lr)` for b = 0, 1, ..., with the
  /// dims dispatch hoisted out of the loop and the data and parameters of later rows prefetched.
  /// Adds each row's loss to `loss_sum`. Stops at the first row whose loss is not finite (θ not
  /// updated by it, its loss not added) and returns that row's position; else returns rows.size().
  template <class Observe = detail::NoRowObserver>
  std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset& data, std::span<const RowIndex> rows,
                              S lr, double& loss_sum, Observe&& observe = {}) const {
    return detail::with_fixed_dims(opt_.dims, [&](auto kc) {
      return sgd_rows_k<decltype(kc)::value>(theta.data(), data, rows, lr, loss_sum, observe);
    });
  }

  /// Cache hint: prefetches the parameters `row` will touch (p_u, q_i and the biases) for writing.
  /// No effect on any result. `fit` calls it a few rows ahead of `sgd_update`. (θ is taken as the
  /// writable `VectorRef` the updates use: a `ConstVectorRef` temporary would cost a call to free().
  /// The hints are `asm volatile` (detail/prefetch.hpp), which GCC cannot delete.)
  METAREC_DETAIL_ALWAYS_INLINE void sgd_prefetch(const VectorRef<S>& theta, const Dataset& data,
                                                 RowIndex row) const noexcept {
    prefetch_params(theta.data(), data, row);
  }

  /// Prediction for one (user, item) pair by dense index.
  [[nodiscard]] S score(const ConstVectorRef<S>& theta, std::uint32_t u, std::uint32_t i) const {
    const S* p = theta.data() + P_.offset + static_cast<Eigen::Index>(u) * P_.rows;
    const S* q = theta.data() + Q_.offset + static_cast<Eigen::Index>(i) * Q_.rows;
    S s = detail::with_fixed_dims(opt_.dims, [&](auto kc) { return dot_k<decltype(kc)::value>(p, q); });
    if (opt_.biases)
      s += static_cast<S>(opt_.global_mean) + theta[bu_.offset + u] + theta[bi_.offset + i];
    return s;
  }

 private:
  static double sq(S x) noexcept { return static_cast<double>(x) * static_cast<double>(x); }

  // The one reduction every path uses for p·q (and ‖p‖², ‖q‖²): a single pass over p and q with
  // Eigen packets two SIMD registers wide (8 floats or 4 doubles per step on SSE2), lanes summed
  // at the end, then a scalar tail. One function for the loss, the gradient, the fused step and
  // the prediction, so they all round the same way.
  template <int K, bool Norms>
  METAREC_DETAIL_ALWAYS_INLINE S reduce_k(const S* p, const S* q, S* pn, S* qn) const noexcept {
    constexpr int W = static_cast<int>(32 / sizeof(S));
    using A = Eigen::Array<S, W, 1>;
    using M = Eigen::Map<const A, Eigen::Unaligned>;
    const Eigen::Index n = K > 0 ? K : P_.rows;
    const Eigen::Index nv = n - n % W;
    A ad = A::Zero(), ap = A::Zero(), aq = A::Zero();
    for (Eigen::Index j = 0; j < nv; j += W) {
      const A a = M(p + j);
      const A b = M(q + j);
      ad += a * b;
      if constexpr (Norms) {
        ap += a * a;
        aq += b * b;
      }
    }
    S d = ad.sum();
    S np = S(0), nq = S(0);
    if constexpr (Norms) {
      np = ap.sum();
      nq = aq.sum();
    }
    for (Eigen::Index j = nv; j < n; ++j) {
      d += p[j] * q[j];
      if constexpr (Norms) {
        np += p[j] * p[j];
        nq += q[j] * q[j];
      }
    }
    if constexpr (Norms) {
      *pn = np;
      *qn = nq;
    }
    return d;
  }
  template <int K>
  S dot_k(const S* p, const S* q) const noexcept {
    return reduce_k<K, false>(p, q, nullptr, nullptr);
  }

  // (r̂ − r) and the rating's penalised loss, as gradient_into computes them.
  template <int K>
  METAREC_DETAIL_ALWAYS_INLINE S penalised_error(const S* p, const S* q, const S* t, std::uint32_t u,
                                                 std::uint32_t i, float rating, double& loss) const noexcept {
    S pn, qn;
    S s = reduce_k<K, true>(p, q, &pn, &qn);
    if (opt_.biases) s += static_cast<S>(opt_.global_mean) + t[bu_.offset + u] + t[bi_.offset + i];
    const S e = s - static_cast<S>(rating);
    loss = sq(e) + opt_.reg * (static_cast<double>(pn) + static_cast<double>(qn));
    if (opt_.biases) loss += opt_.bias_reg * (sq(t[bu_.offset + u]) + sq(t[bi_.offset + i]));
    return e;
  }

  template <int K>
  METAREC_DETAIL_ALWAYS_INLINE S sgd_update_k(S* t, const Dataset& data, RowIndex row, S lr) const noexcept {
    const Eigen::Index k = K > 0 ? K : P_.rows;
    const std::uint32_t u = opt_.shared_user ? 0u : data.user(row);
    const std::uint32_t i = data.item(row);
    S* __restrict p = t + P_.offset + static_cast<Eigen::Index>(u) * k;
    S* __restrict q = t + Q_.offset + static_cast<Eigen::Index>(i) * k;
    double loss;
    const S e = penalised_error<K>(p, q, t, u, i, data.rating(row), loss);
    if (!std::isfinite(loss)) return static_cast<S>(loss);
    // The generic path steps by lr·(2·y) with y = e q + λ p (gradient scale 2/|B|, |B| = 1); the
    // doubling is exact, so (2·lr)·y rounds to the same value and saves a multiply per entry.
    const S lr2 = S(2) * lr;
    const S reg = static_cast<S>(opt_.reg);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (Eigen::Index j = 0; j < k; ++j) {  // vectorised by the compiler (no reduction)
      const S pj = p[j], qj = q[j];
      p[j] = pj - lr2 * (e * qj + reg * pj);
      q[j] = qj - lr2 * (e * pj + reg * qj);
    }
    if (opt_.biases) {
      const S breg = static_cast<S>(opt_.bias_reg);
      S* bu = t + bu_.offset + u;
      S* bi = t + bi_.offset + i;
      const S bu0 = *bu, bi0 = *bi;
      *bu = bu0 - lr2 * (e + breg * bu0);
      *bi = bi0 - lr2 * (e + breg * bi0);
    }
    return static_cast<S>(loss);
  }

  template <int K, class Observe>
  std::size_t sgd_rows_k(S* t, const Dataset& data, std::span<const RowIndex> rows, S lr,
                         double& loss_sum, Observe& observe) const {
    return detail::sgd_rows(
        rows, loss_sum, data, [&](RowIndex r) { return sgd_update_k<K>(t, data, r, lr); },
        [&](RowIndex r) { prefetch_params(t, data, r); }, observe);
  }

  // Prefetches (for writing) p_u, q_i and the biases that `row` updates.
  METAREC_DETAIL_ALWAYS_INLINE void prefetch_params(const S* t, const Dataset& data,
                                                    RowIndex row) const noexcept {
    const Eigen::Index k = P_.rows;
    const std::uint32_t u = opt_.shared_user ? 0u : data.user(row);
    const std::uint32_t i = data.item(row);
    detail::prefetch_range<true>(t + P_.offset + static_cast<Eigen::Index>(u) * k, k);
    detail::prefetch_range<true>(t + Q_.offset + static_cast<Eigen::Index>(i) * k, k);
    if (opt_.biases) {
      detail::prefetch<true>(t + bu_.offset + u);
      detail::prefetch<true>(t + bi_.offset + i);
    }
  }

  static Eigen::Map<const Vector<S>> col(const ConstVectorRef<S>& theta, const Block& blk,
                                         std::uint32_t c) noexcept {
    return Eigen::Map<const Vector<S>>(theta.data() + blk.offset + c * blk.rows, blk.rows);
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, Sink& g) const {
    const S scale = S(2) / static_cast<S>(batch.size());
    const S reg = static_cast<S>(opt_.reg);
    const S breg = static_cast<S>(opt_.bias_reg);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      const auto [u, i] = this->ids(batch, r);
      const auto p = col(theta, P_, u);
      const auto q = col(theta, Q_, i);
      S pn_s, qn_s;
      S s = detail::with_fixed_dims(opt_.dims, [&](auto kc) { return reduce_k<decltype(kc)::value, true>(p.data(), q.data(), &pn_s, &qn_s); });
      if (opt_.biases)
        s += static_cast<S>(opt_.global_mean) + theta[bu_.offset + u] + theta[bi_.offset + i];
      const S e = s - static_cast<S>(batch.data->rating(r));
      total += sq(e) + opt_.reg * (static_cast<double>(pn_s) + static_cast<double>(qn_s));
      g.segment(P_.column(u)) += scale * (e * q + reg * p);
      g.segment(Q_.column(i)) += scale * (e * p + reg * q);
      if (opt_.biases) {
        const S bu = theta[bu_.offset + u];
        const S bi = theta[bi_.offset + i];
        total += opt_.bias_reg * (sq(bu) + sq(bi));
        g.segment(bu_.column(u))[0] += scale * (e + breg * bu);
        g.segment(bi_.column(i))[0] += scale * (e + breg * bi);
      }
    });
  }

  // H·v of (r̂ − r)² + penalties: 2 ∇r̂ (∇r̂ᵀv) + 2e ∇²r̂ v + 2λ v, where ∇²r̂ couples p_u and q_i.
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    if (batch.rows.empty()) return;
    const S scale = S(2) / static_cast<S>(batch.size());
    const S reg = static_cast<S>(opt_.reg);
    const S breg = static_cast<S>(opt_.bias_reg);
    for (const RowIndex r : batch.rows) {
      const auto [u, i] = this->ids(batch, r);
      const auto p = col(theta, P_, u);
      const auto q = col(theta, Q_, i);
      const auto vp = col(v, P_, u);
      const auto vq = col(v, Q_, i);
      const S e = score(theta, u, i) - static_cast<S>(batch.data->rating(r));
      S jv = q.dot(vp) + p.dot(vq);
      if (opt_.biases) jv += v[bu_.offset + u] + v[bi_.offset + i];
      out.segment(P_.column(u)) += scale * (jv * q + e * vq + reg * vp);
      out.segment(Q_.column(i)) += scale * (jv * p + e * vp + reg * vq);
      if (opt_.biases) {
        out.segment(bu_.column(u))[0] += scale * (jv + breg * v[bu_.offset + u]);
        out.segment(bi_.column(i))[0] += scale * (jv + breg * v[bi_.offset + i]);
      }
    }
  }

  friend detail::LayoutModel<MatrixFactorization<S>, S>;  // reads model_name, opt_ and the passes
  static constexpr const char* model_name = "MatrixFactorization";  // in messages
  Options opt_;
  std::uint32_t num_users_;
  std::uint32_t num_items_;
  Block P_, Q_, bu_, bi_;
};

}  // namespace metarec
