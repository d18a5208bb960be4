#pragma once
/// @file algorithms.hpp
/// @brief The MAML family as policies: each algorithm says what it needs (exact Hessian-vector
/// products, a learned step α, an exact gradient) and computes its own meta-direction for one task
/// from the primitives of the inner-loop workspace (meta/adapt.hpp). `Maml<M, Algorithm>` never
/// switches on the algorithm: a new one is a new policy type.
///
/// A policy `A` provides (deriving from `detail::MetaAlgorithmTraits`, where every flag is off)
/// - `static constexpr const char* name`;
/// - `needs_hvp` (the model must have `hessian_vector_product`), `needs_exact_gradient` (the
///   model's gradient must be the derivative of its loss: not CD-k), `learns_alpha` (Meta-SGD's
///   per-parameter step is learned), `keeps_gradients` (the inner loop records its support
///   gradients for dL/dα), `interpolates` (Reptile's ε step is allowed);
/// - `template <bool Sparse, class W> static S meta_direction(W& ws, const Batch& support, const
///   Batch& query, const InnerSpec<S>& spec, BackwardDebug debug, SparseSlot<S>* meta,
///   SparseSlot<S>* alpha_meta)`: called with θ_w = θ_k (the inner loop done), it writes the task's
///   meta-direction into `meta` (and dL/dα into `alpha_meta` when it learns α), leaves θ_w = θ₀
///   bitwise, and returns the query loss at θ_k.

#include <metarec/core/parameters.hpp>
#include <metarec/meta/adapt.hpp>

#include <cmath>
#include <limits>
#include <utility>

namespace metarec {

namespace detail {
/// What every algorithm policy declares, all off: a policy states only where it differs.
struct MetaAlgorithmTraits {
  static constexpr bool needs_hvp = false;
  static constexpr bool needs_exact_gradient = false;
  static constexpr bool learns_alpha = false;
  static constexpr bool keeps_gradients = false;
  static constexpr bool interpolates = false;
};
}  // namespace detail

/// Exact second-order MAML (Finn et al. 2017): the meta-gradient of L_q(θ_k(θ₀)) by the backward
/// recursion g ← g − α H_s(θ_j) P g with the model's exact Hessian-vector products.
struct SecondOrderMaml : detail::MetaAlgorithmTraits {
  static constexpr const char* name = "second-order MAML";
  static constexpr bool needs_hvp = true;
  static constexpr bool needs_exact_gradient = true;

  template <bool Sparse, class W, class B, class S>
  static S meta_direction(W& ws, const B& support, const B& query, const detail::InnerSpec<S>& spec,
                          detail::BackwardDebug debug, detail::SparseSlot<S>* meta,
                          detail::SparseSlot<S>* alpha_meta) {
    const bool want_alpha = alpha_meta != nullptr && spec.alpha != nullptr;
    const S q = ws.template query_gradient<Sparse>(query);
    ws.template backward<Sparse>(support, spec, debug, want_alpha);
    if (meta) meta->assign(ws.meta_gradient());
    if (want_alpha) alpha_meta->assign(ws.alpha_gradient());
    return q;
  }
};

/// Meta-SGD (Li et al. 2017): second-order MAML with a learned per-parameter inner step α, updated
/// by a copy of the outer optimiser with dL/dα = −Σ_j (P∇L_s(θ_j)) ⊙ g_{j+1} (the backward pass of
/// `SecondOrderMaml`, which also returns dL/dα when the trainer asks for it).
struct MetaSgd : SecondOrderMaml {
  static constexpr const char* name = "Meta-SGD";
  static constexpr bool learns_alpha = true;
  static constexpr bool keeps_gradients = true;
};

/// First-order MAML: the meta-gradient is ∇L_q(θ_k) (no Hessian).
struct FirstOrderMaml : detail::MetaAlgorithmTraits {
  static constexpr const char* name = "first-order MAML";

  template <bool Sparse, class W, class B, class S>
  static S meta_direction(W& ws, const B& /*support*/, const B& query,
                          const detail::InnerSpec<S>& /*spec*/, detail::BackwardDebug /*debug*/,
                          detail::SparseSlot<S>* meta, detail::SparseSlot<S>* /*alpha_meta*/) {
    const S q = ws.template query_gradient<true>(query);
    ws.undo_all();
    if (meta) meta->assign(ws.meta_gradient());
    return q;
  }
};

/// Reptile (Nichol et al. 2018): the update direction is the mean of θ₀ − θ_k over the
/// meta-batch, applied by the outer optimiser or, with `reptile_epsilon > 0`, by
/// θ ← θ − ε · mean(θ₀ − θ_k).
struct Reptile : detail::MetaAlgorithmTraits {
  static constexpr const char* name = "Reptile";
  static constexpr bool interpolates = true;

  template <bool Sparse, class W, class B, class S>
  static S meta_direction(W& ws, const B& /*support*/, const B& query,
                          const detail::InnerSpec<S>& /*spec*/, detail::BackwardDebug /*debug*/,
                          detail::SparseSlot<S>* meta, detail::SparseSlot<S>* /*alpha_meta*/) {
    const S q = ws.query_loss(query);
    const SparseGradient<S>& d = ws.undo_to_difference();
    if (meta) meta->assign(d);
    return q;
  }
};

namespace detail {

/// Not a meta-learner: the inner loop and the query loss only (validation, inference).
struct AdaptOnly : MetaAlgorithmTraits {
  static constexpr const char* name = "adaptation";

  template <bool Sparse, class W, class B, class S>
  static S meta_direction(W& ws, const B& /*support*/, const B& query,
                          const InnerSpec<S>& /*spec*/, BackwardDebug /*debug*/,
                          SparseSlot<S>* /*meta*/, SparseSlot<S>* /*alpha_meta*/) {
    const S q = ws.query_loss(query);
    ws.undo_all();
    return q;
  }
};

/// Runs one task in a workspace: the inner loop on `support`, then `A`'s meta-direction. θ_w is
/// restored to θ₀ (bitwise) on return. Returns {support loss at θ₀, query loss at θ_k} (query NaN
/// when the inner loop met a non-finite loss).
template <class A, bool Sparse, class W, class B, class S>
std::pair<S, S> run_task(W& ws, const B& support, const B& query, const InnerSpec<S>& spec,
                         BackwardDebug debug, SparseSlot<S>* meta, SparseSlot<S>* alpha_meta) {
  const bool keep = A::keeps_gradients && spec.alpha != nullptr && alpha_meta != nullptr;
  const S support_loss = ws.forward(support, spec, keep);
  if (!std::isfinite(support_loss) || ws.logged_steps() != spec.steps) {
    ws.undo_all();
    return {support_loss, std::numeric_limits<S>::quiet_NaN()};
  }
  const S query_loss =
      A::template meta_direction<Sparse>(ws, support, query, spec, debug, meta, alpha_meta);
  return {support_loss, query_loss};
}

}  // namespace detail

}  // namespace metarec
