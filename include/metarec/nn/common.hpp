#pragma once
/// @file common.hpp
/// @brief Shared vocabulary of the neural building blocks (`metarec::nn`): matrix references,
/// the "no gradient wanted" sink, and a helper that adds a matrix into a sink's block.
///
/// Conventions of every block in `metarec/nn/`:
/// - activations are batched: one COLUMN per example, one row per unit;
/// - parameters live in the flat θ and are read through `Block`s (`Eigen::Map`, no copies);
/// - gradients go to a sink (`DenseGradientSink`, `SparseGradient` or `NoSink`) and are
///   ACCUMULATED (`+=`) into the segments the block owns;
/// - the R-operator pass (Pearlmutter 1994) computes directional derivatives R{x} = ∂x/∂θ · v;
///   the backward pass of the R-forward pass gives H·v exactly.

#include <metarec/core/parameters.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <type_traits>

namespace metarec::nn {

/// Writable reference to a (block of a) column-major matrix; binds to `leftCols(B)` without a copy.
template <class S>
using MatRef = Eigen::Ref<Matrix<S>>;
/// Read-only reference to a (block of a) column-major matrix.
template <class S>
using ConstMatRef = Eigen::Ref<const Matrix<S>>;

/// A gradient sink that discards everything: the backward pass then computes only the
/// intermediate deltas (needed by an HVP), not the parameter gradients.
struct NoSink {};

/// True when `Sink` actually wants gradients.
template <class Sink>
inline constexpr bool wants_gradient = !std::is_same_v<std::remove_cvref_t<Sink>, NoSink>;

/// Writable matrix view of `blk` inside a sink (recording the segment for a `SparseGradient`).
template <class S, class Sink>
[[nodiscard]] Eigen::Map<Matrix<S>> sink_block(Sink& sink, const Block& blk) {
  auto seg = sink.segment(blk.segment());
  return Eigen::Map<Matrix<S>>(seg.data(), blk.rows, blk.cols);
}

/// Read-only column vector view of a `rows × 1` block (biases).
template <class S>
[[nodiscard]] Eigen::Map<const Vector<S>> bias_map(const ConstVectorRef<S>& theta, const Block& blk) {
  return Eigen::Map<const Vector<S>>(theta.data() + blk.offset, blk.size());
}

/// Grows `m` to at least `rows × cols` (exactly `rows` rows); never shrinks the column capacity,
/// so a reused workspace stops allocating after the largest batch has been seen.
template <class S>
void ensure_shape(Matrix<S>& m, Eigen::Index rows, Eigen::Index cols) {
  if (m.rows() != rows || m.cols() < cols) m.resize(rows, std::max<Eigen::Index>(cols, m.cols()));
}

}  // namespace metarec::nn
