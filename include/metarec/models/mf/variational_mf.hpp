#pragma once
/// @file variational_mf.hpp
/// @brief Variational matrix factorisation: Gaussian user and item embeddings trained with the
/// reparameterisation trick and a KL penalty towards a Gaussian prior.
///
/// Each user u has a posterior q(z_u) = N(m_u, diag σ_u²), each item likewise, with
/// σ = softplus(ρ) = log(1 + e^ρ) (ρ is what θ stores). Softplus rather than exp(log σ): its
/// derivative sigmoid(ρ) is bounded by 1, so a large step on ρ cannot blow σ up exponentially (the
/// Bayes-by-Backprop choice); the price is a slightly longer KL derivative, which the code handles.
///
/// For a rating (u, i, r) the noise ε_u, ε_i ~ N(0, I) is drawn from
/// `Rng(derive_seed(batch.seed, row))` (row = the data set's row number), so the loss is a
/// deterministic function of (θ, batch): gradient and HVP checks stay meaningful, and a new
/// `batch.seed` draws new noise. With `samples` = S draws per rating, for s = 1..S:
///
///     z_u = m_u + σ_u ⊙ ε_u,s    z_i = m_i + σ_i ⊙ ε_i,s    r̂_s = μ + b_u + b_i + z_uᵀ z_i
///
///     L = 1/|B| Σ_{(u,i,r)∈B} [ 1/S Σ_s (r̂_s − r)² + β (KL_u + KL_i) + λ_b (b_u² + b_i²) ]
///
///     KL(N(m, diag σ²) ‖ N(0, s_p² I)) = Σ_j [ log(s_p/σ_j) + (σ_j² + m_j²)/(2 s_p²) − 1/2 ]
///
/// The KL of the user and of the item is charged once per rating that touches them (the per-rating
/// convention of the other MF models' L2 penalties), with a real weight β = `kl_weight` (default
/// 1e-3). The study this library reproduces used β = 1e-10, which made the KL (≈ 2 nats per
/// dimension at initialisation) contribute ~1e-8 per rating against squared errors near 1: the
/// "variational" model was a noisy MF with no prior at all. Fixed here: at the default the KL is of
/// order 0.1 per rating at initialisation (≈ 6 % of the loss on the test data), it pulls σ towards the
/// prior and the means towards 0. For the true ELBO with Gaussian noise variance σ_n², β would be
/// 2σ_n²/n per entity with n its rating count (≈ 1e-2 on ML-1M if σ_n² ≈ 0.8); 1e-3 is a
/// tempered (down-weighted) prior, a choice, not a tuned value. Set β per data set; β = 0 gives MF with Gaussian weight noise.
///
/// Prediction uses the posterior mean: E[r̂] = μ + b_u + b_i + E[z_u]ᵀE[z_i] = μ + b_u + b_i +
/// m_uᵀ m_i (z_u, z_i independent), no noise.
///
/// Gradient: hand-derived (see `row_gradient`). Hessian-vector product: exact for the fixed noise,
/// computed by running the same gradient code on forward-mode dual numbers (core/dual.hpp) with the
/// rating's parameters lifted to Dual(θ_k, v_k): the tangents are H·v. Second derivatives of
/// softplus and log σ would otherwise be derived and kept in sync by hand.
///
/// Layout of θ: user means (dims × users), user ρ (dims × users), item means, item ρ, user bias,
/// item bias. Task-local segments (MAML): the user's mean, ρ and bias. Cost O(|B| · dims · S).

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

/// Options of `VariationalMF`.
struct VariationalMFOptions {
  int dims = 32;               ///< latent dimensions k
  int samples = 1;             ///< reparameterised draws per rating in the loss
  double kl_weight = 1e-3;     ///< β on KL(q ‖ prior), per rating (see the file comment)
  double prior_std = 1.0;      ///< s_p, the prior N(0, s_p² I)
  double bias_reg = 0.02;      ///< λ_b on biases (L2; biases are point estimates)
  double init_std = 0.1;       ///< means start N(0, init_std²)
  double init_sigma = 0.1;     ///< σ starts here (ρ = softplus⁻¹(init_sigma)); biases start at 0
  double global_mean = 0.0;    ///< μ (fixed, not learned)
  bool shared_user = false;    ///< every user reads one shared posterior (cold-start / MAML mode)
};

/// Variational MF over `RatingBatch`es; satisfies `metarec::Model` with exact gradient, exact
/// Hessian-vector product for the batch's noise (dense and sparse), sparse gradients and
/// task-local segments.
/// @tparam S float or double
/// @code
/// metarec::VariationalMF<double> vmf(ds.num_users(), ds.num_items(),
///     {.dims = 32, .kl_weight = 1e-3, .global_mean = ds.mean_rating(split.train)});
/// metarec::Vector<double> theta(vmf.num_parameters());
/// metarec::Rng rng(1);
/// vmf.initialize(theta, rng);
/// metarec::RatingBatch batch{&ds, split.train, /*seed=*/step};  // new noise every step
/// metarec::Vector<double> grad(vmf.num_parameters());
/// double loss = vmf.loss_and_gradient(theta, batch, grad);
/// @endcode
template <class S = float>
class VariationalMF : public detail::LayoutModel<VariationalMF<S>, S> {
 public:
  /// @param num_users number of users (may be 0 with `shared_user`)
  /// @param num_items number of items
  /// @param options hyperparameters
  /// @throws std::invalid_argument when dims < 1, samples < 1, kl_weight < 0, prior_std <= 0,
  ///         init_sigma <= 0, or there are no users or items.
  VariationalMF(std::uint32_t num_users, std::uint32_t num_items, VariationalMFOptions options = {})
      : opt_(options) {
    this->require(opt_.kl_weight >= 0 && opt_.prior_std > 0 && opt_.init_sigma > 0,
            "need kl_weight >= 0, prior_std > 0 and init_sigma > 0 (got " +
                std::to_string(opt_.kl_weight) + ", " + std::to_string(opt_.prior_std) + ", " +
                std::to_string(opt_.init_sigma) + ")");
    const Eigen::Index user_rows = this->checked_user_rows(
        num_users, num_items, opt_.shared_user, {{"dims", opt_.dims}, {"samples", opt_.samples}});
    Mu_ = this->layout_.add("user_mean", opt_.dims, user_rows);
    Ru_ = this->layout_.add("user_rho", opt_.dims, user_rows);
    Mi_ = this->layout_.add("item_mean", opt_.dims, num_items);
    Ri_ = this->layout_.add("item_rho", opt_.dims, num_items);
    bu_ = this->layout_.add("user_bias", 1, user_rows);
    bi_ = this->layout_.add("item_bias", 1, num_items);
  }

  using Options = VariationalMFOptions;


  /// Means N(0, init_std²), ρ = softplus⁻¹(init_sigma), biases 0. Overwrites θ.
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->zero_then_normal(theta, rng, {Mu_, Mi_}, opt_.init_std);
    const S rho0 = static_cast<S>(inverse_softplus(opt_.init_sigma));
    theta.segment(Ru_.offset, Ru_.size()).setConstant(rho0);
    theta.segment(Ri_.offset, Ri_.size()).setConstant(rho0);
  }

  /// ρ with softplus(ρ) = σ: log(e^σ − 1), stable for small and large σ.
  [[nodiscard]] static double inverse_softplus(double sigma) noexcept {
    return sigma > 20.0 ? sigma + std::log1p(-std::exp(-sigma)) : std::log(std::expm1(sigma));
  }

  /// KL(N(m, diag softplus(ρ)²) ‖ N(0, s_p² I)) in closed form (s_p = prior_std).
  /// @throws std::invalid_argument when m and ρ differ in size.
  [[nodiscard]] double kl_divergence(const ConstVectorRef<S>& mean,
                                     const ConstVectorRef<S>& rho) const {
    if (mean.size() != rho.size())
      throw std::invalid_argument("VariationalMF::kl_divergence: mean has " +
                                  std::to_string(mean.size()) + " entries, rho " +
                                  std::to_string(rho.size()));
    const CVec<S> m(mean.data(), mean.size()), r(rho.data(), rho.size());
    return static_cast<double>(kl(m, r));
  }

  /// Mean loss (squared error over the batch's noise, KL and bias penalties).
  /// @throws std::invalid_argument when θ has the wrong size.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const RatingBatch& batch) const {
    this->check_size("loss", theta.size());
    Scratch<S> sc(opt_);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      draw_noise(batch.seed, r, sc);
      const auto [u, i] = this->ids(batch, r);
      total += static_cast<double>(row_loss(view(theta, u, i), rating(batch, r), sc));
    });
  }

  // loss_and_gradient and hessian_vector_product, dense and sparse, with their size checks:
  // inherited from detail::SinkModelEntryPoints (sink_entry_points.hpp).

  /// Posterior-mean prediction μ + b_u + b_i + m_uᵀm_i per batch row (overwritten); no noise.
  /// @throws std::invalid_argument when θ or out has the wrong size.
  void predict(const ConstVectorRef<S>& theta, const RatingBatch& batch, VectorRef<S> out) const {
    this->check_predict(theta, out.size(), batch.size());
    for (std::size_t k = 0; k < batch.rows.size(); ++k) {
      const auto [u, i] = this->ids(batch, batch.rows[k]);
      out[static_cast<Eigen::Index>(k)] = score(theta, u, i);
    }
  }

  /// Posterior-mean prediction for one (user, item) pair by dense index (user 0 if shared).
  [[nodiscard]] S score(const ConstVectorRef<S>& theta, std::uint32_t u, std::uint32_t i) const {
    if (opt_.shared_user) u = 0;
    return static_cast<S>(opt_.global_mean) + theta[bu_.offset + u] + theta[bi_.offset + i] +
           col(theta, Mu_, u).dot(col(theta, Mi_, i));
  }

  /// Fused plain-SGD step on one rating whose one-row batch has noise seed `seed`
  /// (`HasSeededSgdUpdate`, docs/model_concept.md; `fit` passes the seed its generic path gives that
  /// batch): the loss of the one-row batch {&data, {row}, seed} and, when it is finite,
  /// θ ← θ − lr·∇ on the user's and the item's mean, ρ and bias, in place, with exactly the
  /// arithmetic of `loss_and_gradient` + `Sgd::step` (the same ε from Rng(derive_seed(seed, row)),
  /// so the same θ bit for bit without FMA contraction). No gradient buffer; no allocation up to
  /// kStackDims dims and kStackSamples samples. No checks (innermost loop): θ must have
  /// this->num_parameters() entries and `data` this model's users and items.
  S sgd_update(VectorRef<S> theta, const Dataset& data, RowIndex row, S lr, std::uint64_t seed) const {
    return with_scratch([&](auto& sc) { return sgd_step(theta.data(), data, row, lr, seed, sc); });
  }

  /// `sgd_update` over `rows` in order, row b with noise seed `seeds(b)` (`HasSeededSgdUpdateRows`,
  /// trainer.hpp): one scratch for the whole run; adds each loss to `loss_sum`; stops at the first
  /// non-finite loss (that row not applied) and returns its position, else rows.size().
  template <class Observe = detail::NoRowObserver>
  std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset& data, std::span<const RowIndex> rows,
                              S lr, double& loss_sum, const BatchSeeds& seeds,
                              Observe&& observe = {}) const {
    auto hint = [&](RowIndex r) {  // the parameters row r touches (cache hint)
      const std::uint32_t u = opt_.shared_user ? 0u : data.user(r), i = data.item(r);
      for (const Segment& s : {Mu_.column(u), Ru_.column(u), Mi_.column(i), Ri_.column(i)})
        detail::prefetch_range<true>(theta.data() + s.offset, s.size);
      detail::prefetch<true>(theta.data() + bu_.offset + u);
      detail::prefetch<true>(theta.data() + bi_.offset + i);
    };
    return with_scratch([&](auto& sc) {
      std::size_t b = 0;
      return detail::sgd_rows(rows, loss_sum, data, [&](RowIndex r) {
        return sgd_step(theta.data(), data, r, lr, seeds(b++), sc);
      }, hint, observe);
    });
  }

  /// Task-local segments: each batch user's mean, ρ and bias, once each.
  void local_segments(const RatingBatch& batch, std::vector<Segment>& out) const {
    this->append_per_entity(batch.rows, out, [&](RowIndex r) { return this->user_index(batch, r); },
                            [&](std::uint32_t u, std::vector<Segment>& o) {
                              o.insert(o.end(), {Mu_.column(u), Ru_.column(u), bu_.column(u)});
                            });
  }


 private:
  template <class T>
  using CVec = Eigen::Map<const Vector<T>>;

  // The parameters one rating reads, as views of arithmetic type T (θ itself, or lifted duals).
  template <class T>
  struct RowView {
    CVec<T> mu, rho_u, mi, rho_i;
    T bu, bi;
  };

  // Per-call scratch, reused for every row: the noise (dims × samples, user and item), σ,
  // sigmoid(ρ), z and the row gradient. MaxD/MaxS > 0: Eigen's fixed-capacity storage (on the
  // stack, no allocation; dims <= MaxD and samples <= MaxS); Dynamic: heap.
  static constexpr int kStackDims = 64;
  static constexpr int kStackSamples = 4;
  template <class T, int MaxD = Eigen::Dynamic, int MaxS = Eigen::Dynamic>
  struct Scratch {
    using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1, 0, MaxD, 1>;
    using Eps = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, 0, MaxD, MaxS>;
    explicit Scratch(const Options& o)
        : eps_u(o.dims, o.samples), eps_i(o.dims, o.samples), sig_u(o.dims), sig_i(o.dims),
          sg_u(o.dims), sg_i(o.dims), zu(o.dims), zi(o.dims), g_mu(o.dims), g_rho_u(o.dims),
          g_mi(o.dims), g_rho_i(o.dims) {}
    Eps eps_u, eps_i;
    Vec sig_u, sig_i, sg_u, sg_i, zu, zi;
    Vec g_mu, g_rho_u, g_mi, g_rho_i;
    T g_bu = T(0), g_bi = T(0);
  };
  // f(scratch): a stack scratch up to kStackDims dims and kStackSamples samples, else a heap one.
  template <class F>
  decltype(auto) with_scratch(F&& f) const {
    return detail::with_scratch<Scratch<S, kStackDims, kStackSamples>, Scratch<S>>(
        opt_.dims <= kStackDims && opt_.samples <= kStackSamples, opt_, f);
  }

  struct DualInputs {
    explicit DualInputs(const Options& o) : mu(o.dims), rho_u(o.dims), mi(o.dims), rho_i(o.dims) {}
    Vector<Dual<S>> mu, rho_u, mi, rho_i;
  };

  static S rating(const RatingBatch& b, RowIndex r) noexcept { return static_cast<S>(b.data->rating(r)); }

  static CVec<S> col(const ConstVectorRef<S>& theta, const Block& blk, std::uint32_t c) noexcept {
    return CVec<S>(theta.data() + blk.offset + c * blk.rows, blk.rows);
  }
  [[nodiscard]] RowView<S> view(const ConstVectorRef<S>& theta, std::uint32_t u,
                                std::uint32_t i) const noexcept {
    return {col(theta, Mu_, u), col(theta, Ru_, u), col(theta, Mi_, i), col(theta, Ri_, i),
            theta[bu_.offset + u], theta[bi_.offset + i]};
  }

  // ε for one rating: per sample, dims normals for the user then dims for the item, from
  // Rng(derive_seed(batch seed, row)). A function of (seed, row) only.
  template <class Sc>
  void draw_noise(std::uint64_t seed, RowIndex r, Sc& sc) const {
    Rng rng(derive_seed(seed, r));
    for (Eigen::Index s = 0; s < opt_.samples; ++s) {
      for (Eigen::Index j = 0; j < opt_.dims; ++j) sc.eps_u(j, s) = static_cast<S>(rng.normal());
      for (Eigen::Index j = 0; j < opt_.dims; ++j) sc.eps_i(j, s) = static_cast<S>(rng.normal());
    }
  }

  // Closed-form KL of one Gaussian posterior against the prior, in arithmetic T.
  template <class T>
  [[nodiscard]] T kl(const CVec<T>& m, const CVec<T>& rho) const {
    using std::log;
    const S sp = static_cast<S>(opt_.prior_std);
    const S inv2 = S(1) / (S(2) * sp * sp);
    T total = T(0);
    for (Eigen::Index j = 0; j < m.size(); ++j) {
      const T sig = softplus(rho[j]);
      total += T(std::log(sp)) - log(sig) + (sig * sig + m[j] * m[j]) * T(inv2) - T(S(0.5));
    }
    return total;
  }

  // KL of one posterior from its means and σ = softplus(ρ) already computed: the same terms in
  // the same order as `kl`, so the same value bit for bit.
  template <class T, class V>
  [[nodiscard]] T kl_of_sigma(const CVec<T>& m, const V& sig) const {
    using std::log;
    const S sp = static_cast<S>(opt_.prior_std);
    const S inv2 = S(1) / (S(2) * sp * sp);
    T total = T(0);
    for (Eigen::Index j = 0; j < m.size(); ++j)
      total += T(std::log(sp)) - log(sig[j]) + (sig[j] * sig[j] + m[j] * m[j]) * T(inv2) - T(S(0.5));
    return total;
  }

  // softplus(x) and sigmoid(x) with one e^{−|x|} between them: the values of core/dual.hpp's
  // `softplus` and `sigmoid`, bit for bit (sigmoid's e^{−x} for x >= 0 and e^{x} for x < 0 are
  // both e^{−|x|}).
  static void softplus_sigmoid(S x, S& sp, S& sg) noexcept {
    const S e = std::exp(-std::abs(x));
    sp = (x > S(0) ? x : S(0)) + std::log1p(e);
    sg = x >= S(0) ? S(1) / (S(1) + e) : e / (S(1) + e);
  }
  static void softplus_sigmoid(const Dual<S>& x, Dual<S>& sp, Dual<S>& sg) noexcept {
    sp = softplus(x);
    sg = sigmoid(x);
  }

  template <class T, class Sc>
  [[nodiscard]] T row_loss(const RowView<T>& in, T r, Sc& sc) const {
    T sq = T(0);
    for (Eigen::Index j = 0; j < opt_.dims; ++j) {
      sc.sig_u[j] = softplus(in.rho_u[j]);
      sc.sig_i[j] = softplus(in.rho_i[j]);
    }
    const T base = T(static_cast<S>(opt_.global_mean)) + in.bu + in.bi - r;
    for (Eigen::Index s = 0; s < opt_.samples; ++s) {
      for (Eigen::Index j = 0; j < opt_.dims; ++j) {
        sc.zu[j] = in.mu[j] + sc.sig_u[j] * T(sc.eps_u(j, s));
        sc.zi[j] = in.mi[j] + sc.sig_i[j] * T(sc.eps_i(j, s));
      }
      const T e = base + sc.zu.dot(sc.zi);
      sq += e * e;
    }
    return sq / T(static_cast<S>(opt_.samples)) +
           T(static_cast<S>(opt_.kl_weight)) * (kl(in.mu, in.rho_u) + kl(in.mi, in.rho_i)) +
           T(static_cast<S>(opt_.bias_reg)) * (in.bu * in.bu + in.bi * in.bi);
  }

  // Gradient of one rating's loss (unscaled) into the scratch; returns that loss. Templated on T:
  // S for the gradient, Dual<S> for the HVP (the tangents of the result are H_row · v).
  //   ∂/∂m_u  = Σ_s c_s z_i + β m_u / s_p²
  //   ∂/∂ρ_u  = [Σ_s c_s z_i ⊙ ε_u,s + β (σ_u / s_p² − 1/σ_u)] ⊙ sigmoid(ρ_u)
  //   ∂/∂b_u  = Σ_s c_s + 2 λ_b b_u,      with c_s = 2 e_s / S
  // and symmetrically for the item.
  template <class T, class Sc>
  T row_gradient(const RowView<T>& in, T r, Sc& sc) const {
    const Eigen::Index d = opt_.dims;
    const S inv_s = S(1) / static_cast<S>(opt_.samples);
    const S beta = static_cast<S>(opt_.kl_weight);
    const S inv_sp2 = S(1) / static_cast<S>(opt_.prior_std * opt_.prior_std);
    for (Eigen::Index j = 0; j < d; ++j) {
      softplus_sigmoid(in.rho_u[j], sc.sig_u[j], sc.sg_u[j]);
      softplus_sigmoid(in.rho_i[j], sc.sig_i[j], sc.sg_i[j]);
    }
    // KL parts: ∂KL/∂m = m / s_p²; ∂KL/∂σ = σ / s_p² − 1/σ (the sigmoid factor comes last).
    sc.g_mu = T(beta * inv_sp2) * in.mu;
    sc.g_mi = T(beta * inv_sp2) * in.mi;
    for (Eigen::Index j = 0; j < d; ++j) {
      sc.g_rho_u[j] = T(beta) * (sc.sig_u[j] * T(inv_sp2) - T(S(1)) / sc.sig_u[j]);
      sc.g_rho_i[j] = T(beta) * (sc.sig_i[j] * T(inv_sp2) - T(S(1)) / sc.sig_i[j]);
    }
    const T base = T(static_cast<S>(opt_.global_mean)) + in.bu + in.bi - r;
    T sq = T(0), c_sum = T(0);
    for (Eigen::Index s = 0; s < opt_.samples; ++s) {
      for (Eigen::Index j = 0; j < d; ++j) {
        sc.zu[j] = in.mu[j] + sc.sig_u[j] * T(sc.eps_u(j, s));
        sc.zi[j] = in.mi[j] + sc.sig_i[j] * T(sc.eps_i(j, s));
      }
      const T e = base + sc.zu.dot(sc.zi);
      sq += e * e;
      const T c = T(S(2) * inv_s) * e;
      c_sum += c;
      for (Eigen::Index j = 0; j < d; ++j) {
        sc.g_mu[j] += c * sc.zi[j];
        sc.g_mi[j] += c * sc.zu[j];
        sc.g_rho_u[j] += c * sc.zi[j] * T(sc.eps_u(j, s));
        sc.g_rho_i[j] += c * sc.zu[j] * T(sc.eps_i(j, s));
      }
    }
    for (Eigen::Index j = 0; j < d; ++j) {
      sc.g_rho_u[j] *= sc.sg_u[j];
      sc.g_rho_i[j] *= sc.sg_i[j];
    }
    const T breg2 = T(static_cast<S>(2 * opt_.bias_reg));
    sc.g_bu = c_sum + breg2 * in.bu;
    sc.g_bi = c_sum + breg2 * in.bi;
    return sq * T(inv_s) + T(beta) * (kl_of_sigma(in.mu, sc.sig_u) + kl_of_sigma(in.mi, sc.sig_i)) +
           T(static_cast<S>(opt_.bias_reg)) * (in.bu * in.bu + in.bi * in.bi);
  }

  template <bool Tangent, class Sc, class Sink>
  void scatter(const Sc& sc, std::uint32_t u, std::uint32_t i, S scale, Sink& g) const {
    detail::add_scaled<Tangent>(g.segment(Mu_.column(u)), sc.g_mu, scale);
    detail::add_scaled<Tangent>(g.segment(Ru_.column(u)), sc.g_rho_u, scale);
    detail::add_scaled<Tangent>(g.segment(Mi_.column(i)), sc.g_mi, scale);
    detail::add_scaled<Tangent>(g.segment(Ri_.column(i)), sc.g_rho_i, scale);
    detail::add_scaled_scalar<Tangent>(g.segment(bu_.column(u)), sc.g_bu, scale);
    detail::add_scaled_scalar<Tangent>(g.segment(bi_.column(i)), sc.g_bi, scale);
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, Sink& g) const {
    const S scale = S(1) / static_cast<S>(batch.size());
    Scratch<S> sc(opt_);
    return this->batch_mean(batch.rows, [&](RowIndex r, double& total) {
      draw_noise(batch.seed, r, sc);
      const auto [u, i] = this->ids(batch, r);
      total += static_cast<double>(row_gradient(view(theta, u, i), rating(batch, r), sc));
      scatter<false>(sc, u, i, scale, g);
    });
  }

  // One fused SGD step (see sgd_update): gradient_into's arithmetic for a one-row batch
  // (scale 1/|B| = 1; a fresh sparse-gradient segment is 0 + g) and Sgd::step's θ ← θ − lr·g.
  template <class Sc>
  S sgd_step(S* t, const Dataset& data, RowIndex r, S lr, std::uint64_t seed, Sc& sc) const {
    draw_noise(seed, r, sc);
    const std::uint32_t u = opt_.shared_user ? 0u : data.user(r), i = data.item(r);
    const ConstVectorRef<S> x(Eigen::Map<const Vector<S>>(t, this->layout_.size()));
    const S loss = row_gradient(view(x, u, i), static_cast<S>(data.rating(r)), sc);
    if (!std::isfinite(loss)) return loss;
    const S one = S(1) / S(1);
    auto step = [&](const Segment& s, const auto& g) {
      S* w = t + s.offset;
      for (Eigen::Index j = 0; j < s.size; ++j) w[j] -= lr * (S(0) + one * g[j]);
    };
    step(Mu_.column(u), sc.g_mu);
    step(Ru_.column(u), sc.g_rho_u);
    step(Mi_.column(i), sc.g_mi);
    step(Ri_.column(i), sc.g_rho_i);
    t[bu_.offset + u] -= lr * (S(0) + one * sc.g_bu);
    t[bi_.offset + i] -= lr * (S(0) + one * sc.g_bi);
    return loss;  // gradient_into's static_cast<S>(double(loss) / 1): the same value
  }

  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const RatingBatch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    if (batch.rows.empty()) return;
    using D = Dual<S>;
    const S scale = S(1) / static_cast<S>(batch.size());
    Scratch<D> sc(opt_);
    DualInputs x(opt_);
    const Eigen::Index d = opt_.dims;
    for (const RowIndex r : batch.rows) {
      draw_noise(batch.seed, r, sc);
      const auto [u, i] = this->ids(batch, r);
      detail::lift(theta, v, Mu_.column(u), x.mu.data());
      detail::lift(theta, v, Ru_.column(u), x.rho_u.data());
      detail::lift(theta, v, Mi_.column(i), x.mi.data());
      detail::lift(theta, v, Ri_.column(i), x.rho_i.data());
      const Eigen::Index bu = bu_.offset + u, bi = bi_.offset + i;
      const RowView<D> in{CVec<D>(x.mu.data(), d),    CVec<D>(x.rho_u.data(), d),
                          CVec<D>(x.mi.data(), d),    CVec<D>(x.rho_i.data(), d),
                          D(theta[bu], v[bu]), D(theta[bi], v[bi])};
      (void)row_gradient(in, D(rating(batch, r)), sc);
      scatter<true>(sc, u, i, scale, out);
    }
  }

  friend detail::LayoutModel<VariationalMF<S>, S>;  // reads model_name, opt_ and the passes
  static constexpr const char* model_name = "VariationalMF";  // in messages
  Options opt_;
  Block Mu_, Ru_, Mi_, Ri_, bu_, bi_;
};

}  // namespace metarec
