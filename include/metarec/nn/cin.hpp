#pragma once
/// @file cin.hpp
/// @brief Compressed Interaction Network (xDeepFM, Lian et al. KDD 2018), batched, with exact
/// backward and R-operator passes.
///
/// With m fields of width D, X⁰ holds the field embeddings and layer k (H_k feature maps) is
///
///     X^k_{h,d} = Σ_{i<H_{k−1}} Σ_{j<m} W^k_{h,(i,j)} X^{k−1}_{i,d} X⁰_{j,d},   p^k_h = Σ_d X^k_{h,d}
///     y_cin     = Σ_k Σ_h w_h^k p^k_h                       (identity activation, no split-half)
///
/// Every (example, dimension) pair is independent, so the batch is processed as matrices whose
/// ROWS are the (b, d) pairs: X^k is (B·D) × H_k, Z^k = [X^{k−1}∘X⁰_{:,0}, …, X^{k−1}∘X⁰_{:,m−1}]
/// is (B·D) × (H_{k−1}·m) and X^k = Z^k W^kᵀ (one GEMM per layer). Passes:
/// backward ∂W^k = ∂X^kᵀ Z^k, ∂Z^k = ∂X^k W^k, ∂X^{k−1} += Σ_j ∂Z_j∘X⁰_j, ∂X⁰_j += Σ_i ∂Z_{(i,j)}∘X^{k−1}_i;
/// R-forward R{Z_j} = R{X^{k−1}}∘X⁰_j + X^{k−1}∘R{X⁰_j}, R{X^k} = R{Z} W^kᵀ + Z V^kᵀ;
/// R-backward: the same with every product differentiated (see the code).

#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/nn/common.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::nn {

class Cin;

/// Scratch of one `Cin` pass (grow-only).
template <class S>
struct CinWorkspace {
  std::vector<Matrix<S>> x, z, dx, dz, rx, rz, rdx, rdz;  ///< per layer (x[0] = X⁰)
  Matrix<S> out_grad, r_out_grad;                          ///< 1 × B: ∂L/∂y_cin and its R{}
  Eigen::Index batch = 0;
  void reserve(const Cin& cin, Eigen::Index B);
};

/// A CIN over m fields of width D with layer sizes H_1..H_K and one output unit per feature map.
/// @code
/// metarec::ParameterLayout layout;
/// metarec::nn::Cin cin(layout, "cin", /*fields=*/4, /*dims=*/8, {16, 16});
/// metarec::nn::CinWorkspace<float> ws;
/// ws.reserve(cin, B);
/// cin.forward<float>(theta, E, ws, y);   // E: 4·8 × B stacked field embeddings, y: 1 × B
/// @endcode
class Cin {
 public:
  Cin() = default;
  /// @throws std::invalid_argument when fields, dims or a layer size < 1, or no layer.
  Cin(ParameterLayout& layout, const std::string& name, Eigen::Index fields, Eigen::Index dims,
      std::vector<Eigen::Index> layers)
      : m_(fields), d_(dims), h_(std::move(layers)) {
    if (m_ < 1 || d_ < 1 || h_.empty())
      throw std::invalid_argument("Cin: '" + name + "' needs fields, dims >= 1 and one layer (got " +
                                  std::to_string(m_) + ", " + std::to_string(d_) + ", " +
                                  std::to_string(h_.size()) + " layers)");
    Eigen::Index prev = m_, total = 0;
    for (std::size_t k = 0; k < h_.size(); ++k) {
      if (h_[k] < 1) throw std::invalid_argument("Cin: '" + name + "' has a layer of size < 1");
      W_.push_back(layout.add(name + "." + std::to_string(k) + ".weight", h_[k], prev * m_));
      prev = h_[k];
      total += h_[k];
    }
    w_out_ = layout.add(name + ".output", total, 1);
  }

  [[nodiscard]] Eigen::Index fields() const noexcept { return m_; }
  [[nodiscard]] Eigen::Index dims() const noexcept { return d_; }
  [[nodiscard]] const std::vector<Eigen::Index>& layers() const noexcept { return h_; }
  [[nodiscard]] Eigen::Index width(std::size_t k) const noexcept {  // H_k, with H_0 = m
    return k == 0 ? m_ : h_[k - 1];
  }

  /// Overwrites W^k ~ U(±√(6/(fan_in+fan_out))) and the output weights ~ U(±1/√ΣH).
  template <class S>
  void initialize(VectorRef<S> theta, Rng& rng) const {
    for (const auto& W : W_) {
      const double a = std::sqrt(6.0 / static_cast<double>(W.rows + W.cols));
      for (Eigen::Index k = 0; k < W.size(); ++k)
        theta[W.offset + k] = static_cast<S>(rng.uniform(-a, a));
    }
    const double a = 1.0 / std::sqrt(static_cast<double>(w_out_.rows));
    for (Eigen::Index k = 0; k < w_out_.size(); ++k)
      theta[w_out_.offset + k] = static_cast<S>(rng.uniform(-a, a));
  }

  /// y (1 × B) is OVERWRITTEN with y_cin of the stacked embeddings E (m·D × B).
  template <class S>
  void forward(const ConstVectorRef<S>& theta, const ConstMatRef<S>& E, CinWorkspace<S>& ws,
               MatRef<S> y) const {
    const Eigen::Index B = ws.batch;
    to_rows<S>(E, ws.x[0], B);
    y.setZero();
    Eigen::Index off = 0;
    for (std::size_t k = 1; k <= h_.size(); ++k) {
      build_z<S>(ws.x[k - 1], ws.x[0], ws.z[k - 1], B, k);
      auto xk = ws.x[k].topRows(B * d_);
      xk.noalias() = ws.z[k - 1].topRows(B * d_) * W_[k - 1].map<S>(theta).transpose();
      pool_add<S>(xk, w_out_map<S>(theta).segment(off, h_[k - 1]), y);
      off += h_[k - 1];
    }
  }

  /// Backward from ∂L/∂y (`ws.out_grad`, 1 × B): accumulates ∂W^k and ∂w into `sink`; dE (m·D × B)
  /// is OVERWRITTEN with ∂L/∂E.
  template <class S, class Sink>
  void backward(const ConstVectorRef<S>& theta, CinWorkspace<S>& ws, Sink& sink, MatRef<S> dE) const {
    const Eigen::Index B = ws.batch, R = B * d_;
    const auto wout = w_out_map<S>(theta);
    Eigen::Index off = total();
    for (std::size_t k = h_.size(); k >= 1; --k) {
      const Eigen::Index Hk = h_[k - 1];
      off -= Hk;
      auto dx = ws.dx[k].topRows(R);
      if (k == h_.size()) dx.setZero();
      // + ∂/∂X^k of Σ_h w_h p_h: row (b, d) gets out_grad_b · w
      for (Eigen::Index b = 0; b < B; ++b)
        dx.middleRows(b * d_, d_).rowwise() += ws.out_grad(0, b) * wout.segment(off, Hk).transpose();
      if constexpr (wants_gradient<Sink>) {
        auto gw = sink.segment(w_out_.offset + off, Hk);
        for (Eigen::Index b = 0; b < B; ++b)
          gw += ws.out_grad(0, b) * ws.x[k].middleRows(b * d_, d_).colwise().sum().transpose();
        sink_block<S>(sink, W_[k - 1]).noalias() += dx.transpose() * ws.z[k - 1].topRows(R);
      }
      auto dz = ws.dz[k - 1].topRows(R);
      dz.noalias() = dx * W_[k - 1].map<S>(theta);
      split_z_grad<S>(dz, ws.x[k - 1], ws.x[0], ws.dx[k - 1], ws.dx[0], R, k,
                      /*first=*/k == h_.size());
    }
    from_rows<S>(ws.dx[0], dE, B);
  }

  /// R{y} (1 × B) OVERWRITTEN, given R{E} (m·D × B); after `forward`.
  template <class S>
  void r_forward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, const ConstMatRef<S>& RE,
                 CinWorkspace<S>& ws, MatRef<S> ry) const {
    const Eigen::Index B = ws.batch, R = B * d_;
    to_rows<S>(RE, ws.rx[0], B);
    ry.setZero();
    Eigen::Index off = 0;
    for (std::size_t k = 1; k <= h_.size(); ++k) {
      const Eigen::Index Hp = width(k - 1), Hk = h_[k - 1];
      auto rz = ws.rz[k - 1].topRows(R);
      for (Eigen::Index j = 0; j < m_; ++j)
        rz.middleCols(j * Hp, Hp) =
            (ws.rx[k - 1].topRows(R).array().colwise() * ws.x[0].col(j).head(R).array() +
             ws.x[k - 1].topRows(R).array().colwise() * ws.rx[0].col(j).head(R).array())
                .matrix();
      auto rx = ws.rx[k].topRows(R);
      rx.noalias() = rz * W_[k - 1].map<S>(theta).transpose();
      rx.noalias() += ws.z[k - 1].topRows(R) * W_[k - 1].map<S>(v).transpose();
      pool_add<S>(rx, w_out_map<S>(theta).segment(off, Hk), ry);
      pool_add<S>(ws.x[k].topRows(R), w_out_map<S>(v).segment(off, Hk), ry);
      off += Hk;
    }
  }

  /// R-backward from R{∂L/∂y} (`ws.r_out_grad`), after `backward` and `r_forward`: accumulates
  /// H·v into `sink`; RdE (m·D × B) is OVERWRITTEN with R{∂L/∂E}.
  template <class S, class Sink>
  void r_backward(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, CinWorkspace<S>& ws,
                  Sink& sink, MatRef<S> RdE) const {
    const Eigen::Index B = ws.batch, R = B * d_;
    const auto wout = w_out_map<S>(theta);
    const auto vout = w_out_map<S>(v);
    Eigen::Index off = total();
    for (std::size_t k = h_.size(); k >= 1; --k) {
      const Eigen::Index Hk = h_[k - 1];
      off -= Hk;
      auto rdx = ws.rdx[k].topRows(R);
      if (k == h_.size()) rdx.setZero();
      for (Eigen::Index b = 0; b < B; ++b)
        rdx.middleRows(b * d_, d_).rowwise() +=
            (ws.r_out_grad(0, b) * wout.segment(off, Hk) + ws.out_grad(0, b) * vout.segment(off, Hk))
                .transpose();
      if constexpr (wants_gradient<Sink>) {
        auto hw = sink.segment(w_out_.offset + off, Hk);
        for (Eigen::Index b = 0; b < B; ++b)
          hw += ws.r_out_grad(0, b) * ws.x[k].middleRows(b * d_, d_).colwise().sum().transpose() +
                ws.out_grad(0, b) * ws.rx[k].middleRows(b * d_, d_).colwise().sum().transpose();
        auto hW = sink_block<S>(sink, W_[k - 1]);
        hW.noalias() += rdx.transpose() * ws.z[k - 1].topRows(R);
        hW.noalias() += ws.dx[k].topRows(R).transpose() * ws.rz[k - 1].topRows(R);
      }
      auto rdz = ws.rdz[k - 1].topRows(R);
      rdz.noalias() = rdx * W_[k - 1].map<S>(theta);
      rdz.noalias() += ws.dx[k].topRows(R) * W_[k - 1].map<S>(v);
      // R{∂X^{k−1}} and R{∂X⁰}: product rule on ∂Z_(i,j)∘X⁰_j and ∂Z_(i,j)∘X^{k−1}_i.
      const Eigen::Index Hp = width(k - 1);
      auto rd0 = ws.rdx[0].topRows(R);
      if (k == h_.size()) rd0.setZero();
      if (k - 1 > 0) ws.rdx[k - 1].topRows(R).setZero();
      for (Eigen::Index j = 0; j < m_; ++j) {
        const auto dzj = ws.dz[k - 1].topRows(R).middleCols(j * Hp, Hp);
        const auto rdzj = rdz.middleCols(j * Hp, Hp);
        const auto x0j = ws.x[0].col(j).head(R);
        const auto rx0j = ws.rx[0].col(j).head(R);
        rd0.col(j) += (rdzj.cwiseProduct(ws.x[k - 1].topRows(R)) +
                       dzj.cwiseProduct(ws.rx[k - 1].topRows(R)))
                          .rowwise()
                          .sum();
        auto target = ws.rdx[k - 1].topRows(R);  // = rd0 when k − 1 == 0
        target += (rdzj.array().colwise() * x0j.array() + dzj.array().colwise() * rx0j.array())
                      .matrix();
      }
    }
    from_rows<S>(ws.rdx[0], RdE, B);
  }

 private:
  [[nodiscard]] Eigen::Index total() const noexcept { return w_out_.rows; }

  template <class S>
  [[nodiscard]] Eigen::Map<const Vector<S>> w_out_map(const ConstVectorRef<S>& p) const {
    return Eigen::Map<const Vector<S>>(p.data() + w_out_.offset, w_out_.rows);
  }

  // E (m·D × B, field-major per column) → X⁰ rows (b, d), columns j.
  template <class S>
  void to_rows(const ConstMatRef<S>& E, Matrix<S>& X0, Eigen::Index B) const {
    for (Eigen::Index b = 0; b < B; ++b)
      X0.middleRows(b * d_, d_) = Eigen::Map<const Matrix<S>, 0, Eigen::OuterStride<>>(
          E.col(b).data(), d_, m_, Eigen::OuterStride<>(d_));
  }
  template <class S>
  void from_rows(const Matrix<S>& X0, MatRef<S> E, Eigen::Index B) const {
    for (Eigen::Index b = 0; b < B; ++b)
      Eigen::Map<Matrix<S>, 0, Eigen::OuterStride<>>(E.col(b).data(), d_, m_,
                                                     Eigen::OuterStride<>(d_)) =
          X0.middleRows(b * d_, d_);
  }
  template <class S>
  void build_z(const Matrix<S>& Xp, const Matrix<S>& X0, Matrix<S>& Z, Eigen::Index B,
               std::size_t k) const {
    const Eigen::Index R = B * d_, Hp = width(k - 1);
    for (Eigen::Index j = 0; j < m_; ++j)
      Z.topRows(R).middleCols(j * Hp, Hp) =
          (Xp.topRows(R).array().colwise() * X0.col(j).head(R).array()).matrix();
  }
  // y_b += Σ_d (X w)[(b, d)]
  template <class S, class XT, class WT>
  void pool_add(const XT& X, const WT& w, MatRef<S> y) const {
    for (Eigen::Index b = 0; b < y.cols(); ++b)
      y(0, b) += (X.middleRows(b * d_, d_) * w).sum();
  }
  // From ∂Z: ∂X^{k−1} (overwritten when k−1 ≥ 1) and ∂X⁰ (accumulated; zeroed when `first`).
  template <class S, class DZ>
  void split_z_grad(const DZ& dz, const Matrix<S>& Xp, const Matrix<S>& X0, Matrix<S>& dXp,
                    Matrix<S>& dX0, Eigen::Index R, std::size_t k, bool first) const {
    const Eigen::Index Hp = width(k - 1);
    if (first) dX0.topRows(R).setZero();
    if (k - 1 > 0) dXp.topRows(R).setZero();
    for (Eigen::Index j = 0; j < m_; ++j) {
      const auto dzj = dz.middleCols(j * Hp, Hp);
      dX0.col(j).head(R) += dzj.cwiseProduct(Xp.topRows(R)).rowwise().sum();
      if (k - 1 > 0)
        dXp.topRows(R) += (dzj.array().colwise() * X0.col(j).head(R).array()).matrix();
      else
        dX0.topRows(R) += (dzj.array().colwise() * X0.col(j).head(R).array()).matrix();
    }
  }

  Eigen::Index m_ = 0, d_ = 0;
  std::vector<Eigen::Index> h_;
  std::vector<Block> W_;
  Block w_out_;
};

template <class S>
void CinWorkspace<S>::reserve(const Cin& cin, Eigen::Index B) {
  const std::size_t K = cin.layers().size();
  const Eigen::Index R = B * cin.dims();
  for (auto* v : {&x, &dx, &rx, &rdx}) v->resize(K + 1);
  for (auto* v : {&z, &dz, &rz, &rdz}) v->resize(K);
  for (std::size_t k = 0; k <= K; ++k)
    for (auto* v : {&x, &dx, &rx, &rdx}) {
      auto& mtx = (*v)[k];
      if (mtx.cols() != cin.width(k) || mtx.rows() < R) mtx.resize(std::max(R, mtx.rows()), cin.width(k));
    }
  for (std::size_t k = 0; k < K; ++k)
    for (auto* v : {&z, &dz, &rz, &rdz}) {
      auto& mtx = (*v)[k];
      const Eigen::Index c = cin.width(k) * cin.fields();
      if (mtx.cols() != c || mtx.rows() < R) mtx.resize(std::max(R, mtx.rows()), c);
    }
  ensure_shape(out_grad, 1, B);
  ensure_shape(r_out_grad, 1, B);
  batch = B;
}

}  // namespace metarec::nn
