#pragma once
/// @file batch_source.hpp
/// @brief Batch sources: what `fit` (train/trainer.hpp) asks for batches. A source knows its
/// examples, cuts them into batches and reshuffles (or resamples) them per epoch; the trainer does
/// not know whether they are rating rows, whole user rows or rows with sampled negatives.
///
/// | source | batch | an example is |
/// |---|---|---|
/// | `RatingBatches` | `RatingBatch` | one rating row |
/// | `RowBatches` | `RowBatch` | one user's (or item's) whole row (`WholeRows`) |
/// | `NegativeSampledRatings` | `RatingBatch` | a positive row or a sampled negative, redrawn per epoch |
///
/// Batch b of epoch e has the noise seed derive_seed(seed, e, b). `RowBatches` and
/// `NegativeSampledRatings` are pure functions of (inputs, seed, e); `RatingBatches` shuffles the
/// previous epoch's order (as `fit` always has), so its epoch e is a function of the seed and the
/// epochs 0..e started in order — which is how `fit` runs them.

#include <metarec/core/rng.hpp>
#include <metarec/data/batch.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// A source of mini-batches, deterministic from (seed, epoch).
///
/// requires: `start_epoch(e)` prepares epoch e (shuffling, resampling) and is called before the
/// epoch's first `batch`; `num_batches()` and `num_examples()` are the epoch's counts;
/// `batch(b)` for b < num_batches() is valid until the next `start_epoch`; `batch(b).size()` is
/// its number of examples (the weight of its mean loss in the epoch's mean).
template <class Src>
concept BatchSource = requires(Src& s, const Src& cs, std::uint64_t epoch, std::size_t b) {
  typename Src::Batch;
  s.start_epoch(epoch);
  { cs.num_batches() } -> std::convertible_to<std::size_t>;
  { cs.num_examples() } -> std::convertible_to<std::size_t>;
  { cs.batch(b) } -> std::convertible_to<typename Src::Batch>;
  { cs.batch(b).size() } -> std::convertible_to<std::size_t>;
};

namespace detail {

inline void check_batch_size(const char* who, std::size_t batch_size) {
  if (batch_size == 0) throw std::invalid_argument(std::string(who) + ": batch_size must be >= 1 (got 0)");
}
/// What every source here shares: this epoch's order of examples, cut into batches of
/// `batch_size`, batch b with the noise seed derive_seed(seed, epoch, b).
template <class T>
class ShuffledBatches {
 public:
  [[nodiscard]] std::size_t num_batches() const noexcept {
    return (order_.size() + batch_size_ - 1) / batch_size_;
  }
  [[nodiscard]] std::size_t num_examples() const noexcept { return order_.size(); }
  [[nodiscard]] std::size_t batch_size() const noexcept { return batch_size_; }

 protected:
  ShuffledBatches(std::vector<T> order, std::size_t batch_size, std::uint64_t seed, const char* who)
      : order_(std::move(order)), batch_size_(batch_size), seed_(seed) {
    check_batch_size(who, batch_size);
  }
  /// Shuffles the current order with Rng(derive_seed(seed, epoch)) and makes `epoch` current.
  void shuffle(std::uint64_t epoch) {
    epoch_ = epoch;
    Rng rng(derive_seed(seed_, epoch));
    rng.shuffle(std::span<T>(order_));
  }
  /// The examples of batch b of this epoch.
  [[nodiscard]] std::span<const T> slice(std::size_t b) const noexcept {
    const std::size_t start = b * batch_size_;
    return std::span<const T>(order_).subspan(start, std::min(batch_size_, order_.size() - start));
  }
  [[nodiscard]] std::uint64_t batch_seed(std::size_t b) const noexcept {
    return derive_seed(seed_, epoch_, static_cast<std::uint64_t>(b));
  }

  std::vector<T> order_;
  std::size_t batch_size_;
  std::uint64_t seed_;
  std::uint64_t epoch_ = 0;
};

}  // namespace detail

/// Rating rows in mini-batches, reshuffled every epoch: epoch e shuffles the previous epoch's
/// order (the given rows before epoch 0) with `Rng(derive_seed(seed, e))` and cuts it into batches of `batch_size` rows (the last one may
/// be shorter); batch b has the noise seed derive_seed(seed, e, b). This is the source `fit`
/// builds from (data, rows, options), so both calls give the same θ.
class RatingBatches : public detail::ShuffledBatches<RowIndex> {
 public:
  using Batch = RatingBatch;

  /// @throws std::invalid_argument on no rows, a row outside the data set or batch_size 0.
  RatingBatches(const Dataset& data, std::span<const RowIndex> rows, std::size_t batch_size,
                std::uint64_t seed, const char* who = "RatingBatches")
      : ShuffledBatches({rows.begin(), rows.end()}, batch_size, seed, who), data_(&data) {
    if (rows.empty()) throw std::invalid_argument(std::string(who) + ": no training rows");
    detail::check_rows(data, rows, who, false, "training row");
  }

  void start_epoch(std::uint64_t epoch) { shuffle(epoch); }
  [[nodiscard]] RatingBatch batch(std::size_t b) const noexcept {
    return RatingBatch{data_, slice(b), batch_seed(b)};
  }

  // What `fit`'s fused per-rating path reads (train/fused_sgd.hpp).
  [[nodiscard]] const Dataset& data() const noexcept { return *data_; }
  /// The rows in this epoch's order.
  [[nodiscard]] std::span<const RowIndex> order() const noexcept { return order_; }
  /// The noise seeds of this epoch's batches.
  [[nodiscard]] BatchSeeds seeds() const noexcept { return BatchSeeds{seed_, epoch_}; }

 private:
  const Dataset* data_;
};

/// Whole rows in mini-batches: the examples of a `WholeRows` in their canonical order, shuffled for
/// epoch e with `Rng(derive_seed(seed, e))`, `batch_size` examples a batch, batch b with noise seed
/// derive_seed(seed, e, b). The `WholeRows` must outlive the source.
class RowBatches : public detail::ShuffledBatches<RowExample> {
 public:
  using Batch = RowBatch;

  /// @throws std::invalid_argument on no examples or batch_size 0.
  RowBatches(const WholeRows& rows, std::size_t batch_size, std::uint64_t seed)
      : ShuffledBatches({rows.examples().begin(), rows.examples().end()}, batch_size, seed,
                        "RowBatches"),
        rows_(&rows) {
    if (order_.empty()) throw std::invalid_argument("RowBatches: no examples (every entity has no target rows)");
  }

  void start_epoch(std::uint64_t epoch) {
    std::copy(rows_->examples().begin(), rows_->examples().end(), order_.begin());
    shuffle(epoch);
  }
  [[nodiscard]] RowBatch batch(std::size_t b) const noexcept {
    return RowBatch{&rows_->data(), slice(b), batch_seed(b), rows_->side()};
  }

 private:
  const WholeRows* rows_;
};

/// Options of `NegativeSampledRatings`.
struct NegativeSamplingOptions {
  int negatives = 4;              ///< sampled negatives per positive (NCF's default)
  std::size_t batch_size = 1024;  ///< rows (positives and negatives) per batch
  float positive_rating = 5.0f;   ///< the rating a positive row carries (label: rating > 3)
  float negative_rating = 1.0f;   ///< the rating a sampled negative carries
};

/// Implicit-feedback training rows with sampled negatives, as NCF trains: every training row is a
/// positive, and per positive `negatives` items the user has no training row for are drawn
/// uniformly, without repetition per user, anew every epoch (user u in epoch e draws from
/// `Rng(derive_seed(derive_seed(seed, NEG, e), u))`). The epoch's rows form a data set with the same users,
/// items and side features as the original (`with_same_entities`), shuffled and cut into batches as
/// `RatingBatches` does. Batches are valid until the next `start_epoch`.
class NegativeSampledRatings : public detail::ShuffledBatches<RowIndex> {
 public:
  using Batch = RatingBatch;

  /// @throws std::invalid_argument on no rows, a row outside the data set, negatives < 0 or
  ///         batch_size 0.
  NegativeSampledRatings(const Dataset& data, std::span<const RowIndex> positives,
                         NegativeSamplingOptions options, std::uint64_t seed)
      : ShuffledBatches({}, options.batch_size, seed, "NegativeSampledRatings"), data_(&data),
        opt_(options),
        by_user_(CompressedIndex::group(checked(data, positives), data.num_users(),
                                        [&](RowIndex r) { return data.user(r); })) {
    if (positives.empty()) throw std::invalid_argument("NegativeSampledRatings: no positive rows");
    if (options.negatives < 0)
      throw std::invalid_argument("NegativeSampledRatings: negatives must be >= 0 (got " +
                                  std::to_string(options.negatives) + ")");
    num_positives_ = positives.size();
  }

  void start_epoch(std::uint64_t epoch) {
    resample(epoch);
    order_.resize(epoch_data_.num_ratings());
    std::iota(order_.begin(), order_.end(), RowIndex{0});
    shuffle(epoch);
  }
  [[nodiscard]] RatingBatch batch(std::size_t b) const noexcept {
    return RatingBatch{&epoch_data_, slice(b), batch_seed(b)};
  }
  /// This epoch's rows (positives and negatives) as a data set.
  [[nodiscard]] const Dataset& epoch_data() const noexcept { return epoch_data_; }

 private:
  static constexpr std::uint64_t tag_negatives = 0x4E4547ull;  // "NEG"

  static std::span<const RowIndex> checked(const Dataset& data, std::span<const RowIndex> rows) {
    detail::check_rows(data, rows, "NegativeSampledRatings", false, "positive row");
    return rows;
  }

  void resample(std::uint64_t epoch) {
    const Dataset& ds = *data_;
    const std::uint32_t ni = ds.num_items();
    std::vector<std::uint32_t> user, item;
    std::vector<float> rating;
    const std::size_t n = num_positives_ * static_cast<std::size_t>(1 + opt_.negatives);
    user.reserve(n);
    item.reserve(n);
    rating.reserve(n);
    std::vector<std::uint8_t> used(ni, 0);
    const std::uint64_t epoch_seed = derive_seed(seed_, tag_negatives, epoch);
    for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
      const auto rows = by_user_[u];
      if (rows.empty()) continue;
      Rng rng(derive_seed(epoch_seed, u));
      for (const RowIndex r : rows) used[ds.item(r)] = 1;
      const std::size_t first = user.size();
      std::size_t free = ni - rows.size();  // a data set has no repeated (user, item) pair
      for (const RowIndex r : rows) {
        user.push_back(u);
        item.push_back(ds.item(r));
        rating.push_back(opt_.positive_rating);
        for (int k = 0; k < opt_.negatives && free > 0; ++k) {
          std::uint32_t j;
          do j = static_cast<std::uint32_t>(rng.below(ni));
          while (used[j] != 0);
          used[j] = 2;
          --free;
          user.push_back(u);
          item.push_back(j);
          rating.push_back(opt_.negative_rating);
        }
      }
      for (std::size_t k = first; k < item.size(); ++k) used[item[k]] = 0;
    }
    epoch_data_ = with_same_entities(ds, std::move(user), std::move(item), std::move(rating));
  }

  const Dataset* data_;
  NegativeSamplingOptions opt_;
  CompressedIndex by_user_;
  std::size_t num_positives_ = 0;
  Dataset epoch_data_;
};

}  // namespace metarec
