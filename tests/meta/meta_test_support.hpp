#pragma once
// Test support for the MAML trainer: a small dense model with an exact HVP (2-layer tanh
// regression), capability-hiding wrappers (so every code path of the trainer runs on MF), a planted
// cold-start data set, and a meta-gradient checker by central differences.

#include <metarec/data/batch.hpp>
#include <metarec/core/concepts.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/meta/adapt.hpp>

#include <catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::test {

/// y = w2ᵀ tanh(W1 x_i + b1) + b2 with fixed item features x_i, loss = mean (y − r)² + (λ/2)‖W1‖²
/// per row. Exact gradient and Hessian-vector product (R-operator), dense only. Local segments:
/// the head (w2, b2).
template <class S>
class TanhRegression {
 public:
  using Scalar = S;
  using Batch = RatingBatch;

  TanhRegression(int inputs, int hidden, double reg = 0.01) : d_(inputs), h_(hidden), reg_(reg) {}

  [[nodiscard]] Eigen::Index num_parameters() const noexcept { return h_ * d_ + 2 * h_ + 1; }
  [[nodiscard]] Segment head() const noexcept { return {h_ * d_ + h_, h_ + 1}; }
  [[nodiscard]] Segment hidden_bias() const noexcept { return {h_ * d_, h_}; }
  [[nodiscard]] Segment output_weights() const noexcept { return {h_ * d_ + h_, h_}; }

  void initialize(VectorRef<S> theta, Rng& rng) const {
    check(theta.size());
    for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] = static_cast<S>(rng.normal(0.0, 0.5));
  }

  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    check(theta.size());
    return eval(theta, batch, nullptr);
  }

  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> grad) const {
    check(theta.size());
    check(grad.size());
    grad.setZero();
    return eval(theta, batch, &grad);
  }

  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& batch,
                              const ConstVectorRef<S>& v, VectorRef<S> out) const {
    check(theta.size());
    check(v.size());
    check(out.size());
    out.setZero();
    if (batch.rows.empty()) return;
    const auto W1 = w1(theta);
    const auto VW1 = w1(v);
    const Eigen::Index ob1 = h_ * d_, ow2 = ob1 + h_, ob2 = ow2 + h_;
    const auto b1 = theta.segment(ob1, h_);
    const auto w2 = theta.segment(ow2, h_);
    const auto vb1 = v.segment(ob1, h_);
    const auto vw2 = v.segment(ow2, h_);
    const S vb2 = v[ob2];
    Eigen::Map<Matrix<S>> oW1(out.data(), h_, d_);
    const S inv_n = S(1) / static_cast<S>(batch.size());
    Vector<S> x(d_), z(h_), a(h_), rz(h_), ra(h_), da(h_), dz(h_), rda(h_), rdz(h_);
    for (const RowIndex r : batch.rows) {
      features(batch.data->item(r), batch.data->user(r), x);
      z.noalias() = W1 * x;
      z += b1;
      a = z.array().tanh().matrix();
      const S y = w2.dot(a) + theta[ob2];
      const S e = y - static_cast<S>(batch.data->rating(r));
      const S rr = S(2) * e * inv_n;  // dL/dy
      rz.noalias() = VW1 * x;
      rz += vb1;
      ra = (S(1) - a.array().square()) * rz.array();
      const S ry = vw2.dot(a) + w2.dot(ra) + vb2;
      const S rrr = S(2) * ry * inv_n;  // R(dL/dy)
      // gradient pieces: gw2 = rr a, gb2 = rr, da = rr w2, dz = da ⊙ (1 − a²), gW1 = dz xᵀ, gb1 = dz
      da = rr * w2;
      dz = da.array() * (S(1) - a.array().square());
      out.segment(ow2, h_) += rrr * a + rr * ra;
      out[ob2] += rrr;
      rda = rrr * w2 + rr * vw2;
      rdz = rda.array() * (S(1) - a.array().square()) - da.array() * (S(2) * a.array() * ra.array());
      oW1.noalias() += rdz * x.transpose();
      out.segment(ob1, h_) += rdz;
    }
    oW1 += static_cast<S>(reg_) * VW1;
  }

  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    check(theta.size());
    const auto W1 = w1(theta);
    const Eigen::Index ob1 = h_ * d_, ow2 = ob1 + h_, ob2 = ow2 + h_;
    Vector<S> x(d_), z(h_);
    for (std::size_t k = 0; k < batch.rows.size(); ++k) {
      const RowIndex r = batch.rows[k];
      features(batch.data->item(r), batch.data->user(r), x);
      z.noalias() = W1 * x;
      z += theta.segment(ob1, h_);
      out[static_cast<Eigen::Index>(k)] =
          theta.segment(ow2, h_).dot(z.array().tanh().matrix()) + theta[ob2];
    }
  }

  void local_segments(const Batch&, std::vector<Segment>& out) const { out.push_back(head()); }

 private:
  void check(Eigen::Index n) const {
    if (n != num_parameters())
      throw std::invalid_argument("TanhRegression: vector has " + std::to_string(n) +
                                  " entries, expected " + std::to_string(num_parameters()));
  }
  Eigen::Map<const Matrix<S>> w1(const ConstVectorRef<S>& t) const {
    return Eigen::Map<const Matrix<S>>(t.data(), h_, d_);
  }
  void features(std::uint32_t item, std::uint32_t user, Vector<S>& x) const {
    for (int j = 0; j < d_; ++j)
      x[j] = static_cast<S>(std::sin(0.7 * (item + 1) * (j + 1)) +
                            0.3 * std::cos(1.3 * (user + 1) * (j + 2)));
  }

  S eval(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S>* grad) const {
    const auto W1 = w1(theta);
    const Eigen::Index ob1 = h_ * d_, ow2 = ob1 + h_, ob2 = ow2 + h_;
    const double penalty = 0.5 * reg_ * static_cast<double>(W1.squaredNorm());
    if (grad) Eigen::Map<Matrix<S>>(grad->data(), h_, d_) += static_cast<S>(reg_) * W1;
    if (batch.rows.empty()) return static_cast<S>(penalty);
    const S inv_n = S(1) / static_cast<S>(batch.size());
    double total = 0.0;
    Vector<S> x(d_), z(h_), a(h_), dz(h_);
    for (const RowIndex r : batch.rows) {
      features(batch.data->item(r), batch.data->user(r), x);
      z.noalias() = W1 * x;
      z += theta.segment(ob1, h_);
      a = z.array().tanh().matrix();
      const S e = theta.segment(ow2, h_).dot(a) + theta[ob2] - static_cast<S>(batch.data->rating(r));
      total += static_cast<double>(e) * static_cast<double>(e);
      if (grad) {
        const S rr = S(2) * e * inv_n;
        auto& g = *grad;
        g.segment(ow2, h_) += rr * a;
        g[ob2] += rr;
        dz = (rr * theta.segment(ow2, h_)).array() * (S(1) - a.array().square());
        Eigen::Map<Matrix<S>>(g.data(), h_, d_).noalias() += dz * x.transpose();
        g.segment(ob1, h_) += dz;
      }
    }
    return static_cast<S>(total / static_cast<double>(batch.size()) + penalty);
  }

  int d_, h_;
  double reg_;
};

/// Exposes only some capabilities of a model, so each path of the trainer can be tested on MF:
/// sparse gradient, dense HVP, sparse HVP, local segments.
template <class M, bool SparseGrad, bool Hvp, bool SparseHvp>
class Capabilities {
 public:
  using Scalar = typename M::Scalar;
  using Batch = typename M::Batch;
  using S = Scalar;
  explicit Capabilities(const M& m) : m_(&m) {}

  [[nodiscard]] Eigen::Index num_parameters() const { return m_->num_parameters(); }
  void initialize(VectorRef<S> theta, Rng& rng) const { m_->initialize(theta, rng); }
  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& b) const { return m_->loss(theta, b); }
  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& b, VectorRef<S> g) const {
    return m_->loss_and_gradient(theta, b, g);
  }
  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& b, SparseGradient<S>& g) const
    requires SparseGrad
  {
    return m_->loss_and_gradient(theta, b, g);
  }
  void predict(const ConstVectorRef<S>& theta, const Batch& b, VectorRef<S> out) const {
    m_->predict(theta, b, out);
  }
  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& b,
                              const ConstVectorRef<S>& v, VectorRef<S> out) const
    requires Hvp
  {
    m_->hessian_vector_product(theta, b, v, out);
  }
  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& b,
                              const ConstVectorRef<S>& v, SparseGradient<S>& out) const
    requires SparseHvp
  {
    m_->hessian_vector_product(theta, b, v, out);
  }
  void local_segments(const Batch& b, std::vector<Segment>& out) const { m_->local_segments(b, out); }

 private:
  const M* m_;
};

/// Planted cold-start data: item factors q*_i and user factors p*_u ~ N(μ, σ²) in `dims` dimensions;
/// rating = 3 + b*_i + p*_u·q*_i + noise (continuous). Every user rates `per_user` distinct items.
inline Dataset planted_dataset(std::uint32_t users, std::uint32_t items, std::uint32_t per_user,
                               int dims, std::uint64_t seed, double noise = 0.1) {
  DatasetParts p;
  p.name = "planted";
  p.source = "tests/meta/meta_test_support.hpp";
  std::vector<std::int64_t> uids(users), iids(items);
  std::iota(uids.begin(), uids.end(), 1);
  std::iota(iids.begin(), iids.end(), 1);
  p.users = IdMap::from_ids(uids);
  p.items = IdMap::from_ids(iids);
  Rng rng(seed);
  std::vector<double> q(static_cast<std::size_t>(items) * dims), bi(items), mu(dims);
  for (auto& x : q) x = rng.normal(0.0, 1.0);
  for (auto& x : bi) x = rng.normal(0.0, 0.3);
  for (auto& x : mu) x = rng.normal(0.0, 0.3);
  std::vector<std::uint32_t> order(items);
  std::vector<double> pu(dims);
  for (std::uint32_t u = 0; u < users; ++u) {
    for (int k = 0; k < dims; ++k) pu[k] = mu[k] + rng.normal(0.0, 1.0);
    std::iota(order.begin(), order.end(), 0u);
    rng.shuffle(std::span<std::uint32_t>(order));
    for (std::uint32_t j = 0; j < per_user; ++j) {
      const std::uint32_t i = order[j];
      double r = 3.0 + bi[i] + rng.normal(0.0, noise);
      for (int k = 0; k < dims; ++k) r += pu[k] * q[i * dims + k];
      p.user.push_back(u);
      p.item.push_back(i);
      p.rating.push_back(static_cast<float>(r));
    }
  }
  return Dataset(std::move(p));
}

/// Rows of users [first, last).
inline std::vector<RowIndex> rows_of_users(const Dataset& ds, std::uint32_t first, std::uint32_t last) {
  std::vector<RowIndex> rows;
  for (std::uint32_t u = first; u < last; ++u)
    for (const RowIndex r : ds.by_user()[u]) rows.push_back(r);
  std::sort(rows.begin(), rows.end());
  return rows;
}

/// Result of a meta-gradient check: the worst relative error over the probes.
struct MetaGradCheck {
  double worst = 0.0;   // max |fd − analytic| / (abs + rel·max(|fd|, |analytic|)); <= 1 passes
  double largest = 0.0; // max |analytic| probed (so a check is not vacuous)
};

/// Compares `analytic` with central differences of `f` along `probes` directions: unit
/// coordinates with the largest |analytic|, random coordinates and random directions.
inline MetaGradCheck check_against_differences(const std::function<double(const Vector<double>&)>& f,
                                               const Vector<double>& x, const Vector<double>& analytic,
                                               double h = 1e-5, double rel = 1e-6, double abs = 1e-8) {
  MetaGradCheck out;
  const Eigen::Index n = x.size();
  std::vector<Vector<double>> dirs;
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  const std::size_t top = std::min<std::size_t>(order.size(), 12);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                    [&](auto a, auto b) { return std::abs(analytic[a]) > std::abs(analytic[b]); });
  Rng rng(17);
  for (std::size_t k = 0; k < top; ++k) dirs.push_back(Vector<double>::Unit(n, order[k]));
  for (int k = 0; k < 6; ++k)
    dirs.push_back(Vector<double>::Unit(n, static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n)))));
  for (int k = 0; k < 4; ++k) {
    Vector<double> d(n);
    for (Eigen::Index j = 0; j < n; ++j) d[j] = rng.normal();
    dirs.push_back(d / d.norm());
  }
  for (const auto& d : dirs) {
    const double fd = (f(x + h * d) - f(x - h * d)) / (2 * h);
    const double an = analytic.dot(d);
    const double err = std::abs(fd - an) / (abs + rel * std::max(std::abs(fd), std::abs(an)));
    out.worst = std::max(out.worst, err);
    out.largest = std::max(out.largest, std::abs(an));
  }
  return out;
}

}  // namespace metarec::test
