#pragma once
/// @file batch.hpp
/// @brief `RatingBatch`: the batch type of models that score (user, item) pairs (MF and MLP
/// families). It is a view: a data set, the rows to use, and a noise seed.

#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace metarec {

/// A batch of rating rows of a `Dataset`. Models read user, item, rating, time and side features
/// of each row through `data`. Stochastic models (dropout, reparameterisation) draw their noise
/// from `seed`, so the same batch always gives the same loss and a gradient check stays meaningful.
struct RatingBatch {
  const Dataset* data = nullptr;
  std::span<const RowIndex> rows;
  std::uint64_t seed = 0;

  [[nodiscard]] std::size_t size() const noexcept { return rows.size(); }
};

/// The noise seeds `fit` (train/trainer.hpp) gives the batches of one epoch: batch b of epoch
/// `epoch` has seed derive_seed(seed, epoch, b). Passed to the fused whole-epoch step of stochastic
/// models (`HasSeededSgdUpdateRows`), which draw the same noise as the generic path.
struct BatchSeeds {
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  [[nodiscard]] std::uint64_t operator()(std::size_t b) const noexcept {
    return derive_seed(seed, epoch, static_cast<std::uint64_t>(b));
  }
};

}  // namespace metarec
