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

#include <metarec/core/batch.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

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
class MatrixFactorization {
 public:
  using Scalar = S;
  using Batch = RatingBatch;
  using Options = MatrixFactorizationOptions;

  /// @throws std::invalid_argument when dims < 1 or there are no items.
  MatrixFactorization(std::uint32_t num_users, std::uint32_t num_items, Options options = {})
      : opt_(options), num_users_(num_users), num_items_(num_items) {
    if (opt_.dims < 1)
      throw std::invalid_argument("MatrixFactorization: dims must be >= 1 (got " +
                                  std::to_string(opt_.dims) + ")");
    if (num_items == 0 || (num_users == 0 && !opt_.shared_user))
      throw std::invalid_argument("MatrixFactorization: no users or no items (" +
                                  std::to_string(num_users) + " users, " +
                                  std::to_string(num_items) + " items)");
    const Eigen::Index user_rows = opt_.shared_user ? 1 : num_users;
    P_ = layout_.add("user_factors", opt_.dims, user_rows);
    Q_ = layout_.add("item_factors", opt_.dims, num_items);
    if (opt_.biases) {
      bu_ = layout_.add("user_bias", 1, user_rows);
      bi_ = layout_.add("item_bias", 1, num_items);
    }
  }

  [[nodiscard]] Eigen::Index num_parameters() const noexcept { return layout_.size(); }
  [[nodiscard]] const ParameterLayout& layout() const noexcept { return layout_; }
  [[nodiscard]] const Options& options() const noexcept { return opt_; }

  void initialize(VectorRef<S> theta, Rng& rng) const {
    check_size("initialize", theta.size());
    theta.setZero();
    for (Eigen::Index k = 0; k < P_.size(); ++k)
      theta[P_.offset + k] = static_cast<S>(rng.normal(0.0, opt_.init_std));
    for (Eigen::Index k = 0; k < Q_.size(); ++k)
      theta[Q_.offset + k] = static_cast<S>(rng.normal(0.0, opt_.init_std));
  }

  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    check_size("loss", theta.size());
    double total = 0.0;
    for (const RowIndex r : batch.rows) {
      const auto [u, i] = ids(batch, r);
      const auto p = col(theta, P_, u);
      const auto q = col(theta, Q_, i);
      const double e = static_cast<double>(score(theta, u, i)) - batch.data->rating(r);
      total += e * e + opt_.reg * (p.squaredNorm() + q.squaredNorm());
      if (opt_.biases)
        total += opt_.bias_reg * (sq(theta[bu_.offset + u]) + sq(theta[bi_.offset + i]));
    }
    return batch.rows.empty() ? S(0) : static_cast<S>(total / static_cast<double>(batch.size()));
  }

  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> grad) const {
    check_size("loss_and_gradient", theta.size());
    check_size("loss_and_gradient (gradient)", grad.size());
    DenseGradientSink<S> sink(grad);
    return gradient_into(theta, batch, sink);
  }

  /// Sparse gradient: writes only the rows the batch touches. The caller clears `grad`.
  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& batch,
                      SparseGradient<S>& grad) const {
    return gradient_into(theta, batch, grad);
  }

  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& batch,
                              const ConstVectorRef<S>& v, VectorRef<S> out) const {
    check_size("hessian_vector_product", theta.size());
    check_size("hessian_vector_product (v)", v.size());
    check_size("hessian_vector_product (out)", out.size());
    DenseGradientSink<S> sink(out);
    hvp_into(theta, batch, v, sink);
  }

  /// Sparse HVP: writes only the rows the batch touches. The caller clears `out`.
  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& batch,
                              const ConstVectorRef<S>& v, SparseGradient<S>& out) const {
    hvp_into(theta, batch, v, out);
  }

  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    check_size("predict", theta.size());
    if (out.size() != static_cast<Eigen::Index>(batch.size()))
      throw std::invalid_argument("MatrixFactorization::predict: out has " +
                                  std::to_string(out.size()) + " entries for a batch of " +
                                  std::to_string(batch.size()) + " rows");
    for (std::size_t k = 0; k < batch.rows.size(); ++k) {
      const auto [u, i] = ids(batch, batch.rows[k]);
      out[static_cast<Eigen::Index>(k)] = score(theta, u, i);
    }
  }

  /// Task-local segments: the factors (and bias) of each user in the batch, once each.
  void local_segments(const Batch& batch, std::vector<Segment>& out) const {
    const std::size_t first = out.size();
    for (const RowIndex r : batch.rows) {
      const std::uint32_t u = user_index(batch, r);
      const Segment s = P_.column(u);
      bool seen = false;
      for (std::size_t k = first; k < out.size() && !seen; ++k) seen = out[k] == s;
      if (seen) continue;
      out.push_back(s);
      if (opt_.biases) out.push_back(bu_.column(u));
    }
  }

  /// Prediction for one (user, item) pair by dense index.
  [[nodiscard]] S score(const ConstVectorRef<S>& theta, std::uint32_t u, std::uint32_t i) const {
    S s = col(theta, P_, u).dot(col(theta, Q_, i));
    if (opt_.biases)
      s += static_cast<S>(opt_.global_mean) + theta[bu_.offset + u] + theta[bi_.offset + i];
    return s;
  }

 private:
  static double sq(S x) noexcept { return static_cast<double>(x) * static_cast<double>(x); }

  void check_size(const char* what, Eigen::Index n) const {
    if (n != layout_.size())
      throw std::invalid_argument(std::string("MatrixFactorization::") + what + ": vector has " +
                                  std::to_string(n) + " entries, the model has " +
                                  std::to_string(layout_.size()) +
                                  " parameters; size it with num_parameters()");
  }

  [[nodiscard]] std::uint32_t user_index(const Batch& b, RowIndex r) const noexcept {
    return opt_.shared_user ? 0u : b.data->user(r);
  }
  [[nodiscard]] std::pair<std::uint32_t, std::uint32_t> ids(const Batch& b, RowIndex r) const noexcept {
    return {user_index(b, r), b.data->item(r)};
  }

  static Eigen::Map<const Vector<S>> col(const ConstVectorRef<S>& theta, const Block& blk,
                                         std::uint32_t c) noexcept {
    return Eigen::Map<const Vector<S>>(theta.data() + blk.offset + c * blk.rows, blk.rows);
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const Batch& batch, Sink& g) const {
    if (batch.rows.empty()) return S(0);
    const S scale = S(2) / static_cast<S>(batch.size());
    const S reg = static_cast<S>(opt_.reg);
    const S breg = static_cast<S>(opt_.bias_reg);
    double total = 0.0;
    for (const RowIndex r : batch.rows) {
      const auto [u, i] = ids(batch, r);
      const auto p = col(theta, P_, u);
      const auto q = col(theta, Q_, i);
      const S e = score(theta, u, i) - static_cast<S>(batch.data->rating(r));
      total += sq(e) + opt_.reg * (static_cast<double>(p.squaredNorm()) +
                                   static_cast<double>(q.squaredNorm()));
      g.segment(P_.column(u)) += scale * (e * q + reg * p);
      g.segment(Q_.column(i)) += scale * (e * p + reg * q);
      if (opt_.biases) {
        const S bu = theta[bu_.offset + u];
        const S bi = theta[bi_.offset + i];
        total += opt_.bias_reg * (sq(bu) + sq(bi));
        g.segment(bu_.column(u))[0] += scale * (e + breg * bu);
        g.segment(bi_.column(i))[0] += scale * (e + breg * bi);
      }
    }
    return static_cast<S>(total / static_cast<double>(batch.size()));
  }

  // H·v of (r̂ − r)² + penalties: 2 ∇r̂ (∇r̂ᵀv) + 2e ∇²r̂ v + 2λ v, where ∇²r̂ couples p_u and q_i.
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const Batch& batch, const ConstVectorRef<S>& v,
                Sink& out) const {
    if (batch.rows.empty()) return;
    const S scale = S(2) / static_cast<S>(batch.size());
    const S reg = static_cast<S>(opt_.reg);
    const S breg = static_cast<S>(opt_.bias_reg);
    for (const RowIndex r : batch.rows) {
      const auto [u, i] = ids(batch, r);
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

  Options opt_;
  std::uint32_t num_users_;
  std::uint32_t num_items_;
  ParameterLayout layout_;
  Block P_, Q_, bu_, bi_;
};

}  // namespace metarec
