#pragma once
/// @file bi_interaction.hpp
/// @brief FM bi-interaction pooling (NFM, DeepFM): the sum of all pairwise element-wise products
/// of F field embeddings, computed in O(F·k):
///
///     p = ½ [ (Σ_f e_f)∘(Σ_f e_f) − Σ_f e_f∘e_f ] = Σ_{f<g} e_f∘e_g        (k × B)
///
/// With s = Σ_f e_f and upstream G = ∂L/∂p:
/// backward ∂e_f = G∘(s − e_f); R-forward R{p} = s∘R{s} − Σ_f e_f∘R{e_f};
/// R-backward R{∂e_f} = R{G}∘(s − e_f) + G∘(R{s} − R{e_f}).
/// E stacks the fields: rows [f·k, (f+1)·k) of a column are e_f.

#include <metarec/nn/common.hpp>

namespace metarec::nn {

/// FM bi-interaction over F stacked k-dimensional field embeddings (stateless; k given).
/// @code
/// metarec::nn::BiInteraction bi{32};
/// bi.forward<float>(E, s, P);  // E: F·32 × B, s and P: 32 × B
/// @endcode
struct BiInteraction {
  Eigen::Index k = 0;  ///< embedding width

  [[nodiscard]] Eigen::Index fields(const Eigen::Index rows) const noexcept { return rows / k; }

  /// s = Σ_f e_f and P = ½(s∘s − Σ_f e_f∘e_f), both OVERWRITTEN (k × B).
  template <class S>
  void forward(const ConstMatRef<S>& E, MatRef<S> s, MatRef<S> P) const {
    const Eigen::Index F = fields(E.rows());
    s.setZero();
    P.setZero();
    for (Eigen::Index f = 0; f < F; ++f) {
      s += E.middleRows(f * k, k);
      P.array() -= E.middleRows(f * k, k).array().square();
    }
    P.array() += s.array().square();
    P *= S(0.5);
  }

  /// dE (F·k × B) is OVERWRITTEN with ∂L/∂E given G = ∂L/∂P and s.
  template <class S>
  void backward(const ConstMatRef<S>& E, const ConstMatRef<S>& s, const ConstMatRef<S>& G,
                MatRef<S> dE) const {
    for (Eigen::Index f = 0; f < fields(E.rows()); ++f)
      dE.middleRows(f * k, k) = (G.array() * (s.array() - E.middleRows(f * k, k).array())).matrix();
  }

  /// Rs = Σ R{e_f} and RP = s∘Rs − Σ e_f∘R{e_f}, both OVERWRITTEN.
  template <class S>
  void r_forward(const ConstMatRef<S>& E, const ConstMatRef<S>& s, const ConstMatRef<S>& RE,
                 MatRef<S> Rs, MatRef<S> RP) const {
    Rs.setZero();
    RP.setZero();
    for (Eigen::Index f = 0; f < fields(E.rows()); ++f) {
      Rs += RE.middleRows(f * k, k);
      RP.array() -= E.middleRows(f * k, k).array() * RE.middleRows(f * k, k).array();
    }
    RP.array() += s.array() * Rs.array();
  }

  /// RdE is OVERWRITTEN with R{∂L/∂E} = R{G}∘(s − e_f) + G∘(R{s} − R{e_f}).
  template <class S>
  void r_backward(const ConstMatRef<S>& E, const ConstMatRef<S>& s, const ConstMatRef<S>& RE,
                  const ConstMatRef<S>& Rs, const ConstMatRef<S>& G, const ConstMatRef<S>& RG,
                  MatRef<S> RdE) const {
    for (Eigen::Index f = 0; f < fields(E.rows()); ++f)
      RdE.middleRows(f * k, k) =
          (RG.array() * (s.array() - E.middleRows(f * k, k).array()) +
           G.array() * (Rs.array() - RE.middleRows(f * k, k).array()))
              .matrix();
  }
};

}  // namespace metarec::nn
