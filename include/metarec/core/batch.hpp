#pragma once
/// @file batch.hpp
/// @brief `RatingBatch`: the batch type of models that score (user, item) pairs (MF and MLP
/// families). It is a view: a data set, the rows to use, and a noise seed.

#include <metarec/data/dataset.hpp>

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

}  // namespace metarec
