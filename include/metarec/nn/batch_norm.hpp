#pragma once
/// @file batch_norm.hpp
/// @brief Batch normalisation (Ioffe & Szegedy 2015) over the rows (features) of a batch, with
/// exact backward and R-operator (Hessian-vector product) passes in training and inference mode.
///
/// Per feature j, over the B columns of a batch X (n × B):
///
/// | mode | x̂ | y |
/// |---|---|---|
/// | training | (x − μ) s, μ = mean_b x, σ² = mean_b (x − μ)², s = (σ² + ε)^(−1/2) | γ x̂ + β |
/// | inference | (x − m_run) s_run, s_run = (v_run + ε)^(−1/2) | γ x̂ + β |
///
/// Backward (training), with g = ∂L/∂y and h = γ g:
///     ∂γ = Σ_b g x̂,  ∂β = Σ_b g,  ∂x = s (h − mean(h) − x̂ mean(h x̂))
/// R-forward (direction v: v_γ, v_β and R{x} from below):
///     R{μ} = mean R{x},  R{σ²} = 2 mean((x − μ) R{x}),  R{s} = −½ s³ R{σ²},
///     R{x̂} = (R{x} − R{μ}) s + (x − μ) R{s},  R{y} = v_γ x̂ + γ R{x̂} + v_β
/// R-backward (after backward; R{g} from above):
///     (H v)_γ = Σ_b (R{g} x̂ + g R{x̂}),  (H v)_β = Σ_b R{g},  R{h} = v_γ g + γ R{g},
///     R{∂x} = R{s}(h − mean h − x̂ mean(h x̂)) + s(R{h} − mean R{h} − R{x̂} mean(h x̂)
///             − x̂ mean(R{h} x̂ + h R{x̂}))
/// These are the exact directional derivatives of the backward formulas, so H·v is exact (the
/// R-operator is applied to the whole batch: the statistics couple the examples of a batch, and
/// the loss of a batch is not a sum of per-example losses).
///
/// **Running statistics** m_run, v_run live in θ as a NON-TRAINABLE segment (`<name>.running_mean`,
/// `<name>.running_var`, after γ and β): the loss in training mode does not depend on them, so
/// their gradient and H·v entries are exactly zero and no sink segment is ever written for them
/// (a sparse optimiser step never touches them); inference mode reads them. They change only
/// through `update_running`, called by the owner after a training step with the batch statistics
/// of the last training forward pass (PyTorch's rule: m ← (1−α) m + α μ, v ← (1−α) v + α σ²·B/(B−1)).
/// Keeping them in θ means they are saved, copied and adapted with the parameters and that
/// `predict(θ, batch)` stays a const function of θ; see docs/models_mlp.md for the caveats (a
/// dense optimiser step with decoupled weight decay would shrink them: exclude the segment).

#include <metarec/core/parameters.hpp>
#include <metarec/nn/common.hpp>

#include <cmath>
#include <string>

namespace metarec::nn {

/// Scratch of one `BatchNorm` pass (per-feature statistics and normalised inputs).
template <class S>
struct BatchNormWorkspace {
  Matrix<S> xhat, rxhat;          ///< n × B: x̂, R{x̂}
  Vector<S> mean, var, inv_std;   ///< n: μ, σ² (biased), s (training) or the running ones
  Vector<S> rinv_std;             ///< n: R{s}
  Vector<S> m1, m2;               ///< n: mean(h), mean(h x̂) of the last backward pass
  Vector<S> t1, t2;               ///< n: scratch
  bool training = true;           ///< mode of the last forward pass

  void reserve(Eigen::Index n, Eigen::Index B) {
    ensure_shape(xhat, n, B);
    ensure_shape(rxhat, n, B);
    for (auto* v : {&mean, &var, &inv_std, &rinv_std, &m1, &m2, &t1, &t2})
      if (v->size() != n) v->resize(n);
  }
};

/// Batch normalisation of `n` features over flat θ.
/// @code
/// metarec::ParameterLayout layout;
/// const auto bn = metarec::nn::BatchNorm::add(layout, "bn1", 64);
/// bn.initialize<float>(theta);                 // γ = 1, β = 0, m_run = 0, v_run = 1
/// metarec::nn::BatchNormWorkspace<float> ws;
/// ws.reserve(64, B);
/// bn.forward<float>(theta, X, Y, ws, true);    // training: batch statistics
/// bn.update_running<float>(theta, ws, 0.1, B); // after the step
/// bn.forward<float>(theta, X, Y, ws, false);   // inference: running statistics
/// @endcode
struct BatchNorm {
  Block gamma;         ///< n × 1, trainable
  Block beta;          ///< n × 1, trainable
  Block running_mean;  ///< n × 1, not trained by gradients
  Block running_var;   ///< n × 1, not trained by gradients
  double eps = 1e-5;

  /// Appends γ, β, the running mean and the running variance (in this order) to `layout`.
  static BatchNorm add(ParameterLayout& layout, const std::string& name, Eigen::Index n,
                       double eps = 1e-5) {
    BatchNorm bn;
    bn.gamma = layout.add(name + ".gamma", n, 1);
    bn.beta = layout.add(name + ".beta", n, 1);
    bn.running_mean = layout.add(name + ".running_mean", n, 1);
    bn.running_var = layout.add(name + ".running_var", n, 1);
    bn.eps = eps;
    return bn;
  }

  [[nodiscard]] Eigen::Index size() const noexcept { return gamma.rows; }

  /// γ = 1, β = 0, running mean 0, running variance 1.
  template <class S>
  void initialize(VectorRef<S> theta) const {
    theta.segment(gamma.offset, size()).setOnes();
    theta.segment(beta.offset, size()).setZero();
    theta.segment(running_mean.offset, size()).setZero();
    theta.segment(running_var.offset, size()).setOnes();
  }

  /// Y = γ x̂ + β (OVERWRITTEN); X, Y are n × B. Training: batch statistics (B ≥ 1; with B = 1,
  /// x̂ = 0); inference: running statistics from θ.
  template <class S>
  void forward(const ConstVectorRef<S>& theta, const ConstMatRef<S>& X, MatRef<S> Y,
               BatchNormWorkspace<S>& ws, bool training) const {
    const Eigen::Index B = X.cols();
    auto xhat = ws.xhat.leftCols(B);
    ws.training = training;
    if (training) {
      ws.mean = X.rowwise().mean();
      xhat = X.colwise() - ws.mean;
      ws.var = xhat.array().square().rowwise().mean();
    } else {
      ws.mean = bias_map<S>(theta, running_mean);
      ws.var = bias_map<S>(theta, running_var);
      xhat = X.colwise() - ws.mean;
    }
    ws.inv_std = (ws.var.array() + static_cast<S>(eps)).rsqrt();
    xhat.array().colwise() *= ws.inv_std.array();
    Y = bias_map<S>(theta, gamma).asDiagonal() * xhat;
    Y.colwise() += bias_map<S>(theta, beta);
  }

  /// Accumulates ∂γ, ∂β into `sink` (skipped for `NoSink`) and OVERWRITES dX with ∂L/∂X, from
  /// G = ∂L/∂Y; uses the workspace of the last `forward`.
  template <class S, class Sink>
  void backward(const ConstVectorRef<S>& theta, const ConstMatRef<S>& G, Sink& sink,
                BatchNormWorkspace<S>& ws, MatRef<S> dX) const {
    const Eigen::Index B = G.cols();
    const auto xhat = ws.xhat.leftCols(B);
    if constexpr (wants_gradient<Sink>) {
      sink.segment(gamma.segment()) += G.cwiseProduct(xhat).rowwise().sum();
      sink.segment(beta.segment()) += G.rowwise().sum();
    }
    const auto g = bias_map<S>(theta, gamma);
    if (ws.training) {
      // dX = s (h − mean h − x̂ mean(h x̂)), h = γ g
      ws.m1 = g.cwiseProduct(G.rowwise().mean());
      ws.m2 = g.cwiseProduct(G.cwiseProduct(xhat).rowwise().mean());
      dX = g.asDiagonal() * G;
      dX.colwise() -= ws.m1;
      dX -= ws.m2.asDiagonal() * xhat;
      dX.array().colwise() *= ws.inv_std.array();
    } else {
      dX = (g.cwiseProduct(ws.inv_std)).asDiagonal() * G;
    }
  }

  /// R{Y} (OVERWRITTEN) from R{X} (`RX`, may be null when the input does not vary) and the
  /// direction v; uses the workspace of the last `forward`. X is the forward input.
  template <class S>
  void r_forward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, const ConstMatRef<S>& X,
                 const ConstMatRef<S>* RX, MatRef<S> RY, BatchNormWorkspace<S>& ws) const {
    const Eigen::Index B = X.cols();
    const auto xhat = ws.xhat.leftCols(B);
    auto rxhat = ws.rxhat.leftCols(B);
    if (RX == nullptr) {
      rxhat.setZero();
      ws.rinv_std.setZero();
    } else if (ws.training) {
      // R{x̂} = (R{x} − R{μ}) s + (x − μ) R{s},  R{s} = −½ s³ · 2 mean((x − μ) R{x})
      const Vector<S>& s = ws.inv_std;
      ws.t1 = RX->rowwise().mean();
      rxhat = RX->colwise() - ws.t1;
      // (x − μ) = x̂ / s, so mean((x − μ) R{x}) = mean(x̂ (R{x} − R{μ})) / s
      ws.t2 = xhat.cwiseProduct(rxhat).rowwise().mean();
      ws.rinv_std = -(s.array().square() * ws.t2.array()).matrix();
      rxhat.array().colwise() *= s.array();
      ws.t1 = ws.rinv_std.cwiseQuotient(s);
      rxhat += ws.t1.asDiagonal() * xhat;
    } else {
      rxhat = ws.inv_std.asDiagonal() * (*RX);
      ws.rinv_std.setZero();
    }
    RY = bias_map<S>(v, gamma).asDiagonal() * xhat;
    RY += bias_map<S>(theta, gamma).asDiagonal() * rxhat;
    RY.colwise() += bias_map<S>(v, beta);
  }

  /// Accumulates (H v)_γ, (H v)_β into `sink` and OVERWRITES RdX with R{∂L/∂X}, from G = ∂L/∂Y
  /// and RG = R{∂L/∂Y}; after `backward` and `r_forward`.
  template <class S, class Sink>
  void r_backward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, const ConstMatRef<S>& G,
                  const ConstMatRef<S>& RG, Sink& sink, BatchNormWorkspace<S>& ws,
                  MatRef<S> RdX) const {
    const Eigen::Index B = G.cols();
    const auto xhat = ws.xhat.leftCols(B);
    const auto rxhat = ws.rxhat.leftCols(B);
    if constexpr (wants_gradient<Sink>) {
      sink.segment(gamma.segment()) +=
          (RG.cwiseProduct(xhat) + G.cwiseProduct(rxhat)).rowwise().sum();
      sink.segment(beta.segment()) += RG.rowwise().sum();
    }
    const auto g = bias_map<S>(theta, gamma);
    const auto vg = bias_map<S>(v, gamma);
    if (ws.training) {
      const Vector<S>& s = ws.inv_std;
      // R{h} = v_γ g + γ R{g}; RdX is used as R{h} first.
      RdX = vg.asDiagonal() * G;
      RdX += g.asDiagonal() * RG;
      Vector<S>& rm1 = ws.t1;
      Vector<S>& rm2 = ws.t2;
      rm1 = RdX.rowwise().mean();
      // mean(h x̂) = m2; R{m2} = mean(R{h} x̂ + h R{x̂}), h = γ g
      rm2 = RdX.cwiseProduct(xhat).rowwise().mean();
      rm2 += g.cwiseProduct(G.cwiseProduct(rxhat).rowwise().mean());
      // s (R{h} − R{m1} − R{x̂} m2 − x̂ R{m2})
      RdX.colwise() -= rm1;
      RdX -= ws.m2.asDiagonal() * rxhat;
      RdX -= rm2.asDiagonal() * xhat;
      RdX.array().colwise() *= s.array();
      // + R{s} (h − m1 − x̂ m2)
      rm1 = ws.rinv_std.cwiseProduct(g);
      RdX += rm1.asDiagonal() * G;
      rm1 = ws.rinv_std.cwiseProduct(ws.m1);
      RdX.colwise() -= rm1;
      rm2 = ws.rinv_std.cwiseProduct(ws.m2);
      RdX -= rm2.asDiagonal() * xhat;
    } else {
      RdX = (vg.cwiseProduct(ws.inv_std)).asDiagonal() * G;
      RdX += (g.cwiseProduct(ws.inv_std)).asDiagonal() * RG;
    }
  }

  /// After a training forward pass over B columns: m_run ← (1−α) m_run + α μ and
  /// v_run ← (1−α) v_run + α σ² B/(B−1) (unbiased, as PyTorch; the biased σ² when B = 1).
  template <class S>
  void update_running(VectorRef<S> theta, const BatchNormWorkspace<S>& ws, double momentum,
                      Eigen::Index B) const {
    const S a = static_cast<S>(momentum);
    const S unbias = B > 1 ? static_cast<S>(B) / static_cast<S>(B - 1) : S(1);
    auto rm = theta.segment(running_mean.offset, size());
    auto rv = theta.segment(running_var.offset, size());
    rm = (S(1) - a) * rm + a * ws.mean;
    rv = (S(1) - a) * rv + (a * unbias) * ws.var;
  }
};

}  // namespace metarec::nn
