#pragma once
/// @file explainable_rbm.hpp
/// @brief Explainable RBM (Abdollahi & Nasraoui, ICML WHI 2016): a user-based softmax RBM
/// (rbm_base.hpp) whose hidden units also receive the user's explainability vector e_u (the
/// neighbourhood scores of explainability.hpp) through weights D (F × items):
///
///     p(h = 1 | v, e_u) = σ(c + Σ_j W_j[:, k_j] + Σ_i e_ui D_i)
///
/// e_u is a CONDITIONAL input (a conditional RBM's, as Salakhutdinov et al.'s conditional RBM
/// feeds its "which items were rated" vector): it is not reconstructed, and its weights D follow
/// the CD-k direction −e_u (h⁰ − hᵏ)/B. The paper body could not be checked here: that e_u enters
/// exactly this way is our reading of it (docs/models_bm.md says so). Recommendations rank the
/// unseen items by predicted rating; every recommendation carries its explanation ("n of your k
/// nearest neighbours rated this", `ExplainabilityMatrix::explanation`).
///
/// The explainability matrix is computed once from the training rows and shared by the model (and its
/// copies). A user it does not know (a new user in a MAML task) gets e = 0.

#include <metarec/models/boltzmann/explainability.hpp>
#include <metarec/models/boltzmann/rbm_base.hpp>

#include <memory>
#include <stdexcept>
#include <utility>

namespace metarec {

/// Options of `ExplainableRbm`: the softmax RBM's and the neighbourhood's (used by whoever builds the
/// matrix; the model reads only `rbm`).
struct ExplainableRbmOptions {
  SoftmaxRbmOptions rbm{};
  ExplainabilityOptions explainability{};
};

/// The explainable RBM over user rows (`RowBatch` with `RowSide::user`); a `metarec::Model` whose
/// direction is CD-k. Parameters: W, b, c as `RbmCf`, then D (F × items), drawn N(0, init_std²).
/// @tparam S float or double
/// @code
/// auto E = std::make_shared<const metarec::ExplainabilityMatrix>(
///     metarec::ExplainabilityMatrix::from_neighbours(ds, split.train, {.neighbours = 50}));
/// const metarec::ExplainableRbm<float> rbm(E, {.rbm = {.hidden = 100}});
/// @endcode
template <class S = float>
class ExplainableRbm : public detail::SoftmaxRbm<ExplainableRbm<S>, S> {
 public:
  using Options = ExplainableRbmOptions;
  static constexpr const char* model_name = "ExplainableRbm";

  /// @param explainability the users × items explainability matrix (shared)
  /// @throws std::invalid_argument as `RbmCf`, or when the matrix is null or has no items.
  explicit ExplainableRbm(std::shared_ptr<const ExplainabilityMatrix> explainability, Options options = {})
      : Base(checked(explainability).num_items(), options.rbm, RowSide::user), E_(std::move(explainability)),
        opt_(options) {
    D_ = this->layout_.add("explainability_weights", options.rbm.hidden, E_->num_items());
  }

  [[nodiscard]] const Options& options() const noexcept { return opt_; }
  [[nodiscard]] const ExplainabilityMatrix& explainability() const noexcept { return *E_; }
  /// The block D (F × items) of θ.
  [[nodiscard]] const Block& explainability_weights() const noexcept { return D_; }

 private:
  using Base = detail::SoftmaxRbm<ExplainableRbm<S>, S>;
  friend Base;

  void initialize_extra(VectorRef<S> theta, Rng& rng) const {
    for (Eigen::Index k = 0; k < D_.size(); ++k) theta[D_.offset + k] = static_cast<S>(rng.normal(0.0, opt_.rbm.init_std));
  }
  // a += Σ_i e_ui D_i
  void add_conditional(const ConstVectorRef<S>& theta, const RowBatch& /*batch*/, const RowExample& ex,
                       Eigen::Ref<Vector<S>> a) const noexcept {
    for (const auto& e : E_->row(ex.entity))
      a += static_cast<S>(e.score) * Eigen::Map<const Vector<S>>(theta.data() + D_.offset + static_cast<Eigen::Index>(e.item) * D_.rows, D_.rows);
  }
  // D_i += e_ui · coeff (the stripe's items)
  template <class Sink>
  void conditional_direction(const ConstVectorRef<S>& /*theta*/, const RowBatch& /*batch*/, const RowExample& ex,
                             const Vector<S>& coeff, detail::Stripe stripe, Sink& sink) const {
    for (const auto& e : E_->row(ex.entity)) {
      if (!stripe.owns(e.item)) continue;
      auto gD = sink.segment(D_.column(e.item));
      if (!stripe.touch) gD += static_cast<S>(e.score) * coeff;
    }
  }

  static const ExplainabilityMatrix& checked(const std::shared_ptr<const ExplainabilityMatrix>& e) {
    if (!e) throw std::invalid_argument("ExplainableRbm: the explainability matrix is null");
    return *e;
  }

  std::shared_ptr<const ExplainabilityMatrix> E_;
  Options opt_;
  Block D_;
};

}  // namespace metarec
