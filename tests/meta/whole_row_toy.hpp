#pragma once
// A toy whole-row model, written against the public contract only (no trainer was changed for
// it): a linear item-item model over `RowBatch`es. For an example with input rows I (the user's
// observed ratings) and a target item j,
//
//     r̂_j = b_j + Σ_{i∈I} W(i, j) · (r_i − c) / |I|        (c: a fixed centre, 3)
//
// θ = [W (n × n, column j = the weights into target j), b (n)]; loss = mean over all target
// entries of (r̂ − r)² + (λ/2)‖W‖². Exact gradient and Hessian-vector product (the loss is
// quadratic), dense only; local segments: the biases b. It proves that `fit` trains and every
// MAML variant meta-trains a model that predicts a task's query FROM its support.

#include <metarec/core/concepts.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/row_batch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::test {

template <class S>
class LinearItemItem {
 public:
  using Scalar = S;
  using Batch = RowBatch;

  LinearItemItem(std::uint32_t items, double reg = 0.01) : n_(items), reg_(reg) {}

  [[nodiscard]] Eigen::Index num_parameters() const noexcept { return n_ * n_ + n_; }
  [[nodiscard]] Segment biases() const noexcept { return {n_ * n_, n_}; }

  void initialize(VectorRef<S> theta, Rng& rng) const {
    check(theta.size(), "initialize");
    for (Eigen::Index k = 0; k < n_ * n_; ++k) theta[k] = static_cast<S>(rng.normal(0.0, 0.1));
    theta.tail(n_).setConstant(S(3));
  }

  [[nodiscard]] S loss(const ConstVectorRef<S>& theta, const Batch& batch) const {
    check(theta.size(), "loss");
    return eval(theta, batch, nullptr, nullptr);
  }
  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> grad) const {
    check(theta.size(), "loss_and_gradient");
    check(grad.size(), "loss_and_gradient (gradient)");
    grad.setZero();
    return eval(theta, batch, &grad, nullptr);
  }
  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& batch,
                              const ConstVectorRef<S>& v, VectorRef<S> out) const {
    check(theta.size(), "hessian_vector_product");
    check(v.size(), "hessian_vector_product (v)");
    check(out.size(), "hessian_vector_product (out)");
    out.setZero();
    (void)eval(theta, batch, nullptr, &v, &out);
  }
  void predict(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> out) const {
    check(theta.size(), "predict");
    if (out.size() != static_cast<Eigen::Index>(batch.num_targets()))
      throw std::invalid_argument("LinearItemItem::predict: out has " + std::to_string(out.size()) +
                                  " entries for " + std::to_string(batch.num_targets()) + " targets");
    Eigen::Index at = 0;
    for (const RowExample& ex : batch.examples)
      for (const RowIndex t : ex.target) out[at++] = score(theta, batch, ex, batch.column(t));
  }
  void local_segments(const Batch&, std::vector<Segment>& out) const { out.push_back(biases()); }
  /// Every item's score for each example (report/item_scores.hpp `HasRowScores`).
  void score_all(const ConstVectorRef<S>& theta, const Batch& batch, Eigen::Ref<Matrix<S>> out) const {
    for (std::size_t e = 0; e < batch.size(); ++e)
      for (Eigen::Index j = 0; j < n_; ++j)
        out(j, static_cast<Eigen::Index>(e)) =
            score(theta, batch, batch.examples[e], static_cast<std::uint32_t>(j));
  }

 private:
  void check(Eigen::Index n, const char* what) const {
    if (n != num_parameters())
      throw std::invalid_argument(std::string("LinearItemItem::") + what + ": vector has " +
                                  std::to_string(n) + " entries, the model has " +
                                  std::to_string(num_parameters()));
  }
  S score(const ConstVectorRef<S>& theta, const Batch& b, const RowExample& ex, std::uint32_t j) const {
    S s = theta[n_ * n_ + j];
    const S inv = ex.input.empty() ? S(0) : S(1) / static_cast<S>(ex.input.size());
    for (const RowIndex r : ex.input)
      s += theta[static_cast<Eigen::Index>(j) * n_ + b.column(r)] * (static_cast<S>(b.data->rating(r)) - S(3)) * inv;
    return s;
  }

  // Loss (and gradient, or H·v when v is given) of the batch.
  S eval(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S>* grad,
         const ConstVectorRef<S>* v, VectorRef<S>* hv = nullptr) const {
    const std::size_t count = batch.num_targets();
    const auto W = theta.head(n_ * n_);
    double total = 0.5 * reg_ * static_cast<double>(W.squaredNorm());
    if (grad) grad->head(n_ * n_) += static_cast<S>(reg_) * W;
    if (hv) hv->head(n_ * n_) += static_cast<S>(reg_) * v->head(n_ * n_);
    if (count == 0) return static_cast<S>(total);
    const S scale = S(2) / static_cast<S>(count);
    double se = 0.0;
    for (const RowExample& ex : batch.examples) {
      const S inv = ex.input.empty() ? S(0) : S(1) / static_cast<S>(ex.input.size());
      for (const RowIndex t : ex.target) {
        const std::uint32_t j = batch.column(t);
        const S e = score(theta, batch, ex, j) - static_cast<S>(batch.data->rating(t));
        se += static_cast<double>(e) * static_cast<double>(e);
        const Eigen::Index bj = n_ * n_ + j;
        if (grad) {
          (*grad)[bj] += scale * e;
          for (const RowIndex r : ex.input)
            (*grad)[static_cast<Eigen::Index>(j) * n_ + batch.column(r)] +=
                scale * e * (static_cast<S>(batch.data->rating(r)) - S(3)) * inv;
        }
        if (hv) {  // H·v = Σ (2/N) x (xᵀv): x = ∂r̂/∂θ
          S xv = (*v)[bj];
          for (const RowIndex r : ex.input)
            xv += (*v)[static_cast<Eigen::Index>(j) * n_ + batch.column(r)] *
                  (static_cast<S>(batch.data->rating(r)) - S(3)) * inv;
          (*hv)[bj] += scale * xv;
          for (const RowIndex r : ex.input)
            (*hv)[static_cast<Eigen::Index>(j) * n_ + batch.column(r)] +=
                scale * xv * (static_cast<S>(batch.data->rating(r)) - S(3)) * inv;
        }
      }
    }
    return static_cast<S>(total + se / static_cast<double>(count));
  }

  Eigen::Index n_;
  double reg_;
};

}  // namespace metarec::test
