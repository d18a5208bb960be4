#pragma once
/// @file dual_rows.hpp
/// @brief Pieces of the per-rating models whose one-rating pass is written once, templated on
/// the arithmetic type (S for the gradient, Dual<S> for the Hessian-vector product): lifting θ's
/// segments to duals, scattering a pass's value or tangent into a sink, and picking a stack or a
/// heap scratch (MixtureMF, VariationalMF).

#include <metarec/core/dual.hpp>
#include <metarec/core/parameters.hpp>

namespace metarec::detail {

/// out[j] = (θ[s.offset + j], v[s.offset + j]) for j < s.size: a segment of θ with direction v.
template <class S>
void lift(const ConstVectorRef<S>& theta, const ConstVectorRef<S>& v, const Segment& s,
          Dual<S>* out) noexcept {
  for (Eigen::Index j = 0; j < s.size; ++j) out[j] = Dual<S>(theta[s.offset + j], v[s.offset + j]);
}

/// seg += scale · (the value, or with `Tangent` the tangent, of g), element-wise: one rating's
/// gradient (values) or H·v (tangents) added to a sink segment.
template <bool Tangent, class S, class Seg, class G>
void add_scaled(Seg&& seg, const G& g, S scale) noexcept {
  const auto* p = g.data();
  for (Eigen::Index j = 0; j < seg.size(); ++j)
    seg[j] += scale * (Tangent ? tangent_of(p[j]) : value_of(p[j]));
}

/// `add_scaled` for a one-entry segment (a bias).
template <bool Tangent, class S, class Seg, class T>
void add_scaled_scalar(Seg&& seg, const T& g, S scale) noexcept {
  seg[0] += scale * (Tangent ? tangent_of(g) : value_of(g));
}

/// f(scratch) with a `Stack` scratch (fixed-capacity, no allocation) when `fits`, else with a
/// `Heap` one; both are built from the model's options.
template <class Stack, class Heap, class Options, class F>
decltype(auto) with_scratch(bool fits, const Options& options, F&& f) {
  if (fits) {
    Stack sc(options);
    return f(sc);
  }
  Heap sc(options);
  return f(sc);
}

}  // namespace metarec::detail
