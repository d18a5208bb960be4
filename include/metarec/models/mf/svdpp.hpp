#pragma once
/// @file svdpp.hpp
/// @brief SVD++ (Koren 2008): biased matrix factorisation whose user vector adds the implicit
/// feedback of the items the user rated.
///
///     r̂_ui = μ + b_u + b_i + z_uᵀ q_i,    z_u = p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j
///
/// N(u) is the set of items user u rated in the rows the model is constructed with (the TRAINING
/// rows: predictions for validation or test rows then use only training items, never the held-out
/// ones). It is fixed for the model's lifetime; duplicates are removed.
///
/// Loss over a batch B, with per-rating L2 penalties on p, q and the biases (as
/// `MatrixFactorization`) and the implicit vectors of each user penalised ONCE per distinct user of
/// the batch (the granularity of SVD++'s implicit step):
///
///     L = 1/|B| [ Σ_{(u,i,r)∈B} ( (r̂_ui − r)² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²) )
///                 + Σ_{u ∈ users(B)} λ_y Σ_{j∈N(u)} ‖y_j‖² ]
///
/// Exact gradient and Hessian-vector product (the model is a polynomial in θ), dense or sparse
/// (rows touched: p_u, q_i, b_u, b_i and y_j for j ∈ N(u)), and task-local segments (the user's
/// p_u and b_u; the y table is shared by all users, so it is global). The generic paths group the
/// batch's rows by user, so z_u costs O(|N(u)|·dims) once per distinct user of a batch.
///
/// **Two SGD paths.** `sgd_update` (`HasSgdUpdate`) is the generic per-rating step: exactly
/// `loss_and_gradient` on the one-row batch + `Sgd::step`, so every y_j of N(u) moves at EVERY
/// rating (O(|N(u)|·dims) per rating). `sgd_update_rows` (the whole-epoch path `fit` uses with plain
/// Sgd, batch size 1 and no `on_batch_end` callback) is NOT that sequence: it is SVD++'s usual
/// delayed-implicit SGD (Koren 2008, as in LIBMF/Surprise-style implementations that group by
/// user). The rows are grouped by user in order of first appearance (each user's rows keep their
/// shuffled order); per user visit the implicit part |N(u)|^-½ Σ y_j is computed once, each rating
/// takes the per-rating step on p_u, q_i, b_u, b_i (the same step as `sgd_update`), and at the end of
/// the visit every y_j, j ∈ N(u), takes ONE step
///
///     y_j ← y_j − lr·implicit_lr_scale · 2(|N(u)|^-½ Σ_{visit} e·q_i + λ_y y_j)
///
/// (q_i as it was when its rating was visited). This is the gradient of the visit's rows' squared
/// errors plus the user's λ_y term, at a separate rate. It costs O(dims) per rating plus
/// O(|N(u)|·dims) per user per epoch, instead of O(|N(u)|·dims) per rating.
///
/// Options map onto the usual ½e² convention (η, η_y) as lr = η/2, implicit_lr_scale = η_y/η.

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/models/detail/sgd_rows.hpp>
#include <metarec/models/detail/layout_model.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// Options of `SvdppMF`.
struct SvdppOptions {
  int dims = 32;                    ///< latent dimensions k
  double reg = 0.05;                ///< λ on p_u and q_i (per rating)
  double bias_reg = 0.02;           ///< λ_b on b_u and b_i (per rating)
  double implicit_reg = 0.05;       ///< λ_y on the implicit vectors y_j (once per user of a batch)
  double implicit_lr_scale = 0.05;  ///< rate of the delayed y step of `sgd_update_rows`, × lr
  double init_std = 0.01;           ///< p and q start N(0, init_std²); y and biases start at 0
  double global_mean = 0.0;         ///< μ (fixed, not learned)
};

/// SVD++ over `RatingBatch`es; satisfies `metarec::Model` (see the file comment).
/// @tparam S float or double
/// @code
/// metarec::SvdppMF<float> model(ds, split.train,
///     {.dims = 256, .global_mean = ds.mean_rating(split.train)});
/// metarec::Vector<float> theta(model.num_parameters());
/// metarec::Rng rng(1);
/// model.initialize(theta, rng);
/// metarec::Sgd<float> sgd{{.lr = 0.01}};
/// metarec::fit(model, theta, sgd, ds, split.train,
///              {.epochs = 30, .batch_size = 1, .seed = 1, .patience = 3, .lr_decay = 0.95},
///              metarec::RmseOn{model, ds, split.valid});
/// @endcode
template <class S = float>
class SvdppMF : public detail::LayoutModel<SvdppMF<S>, S> {
 public:
  /// @param data            the data set (its users and items size the tables)
  /// @param implicit_rows   the rows whose items form N(u): the training rows
  /// @throws std::invalid_argument when dims < 1, there are no users or items, or a row is outside
  ///         the data set.
  SvdppMF(const Dataset& data, std::span<const RowIndex> implicit_rows, SvdppOptions options = {})
      : opt_(options), num_users_(data.num_users()), num_items_(data.num_items()) {
    (void)this->checked_user_rows(num_users_, num_items_, false, {{"dims", opt_.dims}});
    P_ = this->layout_.add("user_factors", opt_.dims, num_users_);
    Q_ = this->layout_.add("item_factors", opt_.dims, num_items_);
    Y_ = this->layout_.add("implicit_factors", opt_.dims, num_items_);
    bu_ = this->layout_.add("user_bias", 1, num_users_);
    bi_ = this->layout_.add("item_bias", 1, num_items_);
    // N(u) as CSR, each user's items sorted and unique.
    for (const RowIndex r : implicit_rows)
      this->require(r < data.num_ratings(), "implicit row " + std::to_string(r) +
                                          " is outside the data set (" +
                                          std::to_string(data.num_ratings()) + " ratings)");
    const CompressedIndex by_user = CompressedIndex::group(
        implicit_rows, num_users_, [&](RowIndex r) { return data.user(r); });
    offsets_.assign(num_users_ + 1, 0);
    items_.reserve(implicit_rows.size());
    norm_.assign(num_users_, S(0));
    for (std::uint32_t u = 0; u < num_users_; ++u) {
      const std::size_t first = items_.size();
      for (const RowIndex r : by_user[u]) items_.push_back(data.item(r));
      std::sort(items_.begin() + static_cast<std::ptrdiff_t>(first), items_.end());
      items_.erase(std::unique(items_.begin() + static_cast<std::ptrdiff_t>(first), items_.end()),
                   items_.end());
      offsets_[u + 1] = static_cast<std::uint32_t>(items_.size());
      const std::size_t n = items_.size() - first;
      if (n > 0) norm_[u] = static_cast<S>(1.0 / std::sqrt(static_cast<double>(n)));
    }
  }

  using Options = SvdppOptions;

  /// N(u): the distinct items of user u in the implicit (training) rows, ascending.
  [[nodiscard]] std::span<const std::uint32_t> implicit_items(std::uint32_t u) const noexcept {
    return {items_.data() + offsets_[u], items_.data() + offsets_[u + 1]};
  }

  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {P_, Q_}, opt_.init_std);
  }

  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RatingBatch& batch) const {
    this->check_size("loss", theta.size());
    NullSink sink;
    return gradient_into<false>(theta, batch, sink);
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from detail::SinkModelEntryPoints (sink_entry_points.hpp).

  /// Predictions; z_u is computed once per distinct user of the batch (so predicting many rows in
  /// one call is cheaper than many small calls).
  void predict(const ConstVectorRef<S>& theta, const RatingBatch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.size());
    const Eigen::Index k = P_.rows;
    Vector<S> ys(k);
    const S* t = theta.data();
    for_each_user(batch, [&](std::uint32_t u, std::span<const std::size_t> pos) {
      implicit_part(t, u, ys.data(), nullptr);
      const S* p = t + P_.offset + static_cast<Eigen::Index>(u) * k;
      for (const std::size_t b : pos) {
        const std::uint32_t i = batch.data->item(batch.rows[b]);
        out[static_cast<Eigen::Index>(b)] = raw_score(t, p, ys.data(), u, i);
      }
    });
  }

  /// Task-local segments: the factors and bias of each user in the batch, once each.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    this->append_per_entity(batch.rows, out, [&](RowIndex r) { return batch.data->user(r); },
                            [&](std::uint32_t u, std::vector<Segment>& o) {
                              o.insert(o.end(), {P_.column(u), bu_.column(u)});
                            });
  }


  /// Generic per-rating SGD step (`HasSgdUpdate`): exactly `loss_and_gradient` on the one-row
  /// batch {row} followed by `Sgd::step` with `lr`, y_j of every j ∈ N(u) included. Returns the
  /// row's loss before the step; θ untouched when it is not finite. No size checks.
  /// Allocation-free for dims <= 512.
  S sgd_update(VectorRef<S> theta, const Dataset& data, RowIndex row, S lr) const noexcept {
    S* t = theta.data();
    const Eigen::Index k = P_.rows;
    const std::uint32_t u = data.user(row), i = data.item(row);
    S stack[2 * max_stack_dims];
    std::vector<S> heap;
    S* ys = stack;
    if (k > max_stack_dims) {
      heap.resize(static_cast<std::size_t>(2 * k));
      ys = heap.data();
    }
    S* gz = ys + k;
    double ysq = 0.0;
    implicit_part(t, u, ys, &ysq);
    double loss;
    const S e = row_error(t, u, i, ys, data.rating(row), loss);
    loss += opt_.implicit_reg * ysq;
    if (!std::isfinite(loss)) return static_cast<S>(loss);
    std::fill(gz, gz + k, S(0));
    rating_step(t, u, i, ys, e, S(2) * lr, gz);  // gz = e·q (old q)
    // the gradient of the one-row batch for y_j is 2(nrm·e·q + λ_y y_j); Sgd::step subtracts lr·g
    const S nrm = norm_[u];
    const S ry = static_cast<S>(opt_.implicit_reg);
    for (std::uint32_t a = offsets_[u]; a < offsets_[u + 1]; ++a) {
      S* y = t + Y_.offset + static_cast<Eigen::Index>(items_[a]) * k;
      for (Eigen::Index j = 0; j < k; ++j) y[j] -= lr * (S(2) * (nrm * gz[j] + ry * y[j]));
    }
    return static_cast<S>(loss);
  }

  /// Whole-epoch delayed-implicit SGD (see the file comment: NOT the sequence of `sgd_update`
  /// calls that `HasSgdUpdateRows` describes for other models). Groups `rows` by user in order of
  /// first appearance, each user's rows in their given order; per rating the step of `sgd_update` on
  /// p_u, q_i, b_u, b_i with z_u's implicit part computed once per visit; at the end of each visit
  /// one step on y_j, j ∈ N(u), at rate lr·implicit_lr_scale. Adds each rating's loss (as
  /// `sgd_update` would report it at that point: its y penalty included) to `loss_sum`. Stops at the
  /// first rating whose loss is not finite (θ not updated by it, nor the y step of its user's visit)
  /// and returns its position in `rows`; else rows.size(). Allocates its scratch once per call (per
  /// epoch), nothing per rating. No size checks. After each rating's step `observe(k, loss)` (k:
  /// ratings stepped before it, in visit order); when it says true, the visit's y step is taken
  /// and the loop returns k + 1 (train/fused_sgd.hpp).
  template <class Observe = detail::NoRowObserver>
  std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset& data, std::span<const RowIndex> rows,
                              S lr, double& loss_sum, Observe&& observe = {}) const {
    S* t = theta.data();
    const Eigen::Index k = P_.rows;
    const std::size_t n = rows.size();
    // group by user, order of first appearance, stable within a user (counting sort)
    std::vector<std::uint32_t> start(num_users_, 0);
    std::vector<std::uint32_t> visit_users;
    visit_users.reserve(std::min<std::size_t>(n, num_users_));
    const std::uint32_t* const users = data.users().data();
    for (std::size_t b = 0; b < n; ++b) {
      const std::uint32_t u = users[rows[b]];
      if (start[u]++ == 0) visit_users.push_back(u);
    }
    std::uint32_t acc = 0;
    for (const std::uint32_t u : visit_users) {
      const std::uint32_t c = start[u];
      start[u] = acc;
      acc += c;
    }
    std::vector<std::uint32_t> grouped(n);
    for (std::size_t b = 0; b < n; ++b) grouped[start[users[rows[b]]]++] = static_cast<std::uint32_t>(b);
    Vector<S> scratch(2 * k);
    S* const ys = scratch.data();
    S* const gz = ys + k;
    const std::uint32_t* const items = data.items().data();
    const float* const ratings = data.ratings().data();
    const S lr2 = S(2) * lr;
    const S ly2 = static_cast<S>(static_cast<double>(lr2) * opt_.implicit_lr_scale);
    const S ry = static_cast<S>(opt_.implicit_reg);
    double sum = 0.0;
    std::size_t g = 0;
    bool stop = false;
    for (const std::uint32_t u : visit_users) {
      double ysq = 0.0;
      implicit_part(t, u, ys, &ysq);
      const double ypen = opt_.implicit_reg * ysq;
      std::fill(gz, gz + k, S(0));
      const std::size_t g_end = start[u];  // after the fill, start[u] is the end of u's group
      for (; g < g_end; ++g) {
        const std::size_t b = grouped[g];
        const RowIndex r = rows[b];
        const std::uint32_t i = items[r];
        double loss;
        const S e = row_error(t, u, i, ys, ratings[r], loss);
        loss += ypen;
        if (!std::isfinite(loss)) {
          loss_sum += sum;
          return b;
        }
        sum += loss;
        rating_step(t, u, i, ys, e, lr2, gz);
        if (observe(g, loss)) {
          stop = true;
          ++g;
          break;
        }
      }
      const S nrm = norm_[u];
      for (Eigen::Index j = 0; j < k; ++j) gz[j] *= nrm;
      for (std::uint32_t a = offsets_[u]; a < offsets_[u + 1]; ++a) {
        S* y = t + Y_.offset + static_cast<Eigen::Index>(items_[a]) * k;
        for (Eigen::Index j = 0; j < k; ++j) y[j] -= ly2 * (gz[j] + ry * y[j]);
      }
      if (stop) {
        loss_sum += sum;
        return g;
      }
    }
    loss_sum += sum;
    return n;
  }

 private:
  static constexpr Eigen::Index max_stack_dims = 512;
  static double sq(S x) noexcept { return static_cast<double>(x) * static_cast<double>(x); }

  struct NullSink {};
  using CMap = Eigen::Map<const Vector<S>>;

  // ys = |N(u)|^-½ Σ_{j∈N(u)} y_j (summed in N(u)'s order, then scaled); *ysq = Σ ‖y_j‖².
  void implicit_part(const S* t, std::uint32_t u, S* ys, double* ysq) const noexcept {
    const Eigen::Index k = P_.rows;
    Eigen::Map<Vector<S>> acc(ys, k);
    acc.setZero();
    double total = 0.0;
    for (std::uint32_t a = offsets_[u]; a < offsets_[u + 1]; ++a) {
      const CMap y(t + Y_.offset + static_cast<Eigen::Index>(items_[a]) * k, k);
      acc += y;
      if (ysq) total += static_cast<double>(y.squaredNorm());
    }
    acc *= norm_[u];
    if (ysq) *ysq = total;
  }

  // μ + b_u + b_i + (p + ys)·q
  S raw_score(const S* t, const S* p, const S* ys, std::uint32_t u, std::uint32_t i) const noexcept {
    const Eigen::Index k = P_.rows;
    const S d = (CMap(p, k) + CMap(ys, k)).dot(CMap(t + Q_.offset + static_cast<Eigen::Index>(i) * k, k));
    return static_cast<S>(opt_.global_mean) + t[bu_.offset + u] + t[bi_.offset + i] + d;
  }

  // e = r̂ − r and the rating's loss without the y penalty: e² + λ(‖p‖² + ‖q‖²) + λ_b(b_u² + b_i²).
  S row_error(const S* t, std::uint32_t u, std::uint32_t i, const S* ys, float rating,
              double& loss) const noexcept {
    const Eigen::Index k = P_.rows;
    const S* p = t + P_.offset + static_cast<Eigen::Index>(u) * k;
    const S* q = t + Q_.offset + static_cast<Eigen::Index>(i) * k;
    // (p + ys)·q, ‖p‖², ‖q‖² in one pass with packets two SIMD registers wide (a plain loop would
    // stay scalar: no reassociation without -ffast-math), lanes summed at the end, scalar tail.
    constexpr Eigen::Index W = static_cast<Eigen::Index>(32 / sizeof(S));
    using A = Eigen::Array<S, W, 1>;
    using M = Eigen::Map<const A, Eigen::Unaligned>;
    const Eigen::Index kv = k - k % W;
    A ad = A::Zero(), ap = A::Zero(), aq = A::Zero();
    for (Eigen::Index j = 0; j < kv; j += W) {
      const A a = M(p + j), b = M(q + j);
      ad += (a + M(ys + j)) * b;
      ap += a * a;
      aq += b * b;
    }
    S d = ad.sum(), pn = ap.sum(), qn = aq.sum();
    for (Eigen::Index j = kv; j < k; ++j) {
      d += (p[j] + ys[j]) * q[j];
      pn += p[j] * p[j];
      qn += q[j] * q[j];
    }
    const S bu = t[bu_.offset + u], bi = t[bi_.offset + i];
    const S e = static_cast<S>(opt_.global_mean) + bu + bi + d - static_cast<S>(rating);
    loss = sq(e) + opt_.reg * (static_cast<double>(pn) + static_cast<double>(qn)) +
           opt_.bias_reg * (sq(bu) + sq(bi));
    return e;
  }

  // The per-rating step on p_u, q_i, b_u, b_i (all from their old values), lr2 = 2·lr; adds e·q_i
  // (old q_i) to gz, the accumulator of the y step.
  void rating_step(S* t, std::uint32_t u, std::uint32_t i, const S* __restrict ys, S e, S lr2,
                   S* __restrict gz) const noexcept {
    const Eigen::Index k = P_.rows;
    S* __restrict p = t + P_.offset + static_cast<Eigen::Index>(u) * k;
    S* __restrict q = t + Q_.offset + static_cast<Eigen::Index>(i) * k;
    const S reg = static_cast<S>(opt_.reg);
    for (Eigen::Index j = 0; j < k; ++j) {
      const S pj = p[j], qj = q[j];
      gz[j] += e * qj;
      p[j] = pj - lr2 * (e * qj + reg * pj);
      q[j] = qj - lr2 * (e * (pj + ys[j]) + reg * qj);
    }
    const S breg = static_cast<S>(opt_.bias_reg);
    S* bu = t + bu_.offset + u;
    S* bi = t + bi_.offset + i;
    const S bu0 = *bu, bi0 = *bi;
    *bu = bu0 - lr2 * (e + breg * bu0);
    *bi = bi0 - lr2 * (e + breg * bi0);
  }

  // Calls f(u, positions) once per distinct user of the batch, users ascending, each user's
  // positions (indices into batch.rows) ascending.
  template <class F>
  void for_each_user(const RatingBatch& batch, F&& f) const {
    const std::size_t n = batch.size();
    std::vector<std::size_t> pos(n);
    std::iota(pos.begin(), pos.end(), std::size_t{0});
    std::sort(pos.begin(), pos.end(), [&](std::size_t a, std::size_t b) {
      const std::uint32_t ua = batch.data->user(batch.rows[a]), ub = batch.data->user(batch.rows[b]);
      return ua != ub ? ua < ub : a < b;
    });
    std::size_t s = 0;
    while (s < n) {
      const std::uint32_t u = batch.data->user(batch.rows[pos[s]]);
      std::size_t e = s + 1;
      while (e < n && batch.data->user(batch.rows[pos[e]]) == u) ++e;
      f(u, std::span<const std::size_t>(pos.data() + s, e - s));
      s = e;
    }
  }

  // Grad = false: the loss alone (`loss`, with a NullSink). The default, true, is what the
  // inherited loss_and_gradient entry points (SinkModelEntryPoints) call.
  template <bool Grad = true, class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, Sink& g) const {
    if (batch.rows.empty()) return S(0);
    const Eigen::Index k = P_.rows;
    const S* t = theta.data();
    const S scale = S(2) / static_cast<S>(batch.size());
    const detail::PenaltyScalars<S> lam(opt_, opt_.implicit_reg);
    Vector<S> ys(k), gz(k);
    double total = 0.0;
    for_each_user(batch, [&](std::uint32_t u, std::span<const std::size_t> pos) {
      double ysq = 0.0;
      implicit_part(t, u, ys.data(), &ysq);
      total += opt_.implicit_reg * ysq;
      gz.setZero();
      const Eigen::Map<const Vector<S>> p(t + P_.offset + static_cast<Eigen::Index>(u) * k, k);
      for (const std::size_t b : pos) {
        const RowIndex r = batch.rows[b];
        const std::uint32_t i = batch.data->item(r);
        double loss;
        const S e = row_error(t, u, i, ys.data(), batch.data->rating(r), loss);
        total += loss;
        if constexpr (Grad) {
          const Eigen::Map<const Vector<S>> q(t + Q_.offset + static_cast<Eigen::Index>(i) * k, k);
          gz += e * q;
          g.segment(P_.column(u)) += scale * (e * q + lam.reg * p);
          g.segment(Q_.column(i)) += scale * (e * (p + ys) + lam.reg * q);
          g.segment(bu_.column(u))[0] += scale * (e + lam.breg * t[bu_.offset + u]);
          g.segment(bi_.column(i))[0] += scale * (e + lam.breg * t[bi_.offset + i]);
        }
      }
      if constexpr (Grad) {
        const S nrm = norm_[u];
        for (std::uint32_t a = offsets_[u]; a < offsets_[u + 1]; ++a) {
          const Eigen::Map<const Vector<S>> y(t + Y_.offset + static_cast<Eigen::Index>(items_[a]) * k, k);
          g.segment(Y_.column(items_[a])) += scale * (nrm * gz + lam.extra * y);
        }
      }
    });
    return static_cast<S>(total / static_cast<double>(batch.size()));
  }

  // H·v: per rating 2[∇r̂ (∇r̂ᵀv) + e ∇²r̂ v + λ v] with ∇²r̂ coupling q_i with p_u and the y_j;
  // per user 2λ_y v_y.
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    if (batch.rows.empty()) return;
    const Eigen::Index k = P_.rows;
    const S* t = theta.data();
    const S scale = S(2) / static_cast<S>(batch.size());
    const detail::PenaltyScalars<S> lam(opt_, opt_.implicit_reg);
    Vector<S> ys(k), vys(k), hz(k);
    for_each_user(batch, [&](std::uint32_t u, std::span<const std::size_t> pos) {
      implicit_part(t, u, ys.data(), nullptr);
      implicit_part(v.data(), u, vys.data(), nullptr);
      hz.setZero();
      const Eigen::Map<const Vector<S>> p(t + P_.offset + static_cast<Eigen::Index>(u) * k, k);
      const Eigen::Map<const Vector<S>> vp(v.data() + P_.offset + static_cast<Eigen::Index>(u) * k, k);
      const Vector<S> z = p + ys;
      const Vector<S> vz = vp + vys;
      for (const std::size_t b : pos) {
        const RowIndex r = batch.rows[b];
        const std::uint32_t i = batch.data->item(r);
        const Eigen::Map<const Vector<S>> q(t + Q_.offset + static_cast<Eigen::Index>(i) * k, k);
        const Eigen::Map<const Vector<S>> vq(v.data() + Q_.offset + static_cast<Eigen::Index>(i) * k, k);
        const S e = static_cast<S>(opt_.global_mean) + t[bu_.offset + u] + t[bi_.offset + i] + z.dot(q) -
                    static_cast<S>(batch.data->rating(r));
        const S jv = q.dot(vz) + z.dot(vq) + v[bu_.offset + u] + v[bi_.offset + i];
        hz += jv * q + e * vq;
        out.segment(P_.column(u)) += scale * (jv * q + e * vq + lam.reg * vp);
        out.segment(Q_.column(i)) += scale * (jv * z + e * vz + lam.reg * vq);
        out.segment(bu_.column(u))[0] += scale * (jv + lam.breg * v[bu_.offset + u]);
        out.segment(bi_.column(i))[0] += scale * (jv + lam.breg * v[bi_.offset + i]);
      }
      const S nrm = norm_[u];
      for (std::uint32_t a = offsets_[u]; a < offsets_[u + 1]; ++a) {
        const Eigen::Map<const Vector<S>> vy(v.data() + Y_.offset + static_cast<Eigen::Index>(items_[a]) * k, k);
        out.segment(Y_.column(items_[a])) += scale * (nrm * hz + lam.extra * vy);
      }
    });
  }

  friend detail::LayoutModel<SvdppMF<S>, S>;  // reads model_name, opt_ and the passes
  static constexpr const char* model_name = "SvdppMF";  // in messages
  Options opt_;
  std::uint32_t num_users_;
  std::uint32_t num_items_;
  Block P_, Q_, Y_, bu_, bi_;
  std::vector<std::uint32_t> offsets_;  // CSR of N(u)
  std::vector<std::uint32_t> items_;
  std::vector<S> norm_;                 // |N(u)|^-½ (0 for an empty N(u))
};

}  // namespace metarec
