#pragma once
/// @file sink_entry_points.hpp
/// @brief The four public gradient / Hessian-vector-product members of a model that writes its
/// gradient code once, as a template over the sink (`DenseGradientSink` or `SparseGradient`).
///
/// A model (the CRTP `Derived`, which befriends this base) provides, privately:
/// - `void check_size(const char* what, Eigen::Index n) const`: throws std::invalid_argument
///   naming the model, `what` and both sizes when n != num_parameters();
/// - `S gradient_into(θ, batch, sink) const`: the loss, ∇L accumulated into the sink;
/// - `void hvp_into(θ, batch, v, sink) const`: H·v accumulated into the sink;
/// - optionally `void check_batch(const char* what, const Batch&) const`, run after the size checks
///   (it hides the no-op below).
///
/// Every entry point checks θ, then v (HVPs), then the output (dense vector or sparse gradient),
/// then the batch, and only then touches the output: the dense output is zeroed by its
/// `DenseGradientSink`, the sparse one is left to the caller to clear.

#include <metarec/data/batch.hpp>
#include <metarec/core/parameters.hpp>

namespace metarec::detail {

/// CRTP base giving a sink-templated model `Derived` over scalar `S` its public
/// `loss_and_gradient` and `hessian_vector_product` (dense and sparse), with one set of checks.
template <class Derived, class S, class Batch = RatingBatch>
class SinkModelEntryPoints {
 public:
  /// Loss and dense gradient (overwritten).
  /// @throws std::invalid_argument when θ or grad has the wrong size (or the batch is rejected).
  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& batch, VectorRef<S> grad) const {
    self().check_size("loss_and_gradient", theta.size());
    self().check_size("loss_and_gradient (gradient)", grad.size());
    self().check_batch("loss_and_gradient", batch);
    DenseGradientSink<S> sink(grad);
    return self().gradient_into(theta, batch, sink);
  }

  /// Loss and sparse gradient: ACCUMULATES into the segments the batch touches (a segment is
  /// zeroed on its first write since `clear()`). The caller clears `grad` first.
  /// @throws std::invalid_argument when θ or grad has the wrong size (or the batch is rejected).
  S loss_and_gradient(const ConstVectorRef<S>& theta, const Batch& batch,
                      SparseGradient<S>& grad) const {
    self().check_size("loss_and_gradient", theta.size());
    self().check_size("loss_and_gradient (sparse gradient)", grad.size());
    self().check_batch("loss_and_gradient", batch);
    return self().gradient_into(theta, batch, grad);
  }

  /// out = ∇²L(θ)·v, exact (overwritten).
  /// @throws std::invalid_argument when θ, v or out has the wrong size (or the batch is rejected).
  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& batch,
                              const ConstVectorRef<S>& v, VectorRef<S> out) const {
    self().check_size("hessian_vector_product", theta.size());
    self().check_size("hessian_vector_product (v)", v.size());
    self().check_size("hessian_vector_product (out)", out.size());
    self().check_batch("hessian_vector_product", batch);
    DenseGradientSink<S> sink(out);
    self().hvp_into(theta, batch, v, sink);
  }

  /// Sparse H·v: ACCUMULATES into the segments the batch touches. The caller clears `out` first.
  /// @throws std::invalid_argument when θ, v or out has the wrong size (or the batch is rejected).
  void hessian_vector_product(const ConstVectorRef<S>& theta, const Batch& batch,
                              const ConstVectorRef<S>& v, SparseGradient<S>& out) const {
    self().check_size("hessian_vector_product", theta.size());
    self().check_size("hessian_vector_product (v)", v.size());
    self().check_size("hessian_vector_product (sparse out)", out.size());
    self().check_batch("hessian_vector_product", batch);
    self().hvp_into(theta, batch, v, out);
  }

 protected:
  /// No batch check by default; a `Derived::check_batch(what, batch)` hides this one.
  void check_batch(const char* /*what*/, const Batch& /*batch*/) const noexcept {}

 private:
  [[nodiscard]] const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
};

}  // namespace metarec::detail
