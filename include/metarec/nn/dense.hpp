#pragma once
/// @file dense.hpp
/// @brief A fully connected (affine) layer over flat θ: z = W x + b, batched (columns = examples).
///
/// | pass | computes |
/// |---|---|
/// | forward | Z = W X + b 1ᵀ |
/// | backward | ∂W += ΔZ Xᵀ, ∂b += ΔZ 1, ΔX = Wᵀ ΔZ |
/// | R-forward | R{Z} = V_W X + W R{X} + v_b 1ᵀ |
/// | R-backward | (H v)_W += R{ΔZ} Xᵀ + ΔZ R{X}ᵀ, (H v)_b += R{ΔZ} 1, R{ΔX} = V_Wᵀ ΔZ + Wᵀ R{ΔZ} |
///
/// where ΔZ = ∂L/∂Z and V_W, v_b are the parts of the direction v on W and b.

#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/nn/common.hpp>

#include <cmath>
#include <string>

namespace metarec::nn {

/// How a dense layer's weights are drawn (biases start at 0 unless stated).
enum class DenseInit {
  he_normal,       ///< N(0, 2/fan_in): ReLU networks
  xavier_uniform,  ///< U(±√(6/(fan_in+fan_out))): tanh / sigmoid / linear
  torch_default,   ///< W and b ~ U(±1/√fan_in), PyTorch's nn.Linear default (as MeLU's code)
  lecun_normal     ///< N(0, 1/fan_in): SELU networks
};

/// One affine layer `out × in`: the blocks of W (out × in, column-major) and b (out) in θ.
/// @code
/// metarec::ParameterLayout layout;
/// const auto fc = metarec::nn::Dense::add(layout, "fc1", 192, 64);
/// // Z = W X + b for a batch X (192 × B):
/// fc.forward<float>(theta, X, Z);
/// @endcode
struct Dense {
  Block W;  ///< out × in
  Block b;  ///< out × 1

  /// Appends W then b to `layout` (names `<name>.weight`, `<name>.bias`).
  static Dense add(ParameterLayout& layout, const std::string& name, Eigen::Index in,
                   Eigen::Index out) {
    Dense d;
    d.W = layout.add(name + ".weight", out, in);
    d.b = layout.add(name + ".bias", out, 1);
    return d;
  }

  [[nodiscard]] Eigen::Index in() const noexcept { return W.cols; }
  [[nodiscard]] Eigen::Index out() const noexcept { return W.rows; }

  /// Overwrites W and b in θ with a draw of the given scheme.
  template <class S>
  void initialize(VectorRef<S> theta, Rng& rng, DenseInit init) const {
    const double fan_in = static_cast<double>(in()), fan_out = static_cast<double>(out());
    auto w = W.map<S>(theta);
    auto bias = b.map<S>(theta);
    bias.setZero();
    for (Eigen::Index k = 0; k < w.size(); ++k) {
      double x = 0.0;
      switch (init) {
        case DenseInit::he_normal: x = rng.normal(0.0, std::sqrt(2.0 / fan_in)); break;
        case DenseInit::lecun_normal: x = rng.normal(0.0, std::sqrt(1.0 / fan_in)); break;
        case DenseInit::xavier_uniform: {
          const double a = std::sqrt(6.0 / (fan_in + fan_out));
          x = rng.uniform(-a, a);
          break;
        }
        case DenseInit::torch_default: x = rng.uniform(-1.0, 1.0) / std::sqrt(fan_in); break;
      }
      w.data()[k] = static_cast<S>(x);
    }
    if (init == DenseInit::torch_default)
      for (Eigen::Index k = 0; k < bias.size(); ++k)
        bias.data()[k] = static_cast<S>(rng.uniform(-1.0, 1.0) / std::sqrt(fan_in));
  }

  /// Z = W X + b. X is in × B, Z is out × B (OVERWRITTEN).
  template <class S>
  void forward(const ConstVectorRef<S>& theta, const ConstMatRef<S>& X, MatRef<S> Z) const {
    Z.noalias() = W.map<S>(theta) * X;
    Z.colwise() += bias_map<S>(theta, b);
  }

  /// Accumulates ∂W += ΔZ Xᵀ and ∂b += ΔZ 1 into `sink` (skipped for `NoSink`); when `dX` is
  /// given, OVERWRITES it with Wᵀ ΔZ.
  template <class S, class Sink>
  void backward(const ConstVectorRef<S>& theta, const ConstMatRef<S>& X, const ConstMatRef<S>& dZ,
                Sink& sink, MatRef<S>* dX) const {
    if constexpr (wants_gradient<Sink>) {
      sink_block<S>(sink, W).noalias() += dZ * X.transpose();
      sink_block<S>(sink, b) += dZ.rowwise().sum();
    }
    if (dX) dX->noalias() = W.map<S>(theta).transpose() * dZ;
  }

  /// R{Z} = V_W X + W R{X} + v_b (OVERWRITTEN). `RX` may be null when R{X} = 0 (a constant input).
  template <class S>
  void r_forward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, const ConstMatRef<S>& X,
                 const ConstMatRef<S>* RX, MatRef<S> RZ) const {
    RZ.noalias() = W.map<S>(v) * X;
    if (RX) RZ.noalias() += W.map<S>(theta) * (*RX);
    RZ.colwise() += bias_map<S>(v, b);
  }

  /// Accumulates (H v)_W += R{ΔZ} Xᵀ + ΔZ R{X}ᵀ and (H v)_b += R{ΔZ} 1 into `sink`; when `RdX`
  /// is given, OVERWRITES it with V_Wᵀ ΔZ + Wᵀ R{ΔZ}. `RX` may be null (constant input).
  template <class S, class Sink>
  void r_backward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, const ConstMatRef<S>& X,
                  const ConstMatRef<S>* RX, const ConstMatRef<S>& dZ, const ConstMatRef<S>& RdZ,
                  Sink& sink, MatRef<S>* RdX) const {
    if constexpr (wants_gradient<Sink>) {
      auto hw = sink_block<S>(sink, W);
      hw.noalias() += RdZ * X.transpose();
      if (RX) hw.noalias() += dZ * RX->transpose();
      sink_block<S>(sink, b) += RdZ.rowwise().sum();
    }
    if (RdX) {
      RdX->noalias() = W.map<S>(v).transpose() * dZ;
      RdX->noalias() += W.map<S>(theta).transpose() * RdZ;
    }
  }
};

}  // namespace metarec::nn
