#pragma once
// Helpers of the autoencoder family's tests: the tiny data set's rows split in two, a data set with
// one rating changed, fold-in batches, and θ drawn from a model's initialisation.

#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>

#include "models/tiny_data.hpp"

#include <vector>

namespace metarec::test {

/// Even rows (train) and odd rows (held out) of the tiny data set.
struct HalfRows {
  std::vector<RowIndex> train, held_out;
  explicit HalfRows(const Dataset& ds) {
    for (RowIndex r = 0; r < ds.num_ratings(); ++r) (r % 2 == 0 ? train : held_out).push_back(r);
  }
};

/// `ds` with the rating of `row` replaced by `rating` (same users, items and row order).
inline Dataset with_rating(const Dataset& ds, RowIndex row, float rating) {
  std::vector<std::uint32_t> u, i;
  std::vector<float> r;
  for (RowIndex k = 0; k < ds.num_ratings(); ++k) {
    u.push_back(ds.user(k));
    i.push_back(ds.item(k));
    r.push_back(k == row ? rating : ds.rating(k));
  }
  return with_same_entities(ds, std::move(u), std::move(i), std::move(r));
}

/// θ of a model: its initialisation from `seed`, then perturbed (no entry exactly 0).
template <class M>
Vector<typename M::Scalar> theta_of(const M& m, std::uint64_t seed = 5) {
  Vector<typename M::Scalar> t(m.num_parameters());
  Rng rng(seed);
  m.initialize(t, rng);
  for (Eigen::Index k = 0; k < t.size(); ++k) t[k] += static_cast<typename M::Scalar>(0.05 * rng.normal());
  return t;
}

}  // namespace metarec::test
