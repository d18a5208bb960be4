#pragma once
/// @file concepts.hpp
/// @brief The `Model` concept and its optional capabilities. See docs/model_concept.md.
///
/// A model is a const, thread-safe function of (θ, batch). The trainer owns θ, one flat
/// `Vector<Scalar>`. Required members (S = M::Scalar, B = M::Batch):
///
/// | member | semantics |
/// |---|---|
/// | `Eigen::Index num_parameters() const` | size of θ |
/// | `void initialize(VectorRef<S> theta, Rng& rng) const` | overwrites all of θ |
/// | `S loss(const ConstVectorRef<S>& theta, const B& batch) const` | mean loss (+ penalties) |
/// | `S loss_and_gradient(const ConstVectorRef<S>& theta, const B& batch, VectorRef<S> grad) const` | returns loss; grad overwritten |
/// | `void predict(const ConstVectorRef<S>& theta, const B& batch, VectorRef<S> out) const` | out overwritten, one value per prediction |
///
/// Optional capabilities, detected with `requires`:
/// - `hessian_vector_product(theta, batch, v, VectorRef<S> out)`: out = ∇²loss(θ)·v, overwritten, exact.
/// - sparse gradients: `loss_and_gradient(theta, batch, SparseGradient<S>&)` writes only the
///   segments the batch touches (the caller clears the sink first); with it
///   `hessian_vector_product(theta, batch, v, SparseGradient<S>&)` likewise.
/// - `local_segments(batch, std::vector<Segment>& out)`: appends the task-local segments (adapted
///   in a MAML inner loop); everything else is global.
/// - `static constexpr bool exact_gradient = false`: the "gradient" is an update direction that is
///   not the derivative of `loss` (an RBM trained by contrastive divergence).
/// The capabilities `fit` looks for beyond these (fused per-rating SGD steps, running statistics)
/// are defined where `fit` uses them: train/fused_sgd.hpp.

#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>

#include <concepts>
#include <type_traits>
#include <utility>
#include <vector>

namespace metarec {

namespace detail {
template <class M>
using scalar_t = typename M::Scalar;
template <class M>
using batch_t = typename M::Batch;
}  // namespace detail

/// M names its scalar (float or double) and its batch type.
template <class M>
concept ModelTypes = requires {
  typename M::Scalar;
  typename M::Batch;
} && std::floating_point<typename M::Scalar>;

/// M reports the size of θ.
template <class M>
concept HasParameterCount = requires(const M& m) {
  { m.num_parameters() } -> std::convertible_to<Eigen::Index>;
};

/// M initialises θ from an Rng.
template <class M>
concept HasInitialize = ModelTypes<M> && requires(const M& m, Rng& rng,
                                                  Vector<detail::scalar_t<M>>& theta) {
  m.initialize(VectorRef<detail::scalar_t<M>>(theta), rng);
};

/// M evaluates its loss on a batch.
template <class M>
concept HasLoss = ModelTypes<M> && requires(const M& m, const Vector<detail::scalar_t<M>>& theta,
                                            const detail::batch_t<M>& batch) {
  { m.loss(theta, batch) } -> std::convertible_to<detail::scalar_t<M>>;
};

/// M evaluates its loss and overwrites a dense gradient.
template <class M>
concept HasLossAndGradient =
    ModelTypes<M> && requires(const M& m, const Vector<detail::scalar_t<M>>& theta,
                              const detail::batch_t<M>& batch, Vector<detail::scalar_t<M>>& grad) {
      {
        m.loss_and_gradient(theta, batch, VectorRef<detail::scalar_t<M>>(grad))
      } -> std::convertible_to<detail::scalar_t<M>>;
    };

/// M predicts on a batch.
template <class M>
concept HasPredict = ModelTypes<M> && requires(const M& m, const Vector<detail::scalar_t<M>>& theta,
                                               const detail::batch_t<M>& batch,
                                               Vector<detail::scalar_t<M>>& out) {
  m.predict(theta, batch, VectorRef<detail::scalar_t<M>>(out));
};

/// The model contract: see docs/model_concept.md.
template <class M>
concept Model = ModelTypes<M> && HasParameterCount<M> && HasInitialize<M> && HasLoss<M> &&
                HasLossAndGradient<M> && HasPredict<M>;

/// Optional: an exact Hessian-vector product (dense output, overwritten).
template <class M>
concept HasHessianVectorProduct =
    Model<M> && requires(const M& m, const Vector<detail::scalar_t<M>>& theta,
                         const detail::batch_t<M>& batch, const Vector<detail::scalar_t<M>>& v,
                         Vector<detail::scalar_t<M>>& out) {
      m.hessian_vector_product(theta, batch, v, VectorRef<detail::scalar_t<M>>(out));
    };

/// Optional: gradients written only to the segments a batch touches.
template <class M>
concept HasSparseGradient =
    Model<M> && requires(const M& m, const Vector<detail::scalar_t<M>>& theta,
                         const detail::batch_t<M>& batch,
                         SparseGradient<detail::scalar_t<M>>& grad) {
      { m.loss_and_gradient(theta, batch, grad) } -> std::convertible_to<detail::scalar_t<M>>;
    };

/// Optional: sparse Hessian-vector products (only touched segments written).
template <class M>
concept HasSparseHessianVectorProduct =
    HasSparseGradient<M> && HasHessianVectorProduct<M> &&
    requires(const M& m, const Vector<detail::scalar_t<M>>& theta, const detail::batch_t<M>& batch,
             const Vector<detail::scalar_t<M>>& v, SparseGradient<detail::scalar_t<M>>& out) {
      m.hessian_vector_product(theta, batch, v, out);
    };

/// Optional: the model names its task-local segments for a batch (MAML local/global split).
template <class M>
concept HasLocalSegments = Model<M> && requires(const M& m, const detail::batch_t<M>& batch,
                                                std::vector<Segment>& out) {
  m.local_segments(batch, out);
};

/// Whether `loss_and_gradient` is the true derivative of `loss` (false for CD-trained models).
template <class M>
inline constexpr bool has_exact_gradient = [] {
  if constexpr (requires { M::exact_gradient; })
    return static_cast<bool>(M::exact_gradient);
  else
    return true;
}();

/// Compile-time check with one readable message per missing member. Use in templates that take a
/// model: `static_assert(check_model<M>())`.
template <class M>
consteval bool check_model() {
  static_assert(ModelTypes<M>,
                "metarec: a Model needs `using Scalar = float|double;` and `using Batch = ...;` "
                "(see docs/model_concept.md)");
  static_assert(HasParameterCount<M>,
                "metarec: a Model needs `Eigen::Index num_parameters() const` "
                "(see docs/model_concept.md)");
  static_assert(HasInitialize<M>,
                "metarec: a Model needs `void initialize(VectorRef<Scalar> theta, Rng& rng) const` "
                "(see docs/model_concept.md)");
  static_assert(HasLoss<M>,
                "metarec: a Model needs `Scalar loss(const ConstVectorRef<Scalar>& theta, "
                "const Batch& batch) const` (see docs/model_concept.md)");
  static_assert(HasLossAndGradient<M>,
                "metarec: a Model needs `Scalar loss_and_gradient(const ConstVectorRef<Scalar>& "
                "theta, const Batch& batch, VectorRef<Scalar> grad) const` "
                "(see docs/model_concept.md)");
  static_assert(HasPredict<M>,
                "metarec: a Model needs `void predict(const ConstVectorRef<Scalar>& theta, "
                "const Batch& batch, VectorRef<Scalar> out) const` (see docs/model_concept.md)");
  return Model<M>;
}

}  // namespace metarec
