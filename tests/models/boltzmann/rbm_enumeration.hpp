#pragma once
// Exact quantities of a tiny RBM by enumerating every (visible, hidden) state, written from the
// ENERGY alone (not from the models' code): the joint p(v, h) ∝ exp(−E(v, h)), the free energy,
// the exact gradient of log p(v⁰) and the expectation of the CD-k statistic (the chain v⁰ → h ~
// p(h | v⁰) → v¹ ~ p(v | h) → … → vᵏ, scored with p(h | vᵏ)), by the k-th power of the chain's
// transition matrix.

#include <Eigen/Core>

#include <cmath>
#include <functional>
#include <vector>

namespace metarec::test {

struct EnumeratedRbm {
  int visible_states = 0;  // number of visible configurations (indexed 0..V−1)
  int hidden_units = 0;    // F: hidden configurations are the bit patterns 0..2^F−1
  // E(v, h) and ∂(−E)/∂θ at (v, h), as functions of the configuration indices.
  std::function<double(int v, int h)> energy;
  std::function<Eigen::VectorXd(int v, int h)> neg_energy_gradient;

  [[nodiscard]] int hidden_states() const { return 1 << hidden_units; }

  // p(h | v) over the hidden configurations.
  [[nodiscard]] Eigen::VectorXd hidden_given(int v) const {
    Eigen::VectorXd p(hidden_states());
    for (int h = 0; h < hidden_states(); ++h) p[h] = -energy(v, h);
    p = (p.array() - p.maxCoeff()).exp();
    return p / p.sum();
  }
  // p(v | h) over the visible configurations.
  [[nodiscard]] Eigen::VectorXd visible_given(int h) const {
    Eigen::VectorXd p(visible_states);
    for (int v = 0; v < visible_states; ++v) p[v] = -energy(v, h);
    p = (p.array() - p.maxCoeff()).exp();
    return p / p.sum();
  }
  // F(v) = −log Σ_h exp(−E(v, h)).
  [[nodiscard]] double free_energy(int v) const {
    double z = 0;
    for (int h = 0; h < hidden_states(); ++h) z += std::exp(-energy(v, h));
    return -std::log(z);
  }
  // E_{h | v}[∂(−E)/∂θ]: the statistics of a visible state with its hidden probabilities.
  [[nodiscard]] Eigen::VectorXd statistics(int v) const {
    const Eigen::VectorXd ph = hidden_given(v);
    Eigen::VectorXd s = ph[0] * neg_energy_gradient(v, 0);
    for (int h = 1; h < hidden_states(); ++h) s += ph[h] * neg_energy_gradient(v, h);
    return s;
  }
  // ∇ log p(v⁰) = stats(v⁰) − E_{p(v)}[stats(v)].
  [[nodiscard]] Eigen::VectorXd log_likelihood_gradient(int v0) const {
    Eigen::VectorXd pv(visible_states);
    for (int v = 0; v < visible_states; ++v) pv[v] = -free_energy(v);
    pv = (pv.array() - pv.maxCoeff()).exp();
    pv /= pv.sum();
    Eigen::VectorXd g = statistics(v0);
    for (int v = 0; v < visible_states; ++v) g -= pv[v] * statistics(v);
    return g;
  }
  // The expectation of the CD-k ascent statistic: stats(v⁰) − E[stats(vᵏ)].
  [[nodiscard]] Eigen::VectorXd cd_expectation(int v0, int k) const {
    Eigen::MatrixXd T(visible_states, visible_states);  // T(v, v') = Σ_h p(h | v) p(v' | h)
    std::vector<Eigen::VectorXd> pvh(hidden_states());
    for (int h = 0; h < hidden_states(); ++h) pvh[h] = visible_given(h);
    for (int v = 0; v < visible_states; ++v) {
      const Eigen::VectorXd ph = hidden_given(v);
      Eigen::VectorXd row = Eigen::VectorXd::Zero(visible_states);
      for (int h = 0; h < hidden_states(); ++h) row += ph[h] * pvh[h];
      T.row(v) = row.transpose();
    }
    Eigen::RowVectorXd dist = Eigen::RowVectorXd::Zero(visible_states);
    dist[v0] = 1.0;
    for (int s = 0; s < k; ++s) dist = dist * T;
    Eigen::VectorXd g = statistics(v0);
    for (int v = 0; v < visible_states; ++v) g -= dist[v] * statistics(v);
    return g;
  }
};

}  // namespace metarec::test
