#pragma once
/// @file svae.hpp
/// @brief SVAE (Sachdeva, Manco, Ritacco, Pudi, WSDM 2019, "Sequential Variational Autoencoders for
/// Collaborative Filtering"): a GRU reads a user's items in time order; at every step a VAE maps
/// its state to a distribution over the items that come next.
///
/// For an example (a user) whose input rows, ordered by (time, row), are the items s_1..s_T:
///
///     x_t = E[:, s_t]                                          item embedding
///     r = σ(W_ir x_t + b_ir + W_hr h + b_hr),  u = σ(W_iu x_t + b_iu + W_hu h + b_hu)
///     n = tanh(W_in x_t + b_in + r ∘ (W_hn h + b_hn)),  h_t = (1 − u) ∘ n + u ∘ h   (h_0 = 0)
///     a_t = tanh(W₁ h_t + b₁),  [μ_t; log σ²_t] = W₂ a_t + b₂
///     z_t = μ_t + σ_t ∘ ε_t (training; μ_t otherwise),  y_t = Mᵀ tanh(W₃ z_t + b₃) + m
///
/// (the GRU in PyTorch's gate convention; the paper's sizes: embedding 256, GRU 200, hidden 150,
/// latent 64). The loss of an example is a multinomial likelihood at a set of output steps O:
///
///     L_e = Σ_{t∈O} −(1/|N_t|) Σ_{j∈N_t} log softmax(y_t)_j  +  β/|O| Σ_{t∈O} KL(N(μ_t, σ_t²) ‖ N(0, I))
///
/// - reconstruction (the example's target rows are its input rows, a training batch): O = 1..T−1
///   and N_t = {s_{t+1}, …, s_{min(t+k, T)}}, the next k items (the paper's "next-k" loss; the
///   last item is only a target, as in the authors' code, which also weighs the likelihood by step
///   and the KL by its mean over steps);
/// - otherwise (fold-in, a MAML query set): O = {T}, the state after the whole input, and N_T the
///   target rows' items (a user without input rows is predicted from h_0 = 0).
///
/// The batch loss is the mean of L_e over its examples plus (reg/2) Σ‖W‖² over every weight matrix
/// (E and M included, not the biases). ε comes from derive_seed(batch seed, tag, user, step), so
/// the loss is a deterministic function of (θ, batch) and gradient checks hold. `predict` gives
/// each target row softmax(y_T) of its item and `score_all` the logits y_T of every item (noise off).
///
/// Exact gradient by back-propagation through time, written once as a template over its
/// arithmetic type; the Hessian-vector product runs the same code on duals (`hvp_by_duals`).
/// Cost of an example: O(T (e + r) r) for the GRU and O(|O| · hidden · items) for the softmax (the
/// multinomial likelihood scores every item, as Mult-VAE's). Needs rating times (ML-100K, or
/// synthetic data; the shared ML-1M copy has none). Local segments for MAML: b₁, the encoder's
/// bias (an offset of every step's code, as the family's first-layer bias).

#include <metarec/core/dual.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/models/autoencoder/detail/row_model.hpp>
#include <metarec/nn/common.hpp>
#include <metarec/nn/dense.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace metarec {

/// Options of `Svae` (defaults: the authors' ML-1M settings).
struct SvaeOptions {
  Eigen::Index embedding = 256;  ///< item embedding width e
  Eigen::Index rnn = 200;        ///< GRU state width r
  Eigen::Index hidden = 150;     ///< encoder / decoder hidden width
  Eigen::Index latent = 64;      ///< d
  std::uint32_t next_k = 4;      ///< k of the next-k likelihood
  double beta = 0.2;             ///< KL weight (the authors anneal to 0.2)
  double reg = 0.0;              ///< (reg/2) Σ‖W‖² per batch
};

namespace detail {

inline constexpr std::uint64_t tag_svae_latent = 0x53564145ull;  // "SVAE": ε per (user, step)

/// Per-thread scratch of an `Svae` call (grow-only).
template <class T>
struct SvaeWorkspace {
  std::vector<RowIndex> order;
  std::vector<std::uint32_t> seq;        ///< s_1..s_T
  std::vector<Eigen::Index> step;        ///< output o reads h_{step[o]}
  std::vector<std::size_t> tgt_start;    ///< targets of output o: tgt[tgt_start[o] .. tgt_start[o+1])
  std::vector<std::uint32_t> tgt;
  Matrix<T> X, Gi, H, R, U, N, Hn, dGi, dGh, dX, dH;
  Vector<T> gh, carry;
  Matrix<T> Hs, A1, Q, Eps, Z, A3, Y, dY, dA3, dZ, dQ, dA1, dHs;
};

}  // namespace detail

/// SVAE over user `RowBatch`es; satisfies `metarec::Model` with an exact Hessian-vector product,
/// local segments and `score_all`.
/// @tparam S float or double
/// @code
/// metarec::Svae<float> svae(ds, {.embedding = 64, .rnn = 64, .hidden = 64, .latent = 32});
/// const metarec::WholeRows rows(ds, split.train, metarec::RowSide::user);
/// metarec::RowBatches source(rows, 16, 42);
/// @endcode
template <class S = float>
class Svae : public detail::RowModel<Svae<S>, S> {
  friend detail::LayoutModel<Svae<S>, S, RowBatch>;
  using Base = detail::RowModel<Svae<S>, S>;

 public:
  static constexpr const char* model_name = "Svae";
  using Scalar = S;
  using Batch = RowBatch;
  using Options = SvaeOptions;

  /// @throws std::invalid_argument on a width or next_k < 1, beta or reg < 0, no items, or a data
  ///         set without rating times.
  explicit Svae(const Dataset& data, Options options = {})
      : Base(RowSide::user, data.num_items(), 0), opt_(options) {
    this->require(opt_.embedding >= 1 && opt_.rnn >= 1 && opt_.hidden >= 1 && opt_.latent >= 1,
                  "widths must be >= 1 (embedding " + std::to_string(opt_.embedding) + ", rnn " +
                      std::to_string(opt_.rnn) + ", hidden " + std::to_string(opt_.hidden) + ", latent " +
                      std::to_string(opt_.latent) + ")");
    this->require(opt_.next_k >= 1, "next_k must be >= 1 (got 0)");
    this->require(opt_.beta >= 0.0 && opt_.reg >= 0.0,
                  "beta and reg must be >= 0 (beta " + std::to_string(opt_.beta) + ", reg " +
                      std::to_string(opt_.reg) + ")");
    data.require_times(model_name);
    const Eigen::Index n = data.num_items(), e = opt_.embedding, r = opt_.rnn, h = opt_.hidden,
                       d = opt_.latent;
    ParameterLayout& lay = this->layout_;
    embed_ = lay.add("item_embedding", e, n);
    gru_in_ = nn::Dense::add(lay, "gru.input", e, 3 * r);
    gru_h_ = nn::Dense::add(lay, "gru.hidden", r, 3 * r);
    enc_ = nn::Dense::add(lay, "encoder", r, h);
    lat_ = nn::Dense::add(lay, "latent", h, 2 * d);
    dec_ = nn::Dense::add(lay, "decoder", d, h);
    out_W_ = lay.add("output.weight", h, n);  // M, stored h × n (column j: item j's weights)
    out_b_ = lay.add("output.bias", n, 1);
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  /// The same model with KL weight `beta` (an annealing phase); θ's layout is unchanged.
  [[nodiscard]] Svae with_beta(double beta) const {
    this->require(beta >= 0.0, "beta must be >= 0 (got " + std::to_string(beta) + ")");
    Svae m = *this;
    m.opt_.beta = beta;
    return m;
  }

  /// Overwrites θ: E ~ N(0, 1) (PyTorch's embedding), the GRU's weights and biases
  /// U(±1/√r) (PyTorch's GRU), the dense layers Xavier-uniform with zero biases.
  /// @throws std::invalid_argument when θ has the wrong size.
  void initialize(VectorRef<S> theta, Rng& rng) const {
    this->check_size("initialize", theta.size());
    theta.setZero();
    auto E = embed_.map<S>(theta);
    for (Eigen::Index k = 0; k < E.size(); ++k) E.data()[k] = static_cast<S>(rng.normal());
    const double a = 1.0 / std::sqrt(static_cast<double>(opt_.rnn));
    for (const nn::Dense& g : {gru_in_, gru_h_})
      for (const Block& b : {g.W, g.b}) {
        auto m = b.map<S>(theta);
        for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<S>(rng.uniform(-a, a));
      }
    for (const nn::Dense* l : {&enc_, &lat_, &dec_}) l->template initialize<S>(theta, rng, nn::DenseInit::xavier_uniform);
    const nn::Dense out_as_layer{Block{out_W_.offset, out_W_.cols, out_W_.rows}, out_b_};
    out_as_layer.template initialize<S>(theta, rng, nn::DenseInit::xavier_uniform);
  }

  /// Mean loss of the batch (see the file comment); 0 for an empty batch.
  /// @throws std::invalid_argument on a wrong θ size or a batch of another shape.
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    this->check_size("loss", theta.size());
    validate_batch("loss", batch);
    NoGradient none;
    return static_cast<S>(run<S>(theta, batch, none));
  }

  /// One prediction per target row, example after example: the softmax probability of its item
  /// after the example's whole input (noise off). `out` OVERWRITTEN.
  /// @throws std::invalid_argument on a wrong θ or output size, or a batch of another shape.
  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    this->check_row_predict(theta, batch, out.size());
    validate_batch("predict", batch);
    auto& ws = workspace<S>();
    Eigen::Index k = 0;
    for (const RowExample& ex : batch.examples) {
      if (ex.target.empty()) continue;
      last_state_logits(theta, batch, ex, ws);
      const auto y = ws.Y.col(0);
      const S lse = log_sum_exp(y);
      for (const RowIndex r : ex.target) out[k++] = std::exp(y[batch.column(r)] - lse);
    }
  }

  /// Every item's logit y_T for each example, from its input rows (targets ignored; noise off).
  /// `out` is items × examples, OVERWRITTEN (report/item_scores.hpp `HasRowScores`).
  /// @throws std::invalid_argument on a wrong θ or output shape, or a batch of another shape.
  void score_all(const ConstVectorRef<S>& theta, const Batch& batch, Eigen::Ref<Matrix<S>> out) const {
    this->check_scores(theta, batch, out.rows(), out.cols());
    validate_batch("score_all", batch);
    auto& ws = workspace<S>();
    for (std::size_t e = 0; e < batch.size(); ++e) {
      last_state_logits(theta, batch, batch.examples[e], ws);
      out.col(static_cast<Eigen::Index>(e)) = ws.Y.col(0);
    }
  }

  /// Task-local segments (MAML): b₁, the encoder's bias.
  void local_segments(const Batch&, std::vector<Segment>& out) const { out.push_back(enc_.b.segment()); }

 private:
  struct NoGradient {};

  void validate_batch(const char* what, const Batch& b) const {
    this->check_batch(what, b);
    if (!b.examples.empty() && !b.data->has_times())
      b.data->require_times((std::string(model_name) + "::" + what).c_str());
  }

  template <class Sink>
  S gradient_into(const ConstVectorRef<S>& theta, const Batch& batch, Sink& sink) const {
    return static_cast<S>(run<S>(theta, batch, sink));
  }
  template <class Sink>
  void hvp_into(const ConstVectorRef<S>& theta, const Batch& batch, const ConstVectorRef<S>& v, Sink& out) const {
    detail::hvp_by_duals<S>(theta, v, out, [&](const ConstVectorRef<Dual<S>>& td, SparseGradient<Dual<S>>& g) {
      (void)run<Dual<S>>(td, batch, g);
    });
  }

  template <class T>
  static detail::SvaeWorkspace<T>& workspace() {
    thread_local detail::SvaeWorkspace<T> ws;
    return ws;
  }

  // s_1..s_T: the example's input items ordered by (time, row).
  template <class T>
  static void sequence(const Batch& b, const RowExample& ex, detail::SvaeWorkspace<T>& ws) {
    ws.order.assign(ex.input.begin(), ex.input.end());
    const Dataset& ds = *b.data;
    std::sort(ws.order.begin(), ws.order.end(), [&](RowIndex x, RowIndex y) { return ds.earlier(x, y); });
    ws.seq.clear();
    for (const RowIndex r : ws.order) ws.seq.push_back(b.column(r));
  }

  // The output steps and their targets (see the file comment); returns the number of GRU steps.
  template <class T>
  Eigen::Index outputs(const Batch& b, const RowExample& ex, detail::SvaeWorkspace<T>& ws) const {
    const auto T_ = static_cast<Eigen::Index>(ws.seq.size());
    ws.step.clear();
    ws.tgt.clear();
    ws.tgt_start.assign(1, 0);
    const bool recon = ex.target.size() == ex.input.size() &&
                       std::equal(ex.target.begin(), ex.target.end(), ex.input.begin());
    if (recon) {
      for (Eigen::Index t = 1; t < T_; ++t) {
        ws.step.push_back(t);
        const Eigen::Index last = std::min<Eigen::Index>(T_, t + static_cast<Eigen::Index>(opt_.next_k));
        for (Eigen::Index j = t; j < last; ++j) ws.tgt.push_back(ws.seq[static_cast<std::size_t>(j)]);
        ws.tgt_start.push_back(ws.tgt.size());
      }
      return std::max<Eigen::Index>(T_ - 1, 0);
    }
    if (!ex.target.empty()) {
      ws.step.push_back(T_);
      for (const RowIndex r : ex.target) ws.tgt.push_back(b.column(r));
      ws.tgt_start.push_back(ws.tgt.size());
    }
    return T_;
  }

  // tanh of every entry: Eigen's vectorised tanh for a plain scalar, the dual overload otherwise.
  template <class Xpr>
  static void tanh_in_place(Xpr&& m) {
    using T = typename std::decay_t<Xpr>::Scalar;
    if constexpr (std::is_floating_point_v<T>) {
      m.array() = m.array().tanh();
    } else {
      using std::tanh;
      m = m.unaryExpr([](const T& x) { return T(tanh(x)); });
    }
  }

  // The GRU over s_1..s_steps: H's column t is h_t (column 0 is h_0 = 0).
  template <class T>
  void gru_forward(const ConstVectorRef<T>& th, detail::SvaeWorkspace<T>& ws, Eigen::Index steps) const {
    const Eigen::Index r = opt_.rnn, e = opt_.embedding;
    nn::ensure_shape(ws.H, r, steps + 1);
    ws.H.col(0).setZero();
    if (steps == 0) return;
    for (Matrix<T>* m : {&ws.R, &ws.U, &ws.N, &ws.Hn}) nn::ensure_shape(*m, r, steps);
    nn::ensure_shape(ws.X, e, steps);
    nn::ensure_shape(ws.Gi, 3 * r, steps);
    const auto E = embed_.map<T>(th);
    for (Eigen::Index t = 0; t < steps; ++t) ws.X.col(t) = E.col(ws.seq[static_cast<std::size_t>(t)]);
    auto Gi = ws.Gi.leftCols(steps);
    Gi.noalias() = gru_in_.W.map<T>(th) * ws.X.leftCols(steps);
    Gi.colwise() += gru_in_.b.map<T>(th).col(0);
    const auto Wh = gru_h_.W.map<T>(th);
    const auto bh = gru_h_.b.map<T>(th).col(0);
    ws.gh.resize(3 * r);
    for (Eigen::Index t = 0; t < steps; ++t) {
      ws.gh.noalias() = Wh * ws.H.col(t);
      ws.gh += bh;
      for (Eigen::Index j = 0; j < r; ++j) {
        const T rg = sigmoid(T(Gi(j, t) + ws.gh[j]));
        const T hn = ws.gh[2 * r + j];
        ws.R(j, t) = rg;
        ws.U(j, t) = sigmoid(T(Gi(r + j, t) + ws.gh[r + j]));
        ws.N(j, t) = Gi(2 * r + j, t) + rg * hn;
        ws.Hn(j, t) = hn;
      }
      tanh_in_place(ws.N.col(t));
      ws.H.col(t + 1).array() =
          (T(S(1)) - ws.U.col(t).array()) * ws.N.col(t).array() + ws.U.col(t).array() * ws.H.col(t).array();
    }
  }

  // The VAE head at the output steps: A1, Q = [μ; log σ²], Z, A3 and the logits Y (items × O).
  template <class T>
  void head_forward(const ConstVectorRef<T>& th, detail::SvaeWorkspace<T>& ws, bool training,
                    std::uint64_t seed, std::uint32_t entity) const {
    using std::exp;
    const auto O = static_cast<Eigen::Index>(ws.step.size());
    const Eigen::Index h = opt_.hidden, d = opt_.latent, n = this->columns_;
    nn::ensure_shape(ws.Hs, opt_.rnn, O);
    for (Eigen::Index o = 0; o < O; ++o) ws.Hs.col(o) = ws.H.col(ws.step[static_cast<std::size_t>(o)]);
    nn::ensure_shape(ws.A1, h, O);
    nn::ensure_shape(ws.Q, 2 * d, O);
    nn::ensure_shape(ws.Z, d, O);
    nn::ensure_shape(ws.Eps, d, O);
    nn::ensure_shape(ws.A3, h, O);
    nn::ensure_shape(ws.Y, n, O);
    auto A1 = ws.A1.leftCols(O);
    enc_.forward<T>(th, ws.Hs.leftCols(O), A1);
    tanh_in_place(A1);
    lat_.forward<T>(th, A1, ws.Q.leftCols(O));
    auto Z = ws.Z.leftCols(O);
    Z = ws.Q.topLeftCorner(d, O);
    if (training) {
      for (Eigen::Index o = 0; o < O; ++o) {
        Rng rng(derive_seed(seed, detail::tag_svae_latent, entity, static_cast<std::uint64_t>(ws.step[static_cast<std::size_t>(o)])));
        for (Eigen::Index j = 0; j < d; ++j) {
          ws.Eps(j, o) = T(static_cast<S>(rng.normal()));
          Z(j, o) += exp(T(S(0.5) * ws.Q(d + j, o))) * ws.Eps(j, o);
        }
      }
    }
    auto A3 = ws.A3.leftCols(O);
    dec_.forward<T>(th, Z, A3);
    tanh_in_place(A3);
    auto Y = ws.Y.leftCols(O);
    Y.noalias() = out_W_.map<T>(th).transpose() * A3;
    Y.colwise() += out_b_.map<T>(th).col(0);
  }

  // The logits after an example's whole input, noise off, into ws.Y's first column.
  void last_state_logits(const ConstVectorRef<S>& theta, const Batch& b, const RowExample& ex,
                         detail::SvaeWorkspace<S>& ws) const {
    sequence(b, ex, ws);
    const auto steps = static_cast<Eigen::Index>(ws.seq.size());
    gru_forward<S>(theta, ws, steps);
    ws.step.assign(1, steps);
    head_forward<S>(theta, ws, false, 0, ex.entity);
  }

  // The loss of a batch in training mode, and its gradient into `g` (unless NoGradient).
  template <class T, class Sink>
  double run(const ConstVectorRef<T>& th, const Batch& batch, Sink& g) const {
    constexpr bool grad = !std::is_same_v<Sink, NoGradient>;
    double total = penalty<T>(th, g);
    if (batch.examples.empty()) return total;
    auto& ws = workspace<T>();
    const double inv_b = 1.0 / static_cast<double>(batch.size());
    for (const RowExample& ex : batch.examples) {
      sequence(batch, ex, ws);
      const Eigen::Index steps = outputs(batch, ex, ws);
      if (ws.step.empty()) continue;
      gru_forward<T>(th, ws, steps);
      head_forward<T>(th, ws, true, batch.seed, ex.entity);
      total += inv_b * head_loss<T>(ws, grad, inv_b);
      if constexpr (grad) backward<T>(th, ws, steps, g);
    }
    return total;
  }

  // L_e of the example (file comment); with `grad`, ws.dY and ws.dQ (the KL's part) get
  // scale · ∂L_e/∂Y and scale · ∂L_e/∂Q.
  template <class T>
  double head_loss(detail::SvaeWorkspace<T>& ws, bool grad, double scale) const {
    using std::exp;
    const auto O = static_cast<Eigen::Index>(ws.step.size());
    const Eigen::Index d = opt_.latent, n = this->columns_;
    if (grad) {
      nn::ensure_shape(ws.dY, n, O);
      nn::ensure_shape(ws.dQ, 2 * d, O);
    }
    double total = 0.0;
    const double kl_w = opt_.beta / static_cast<double>(O);
    for (Eigen::Index o = 0; o < O; ++o) {
      const auto y = ws.Y.col(o);
      const T lse = log_sum_exp(y);
      const std::size_t t0 = ws.tgt_start[static_cast<std::size_t>(o)], t1 = ws.tgt_start[static_cast<std::size_t>(o) + 1];
      const double inv_cnt = 1.0 / static_cast<double>(t1 - t0);
      double l = static_cast<double>(value_of(lse));
      for (std::size_t s = t0; s < t1; ++s) l -= inv_cnt * static_cast<double>(value_of(y[ws.tgt[s]]));
      double kl = 0.0;
      for (Eigen::Index j = 0; j < d; ++j) {
        const double mu = static_cast<double>(value_of(ws.Q(j, o))), lv = static_cast<double>(value_of(ws.Q(d + j, o)));
        kl += 0.5 * (-lv + std::exp(lv) + mu * mu - 1.0);
      }
      total += l + kl_w * kl;
      if (!grad) continue;
      const T sc = T(static_cast<S>(scale));
      ws.dY.col(o).array() = (y.array() - lse).exp() * sc;
      const T step = T(static_cast<S>(scale * inv_cnt));
      for (std::size_t s = t0; s < t1; ++s) ws.dY(ws.tgt[s], o) -= step;
      const T kw = T(static_cast<S>(scale * kl_w));
      for (Eigen::Index j = 0; j < d; ++j) {
        ws.dQ(j, o) = kw * ws.Q(j, o);
        ws.dQ(d + j, o) = kw * T(S(0.5)) * (exp(ws.Q(d + j, o)) - T(S(1)));
      }
    }
    return total;
  }

  // Back-propagation from ws.dY / ws.dQ through the head and the GRU into `g`.
  template <class T, class Sink>
  void backward(const ConstVectorRef<T>& th, detail::SvaeWorkspace<T>& ws, Eigen::Index steps, Sink& g) const {
    using std::exp;
    const auto O = static_cast<Eigen::Index>(ws.step.size());
    const Eigen::Index r = opt_.rnn, d = opt_.latent, h = opt_.hidden;
    for (Matrix<T>* m : {&ws.dA3, &ws.dA1}) nn::ensure_shape(*m, h, O);
    nn::ensure_shape(ws.dZ, d, O);
    nn::ensure_shape(ws.dHs, r, O);
    const auto dY = ws.dY.leftCols(O);
    const auto A3 = ws.A3.leftCols(O);
    // Output layer: y = Mᵀ a3 + m.
    detail::sink_map<T>(g, out_W_).noalias() += A3 * dY.transpose();
    detail::sink_map<T>(g, out_b_) += dY.rowwise().sum();
    auto dA3 = ws.dA3.leftCols(O);
    dA3.noalias() = out_W_.map<T>(th) * dY;
    dA3.array() *= (T(S(1)) - A3.array().square());
    // Decoder: a3 = tanh(W₃ z + b₃).
    auto dZ = ws.dZ.leftCols(O);
    nn::MatRef<T> dZref(dZ);
    dec_.backward<T>(th, ws.Z.leftCols(O), dA3, g, &dZref);
    // Reparameterisation: z = μ + exp(½ lv) ε.
    auto dQ = ws.dQ.leftCols(O);
    for (Eigen::Index o = 0; o < O; ++o)
      for (Eigen::Index j = 0; j < d; ++j) {
        dQ(j, o) += dZ(j, o);
        dQ(d + j, o) += dZ(j, o) * ws.Eps(j, o) * T(S(0.5)) * exp(T(S(0.5) * ws.Q(d + j, o)));
      }
    auto dA1 = ws.dA1.leftCols(O);
    nn::MatRef<T> dA1ref(dA1);
    lat_.backward<T>(th, ws.A1.leftCols(O), dQ, g, &dA1ref);
    dA1.array() *= (T(S(1)) - ws.A1.leftCols(O).array().square());
    auto dHs = ws.dHs.leftCols(O);
    nn::MatRef<T> dHsref(dHs);
    enc_.backward<T>(th, ws.Hs.leftCols(O), dA1, g, &dHsref);
    if (steps == 0) return;
    // Through time.
    nn::ensure_shape(ws.dH, r, steps + 1);
    ws.dH.leftCols(steps + 1).setZero();
    for (Eigen::Index o = 0; o < O; ++o) ws.dH.col(ws.step[static_cast<std::size_t>(o)]) += dHs.col(o);
    nn::ensure_shape(ws.dGi, 3 * r, steps);
    nn::ensure_shape(ws.dGh, 3 * r, steps);
    ws.carry.resize(r);
    ws.carry.setZero();
    const auto Wh = gru_h_.W.map<T>(th);
    for (Eigen::Index t = steps; t-- > 0;) {
      for (Eigen::Index j = 0; j < r; ++j) {
        const T dh = ws.dH(j, t + 1) + ws.carry[j];
        const T rg = ws.R(j, t), ug = ws.U(j, t), ng = ws.N(j, t), hp = ws.H(j, t);
        const T dn = dh * (T(S(1)) - ug) * (T(S(1)) - ng * ng);
        const T du = dh * (hp - ng) * ug * (T(S(1)) - ug);
        const T dr = dn * ws.Hn(j, t) * rg * (T(S(1)) - rg);
        ws.dGi(j, t) = dr;
        ws.dGi(r + j, t) = du;
        ws.dGi(2 * r + j, t) = dn;
        ws.dGh(j, t) = dr;
        ws.dGh(r + j, t) = du;
        ws.dGh(2 * r + j, t) = dn * rg;
        ws.carry[j] = dh * ug;
      }
      ws.carry.noalias() += Wh.transpose() * ws.dGh.col(t);
    }
    const auto dGi = ws.dGi.leftCols(steps);
    const auto dGh = ws.dGh.leftCols(steps);
    nn::ensure_shape(ws.dX, opt_.embedding, steps);
    auto dXs = ws.dX.leftCols(steps);
    nn::MatRef<T> dXref(dXs);
    gru_in_.backward<T>(th, ws.X.leftCols(steps), dGi, g, &dXref);
    gru_h_.backward<T>(th, ws.H.leftCols(steps), dGh, g, static_cast<nn::MatRef<T>*>(nullptr));
    // Per item column, unless the penalty already wrote the whole of E (a sink records a segment
    // by its offset: a column inside a recorded block would be recorded twice).
    if (opt_.reg > 0.0) {
      auto dE = detail::sink_map<T>(g, embed_);
      for (Eigen::Index t = 0; t < steps; ++t) dE.col(ws.seq[static_cast<std::size_t>(t)]) += dXs.col(t);
    } else {
      for (Eigen::Index t = 0; t < steps; ++t) g.segment(embed_.column(ws.seq[static_cast<std::size_t>(t)])) += dXs.col(t);
    }
  }

  // (reg/2) Σ‖W‖² over every weight matrix, with its gradient.
  template <class T, class Sink>
  double penalty(const ConstVectorRef<T>& th, Sink& g) const {
    constexpr bool grad = !std::is_same_v<Sink, NoGradient>;
    if (opt_.reg == 0.0) return 0.0;
    double total = 0.0;
    const T reg = T(static_cast<S>(opt_.reg));
    for (const Block& W : {embed_, gru_in_.W, gru_h_.W, enc_.W, lat_.W, dec_.W, out_W_}) {
      const auto w = W.map<T>(th);
      total += 0.5 * opt_.reg * static_cast<double>(value_of(w.squaredNorm()));
      if constexpr (grad) detail::sink_map<T>(g, W) += reg * w;
    }
    return total;
  }

  Options opt_;
  Block embed_;               ///< E (e × items)
  nn::Dense gru_in_, gru_h_;  ///< [W_ir; W_iu; W_in] (3r × e), [W_hr; W_hu; W_hn] (3r × r) and biases
  nn::Dense enc_, lat_, dec_;
  Block out_W_, out_b_;       ///< M (hidden × items), m
};

}  // namespace metarec
