#pragma once
/// @file dropout.hpp
/// @brief Inverted dropout with masks drawn from the batch seed, so losses stay deterministic.
///
/// The mask of example (data-set row) r in layer `layer` comes from
/// `Rng(derive_seed(batch.seed, r, layer))`: unit j is kept when its j-th uniform draw is ≥ p and
/// then scaled by 1/(1−p). The mask depends on the row number, not on the position in the batch,
/// so the same rating sees the same mask in any batch with the same seed. Given the mask, dropout
/// is linear: forward y = m∘x, backward ∂x = m∘∂y, R{y} = m∘R{x}. Off at prediction.

#include <metarec/data/batch.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/nn/common.hpp>

#include <cstdint>
#include <span>

namespace metarec::nn {

/// Where dropout noise comes from: the batch seed and rows, and whether dropout is on.
struct DropoutContext {
  std::uint64_t seed = 0;              ///< the batch seed
  std::span<const RowIndex> rows;      ///< the data-set row of each column
  bool training = false;               ///< false: dropout off (prediction)
};

/// Fills `mask` (units × B) with the inverted-dropout mask of layer `layer`: 0 or 1/(1−p).
/// @param p drop probability in [0, 1)
/// @param layer a number unique to this dropout site within the model
/// @code
/// metarec::Matrix<float> mask(64, rows.size());
/// metarec::nn::dropout_mask<float>({batch.seed, batch.rows, true}, 0.2, 1, mask);
/// @endcode
template <class S>
void dropout_mask(const DropoutContext& ctx, double p, std::uint64_t layer, MatRef<S> mask) {
  eigen_assert(mask.cols() == static_cast<Eigen::Index>(ctx.rows.size()));
  const S keep_scale = static_cast<S>(1.0 / (1.0 - p));
  for (Eigen::Index c = 0; c < mask.cols(); ++c) {
    Rng rng(derive_seed(ctx.seed, ctx.rows[static_cast<std::size_t>(c)], layer));
    for (Eigen::Index j = 0; j < mask.rows(); ++j)
      mask(j, c) = rng.uniform() >= p ? keep_scale : S(0);
  }
}

}  // namespace metarec::nn
