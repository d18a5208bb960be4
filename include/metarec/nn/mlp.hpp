#pragma once
/// @file mlp.hpp
/// @brief A stack of dense layers with activations and dropout (a "tower"), batched, with exact
/// backward and R-operator passes, over flat θ and a reusable workspace.
///
/// Layer l = 1..L: Z_l = W_l A_{l−1} + b_l, A_l = M_l ∘ f_l(N_l), where N_l = BN_l(Z_l) with batch
/// normalisation (option `batch_norm`, hidden layers only; see batch_norm.hpp) and N_l = Z_l
/// otherwise, f_l is the hidden activation for l < L and the output activation for l = L, and M_l
/// is the inverted-dropout mask (hidden layers only, training only; M = 1 otherwise). A_0 is the
/// input. With batch normalisation, `forward` in training mode (ctx.training) uses the batch
/// statistics and otherwise the running statistics in θ, which `update_running` refreshes.
///
/// Usage protocol (all passes read and write the workspace `ws`, columns `0..B−1`):
/// 1. `ws.reserve(mlp, B)`, write the input into `ws.a[0].leftCols(B)`;
/// 2. `forward` → `ws.a[L]`;
/// 3. write ∂L/∂A_L into `ws.g[L]`; `backward` accumulates parameter gradients into the sink and
///    (optionally) writes ∂L/∂A_0 into `ws.g[0]`;
/// 4. for H·v: write R{A_0} into `ws.ra[0]` (or pass `input_varies = false`), `r_forward` → `ws.ra[L]`;
///    write R{∂L/∂A_L} into `ws.rg[L]`; `r_backward` (after `backward`) accumulates H·v into the
///    sink and (optionally) writes R{∂L/∂A_0} into `ws.rg[0]`.

#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/nn/activation.hpp>
#include <metarec/nn/batch_norm.hpp>
#include <metarec/nn/common.hpp>
#include <metarec/nn/dense.hpp>
#include <metarec/nn/dropout.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::nn {

class Mlp;

/// Scratch of one `Mlp` pass, sized by batch; reuse it across calls so steps do not allocate.
template <class S>
struct MlpWorkspace {
  std::vector<Matrix<S>> a, g, ra, rg;          ///< L+1 each: activations, ∂L/∂A, R{A}, R{∂L/∂A}
  std::vector<Matrix<S>> z, d1, mask, dz, rz, rdz, tmp;  ///< L each
  std::vector<Matrix<S>> n, dn, rn;             ///< L each with batch normalisation: N, ∂L/∂N, R{N}
  std::vector<BatchNormWorkspace<S>> bn;        ///< L each with batch normalisation
  Eigen::Index batch = 0;                       ///< columns in use
  bool dropout_on = false;                      ///< whether the last forward pass used masks

  /// Sizes every matrix for `mlp` and a batch of `B` columns (grow-only: no allocation when a
  /// batch of this size or smaller was seen before).
  void reserve(const Mlp& mlp, Eigen::Index B);
};

/// Options of an `Mlp`.
struct MlpOptions {
  std::vector<Eigen::Index> sizes{};              ///< {in, h1, ..., out}; at least 2 entries
  Activation hidden = Activation::relu;           ///< f_l for l < L
  Activation output = Activation::identity;       ///< f_L
  double dropout = 0.0;                           ///< drop probability after each hidden layer
  DenseInit init = DenseInit::he_normal;          ///< weight initialisation
  std::uint64_t dropout_id = 0;                   ///< distinguishes this tower's masks in a model
  bool batch_norm = false;                        ///< batch normalisation before each hidden activation
  double bn_momentum = 0.1;                       ///< α of the running-statistics update
};

/// A multilayer perceptron over flat θ.
/// @code
/// metarec::ParameterLayout layout;
/// metarec::nn::Mlp mlp(layout, "decision", {.sizes = {192, 64, 64, 1}});
/// metarec::nn::MlpWorkspace<float> ws;
/// ws.reserve(mlp, B);
/// ws.a[0].leftCols(B) = X;  // inputs
/// mlp.forward<float>(theta, ws, {});
/// // ws.a.back().leftCols(B) holds the outputs
/// @endcode
class Mlp {
 public:
  Mlp() = default;

  /// Appends the layers' blocks (`<name>.<l>.weight`, `<name>.<l>.bias`) to `layout`.
  /// @throws std::invalid_argument when fewer than 2 sizes, a size < 1, or dropout ∉ [0, 1).
  Mlp(ParameterLayout& layout, const std::string& name, MlpOptions options)
      : opt_(std::move(options)) {
    if (opt_.sizes.size() < 2)
      throw std::invalid_argument("Mlp: '" + name + "' needs at least {in, out} sizes (got " +
                                  std::to_string(opt_.sizes.size()) + ")");
    for (const auto s : opt_.sizes)
      if (s < 1)
        throw std::invalid_argument("Mlp: '" + name + "' has a layer of size " + std::to_string(s) +
                                    "; sizes must be >= 1");
    if (!(opt_.dropout >= 0.0 && opt_.dropout < 1.0))
      throw std::invalid_argument("Mlp: '" + name + "' dropout must be in [0, 1) (got " +
                                  std::to_string(opt_.dropout) + ")");
    for (std::size_t l = 0; l + 1 < opt_.sizes.size(); ++l) {
      layers_.push_back(Dense::add(layout, name + "." + std::to_string(l), opt_.sizes[l],
                                   opt_.sizes[l + 1]));
      if (opt_.batch_norm && l + 2 < opt_.sizes.size())
        bns_.push_back(BatchNorm::add(layout, name + "." + std::to_string(l) + ".bn", opt_.sizes[l + 1]));
    }
  }

  [[nodiscard]] std::size_t num_layers() const noexcept { return layers_.size(); }
  [[nodiscard]] const std::vector<Dense>& layers() const noexcept { return layers_; }
  [[nodiscard]] Eigen::Index input_size() const noexcept { return opt_.sizes.front(); }
  [[nodiscard]] Eigen::Index output_size() const noexcept { return opt_.sizes.back(); }
  [[nodiscard]] const MlpOptions& options() const noexcept { return opt_; }

  /// Appends the segments of every W and b (in layer order) to `out` (and of the trainable γ, β
  /// of batch normalisation; never the running statistics).
  void append_segments(std::vector<Segment>& out) const {
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      out.push_back(layers_[l].W.segment());
      out.push_back(layers_[l].b.segment());
      if (has_bn(l)) {
        out.push_back(bns_[l].gamma.segment());
        out.push_back(bns_[l].beta.segment());
      }
    }
  }

  /// Overwrites the layers' parameters in θ (batch normalisation: γ = 1, β = 0, running mean 0,
  /// running variance 1).
  template <class S>
  void initialize(VectorRef<S> theta, Rng& rng) const {
    for (const auto& d : layers_) d.initialize<S>(theta, rng, opt_.init);
    for (const auto& b : bns_) b.initialize<S>(theta);
  }

  /// Whether hidden layer l is batch-normalised.
  [[nodiscard]] bool has_bn(std::size_t l) const noexcept { return l < bns_.size(); }
  [[nodiscard]] const std::vector<BatchNorm>& batch_norms() const noexcept { return bns_; }

  /// Running-statistics update of every batch-normalised layer from the last TRAINING `forward`
  /// in `ws` (no-op without batch normalisation). θ's running-statistics segments are written.
  template <class S>
  void update_running(VectorRef<S> theta, const MlpWorkspace<S>& ws) const {
    for (std::size_t l = 0; l < bns_.size(); ++l)
      bns_[l].update_running<S>(theta, ws.bn[l], opt_.bn_momentum, ws.batch);
  }

  /// Forward pass: reads `ws.a[0]`, writes z, a (and masks, derivatives) of every layer. With
  /// `first_z_given`, `ws.z[0]` already holds the first layer's W₀ a₀ + b₀ (computed another way,
  /// as `EmbeddingFields::linear_by_tables` does) and `ws.a[0]` is not read.
  template <class S>
  void forward(const ConstVectorRef<S>& theta, MlpWorkspace<S>& ws, const DropoutContext& ctx,
               bool first_z_given = false) const {
    const Eigen::Index B = ws.batch;
    const std::size_t L = layers_.size();
    for (std::size_t l = 0; l < L; ++l) {
      auto z = ws.z[l].leftCols(B);
      auto a = ws.a[l + 1].leftCols(B);
      auto d1 = ws.d1[l].leftCols(B);
      if (l > 0 || !first_z_given) layers_[l].forward<S>(theta, ws.a[l].leftCols(B), z);
      if (has_bn(l)) {
        auto nl = ws.n[l].leftCols(B);
        bns_[l].forward<S>(theta, z, nl, ws.bn[l], ctx.training);
        activation_forward<S>(act(l), nl, a, d1);
      } else {
        activation_forward<S>(act(l), z, a, d1);
      }
      if (uses_dropout(l, ctx)) {
        auto m = ws.mask[l].leftCols(B);
        dropout_mask<S>(ctx, opt_.dropout, opt_.dropout_id * 64 + l, m);
        a.array() *= m.array();
        d1.array() *= m.array();
      }
    }
    ws.dropout_on = ctx.training && opt_.dropout > 0.0;
  }

  /// Backward pass: reads `ws.g[L]`; accumulates ∂W, ∂b into `sink`; writes ∂L/∂A_0 into `ws.g[0]`
  /// when `input_grad`.
  template <class S, class Sink>
  void backward(const ConstVectorRef<S>& theta, MlpWorkspace<S>& ws, Sink& sink,
                bool input_grad) const {
    const Eigen::Index B = ws.batch;
    for (std::size_t l = layers_.size(); l-- > 0;) {
      auto dz = ws.dz[l].leftCols(B);
      if (has_bn(l)) {
        auto dn = ws.dn[l].leftCols(B);
        dn = ws.d1[l].leftCols(B).cwiseProduct(ws.g[l + 1].leftCols(B));
        bns_[l].backward<S>(theta, dn, sink, ws.bn[l], dz);
      } else {
        dz = ws.d1[l].leftCols(B).cwiseProduct(ws.g[l + 1].leftCols(B));
      }
      MatRef<S> gin = ws.g[l].leftCols(B);
      layers_[l].backward<S>(theta, ws.a[l].leftCols(B), dz, sink,
                             (l > 0 || input_grad) ? &gin : nullptr);
    }
  }

  /// R-forward pass: reads `ws.ra[0]` (when `input_varies`), writes R{Z}, R{A}; result `ws.ra[L]`.
  template <class S>
  void r_forward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, MlpWorkspace<S>& ws,
                 bool input_varies) const {
    const Eigen::Index B = ws.batch;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      auto rz = ws.rz[l].leftCols(B);
      const ConstMatRef<S> rin = ws.ra[l].leftCols(B);
      layers_[l].r_forward<S>(theta, v, ws.a[l].leftCols(B),
                              (l > 0 || input_varies) ? &rin : nullptr, rz);
      if (has_bn(l)) {
        auto rn = ws.rn[l].leftCols(B);
        const ConstMatRef<S> rzc = rz;
        bns_[l].r_forward<S>(theta, v, ws.z[l].leftCols(B), &rzc, rn, ws.bn[l]);
        ws.ra[l + 1].leftCols(B) = ws.d1[l].leftCols(B).cwiseProduct(rn);
      } else {
        ws.ra[l + 1].leftCols(B) = ws.d1[l].leftCols(B).cwiseProduct(rz);
      }
    }
  }

  /// R-backward pass (after `backward` and `r_forward`): reads `ws.rg[L]`; accumulates H·v into
  /// `sink`; writes R{∂L/∂A_0} into `ws.rg[0]` when `input_grad`.
  template <class S, class Sink>
  void r_backward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, MlpWorkspace<S>& ws,
                  Sink& sink, bool input_varies, bool input_grad) const {
    const Eigen::Index B = ws.batch;
    for (std::size_t l = layers_.size(); l-- > 0;) {
      // With batch normalisation the activation acts on N (R{N} = rn); rdz first holds R{∂L/∂N}.
      auto rdz = ws.rdz[l].leftCols(B);
      const bool bn = has_bn(l);
      rdz = ws.d1[l].leftCols(B).cwiseProduct(ws.rg[l + 1].leftCols(B));
      if (!has_zero_curvature(act(l))) {
        auto d2 = ws.tmp[l].leftCols(B);
        activation_second<S>(act(l), bn ? ws.n[l].leftCols(B) : ws.z[l].leftCols(B), d2);
        if (ws.dropout_on && l + 1 < layers_.size()) d2.array() *= ws.mask[l].leftCols(B).array();
        rdz.array() += d2.array() * (bn ? ws.rn[l] : ws.rz[l]).leftCols(B).array() *
                       ws.g[l + 1].leftCols(B).array();
      }
      if (bn) {
        auto rdn = ws.tmp[l].leftCols(B);
        rdn = rdz;
        bns_[l].r_backward<S>(theta, v, ws.dn[l].leftCols(B), rdn, sink, ws.bn[l], rdz);
      }
      const ConstMatRef<S> rin = ws.ra[l].leftCols(B);
      MatRef<S> rgin = ws.rg[l].leftCols(B);
      layers_[l].r_backward<S>(theta, v, ws.a[l].leftCols(B),
                               (l > 0 || input_varies) ? &rin : nullptr, ws.dz[l].leftCols(B), rdz,
                               sink, (l > 0 || input_grad) ? &rgin : nullptr);
    }
  }

 private:
  [[nodiscard]] Activation act(std::size_t l) const noexcept {
    return l + 1 == layers_.size() ? opt_.output : opt_.hidden;
  }
  [[nodiscard]] bool uses_dropout(std::size_t l, const DropoutContext& ctx) const noexcept {
    return ctx.training && opt_.dropout > 0.0 && l + 1 < layers_.size();
  }
  MlpOptions opt_;
  std::vector<Dense> layers_;
  std::vector<BatchNorm> bns_;  ///< one per hidden layer with batch_norm, else empty
};

template <class S>
void MlpWorkspace<S>::reserve(const Mlp& mlp, Eigen::Index B) {
  const std::size_t L = mlp.num_layers();
  for (auto* v : {&a, &g, &ra, &rg}) v->resize(L + 1);
  for (auto* v : {&z, &d1, &mask, &dz, &rz, &rdz, &tmp}) v->resize(L);
  const auto& sizes = mlp.options().sizes;
  for (std::size_t l = 0; l <= L; ++l)
    for (auto* v : {&a, &g, &ra, &rg}) ensure_shape((*v)[l], sizes[l], B);
  for (std::size_t l = 0; l < L; ++l)
    for (auto* v : {&z, &d1, &mask, &dz, &rz, &rdz, &tmp}) ensure_shape((*v)[l], sizes[l + 1], B);
  const std::size_t nb = mlp.batch_norms().size();
  if (nb > 0) {
    for (auto* v : {&n, &dn, &rn}) v->resize(nb);
    bn.resize(nb);
    for (std::size_t l = 0; l < nb; ++l) {
      for (auto* v : {&n, &dn, &rn}) ensure_shape((*v)[l], sizes[l + 1], B);
      bn[l].reserve(sizes[l + 1], B);
    }
  }
  batch = B;
}

}  // namespace metarec::nn
