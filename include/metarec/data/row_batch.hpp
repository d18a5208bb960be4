#pragma once
/// @file row_batch.hpp
/// @brief Whole-row batches: the batch type of models whose example is a user's (or an item's)
/// whole rating vector — autoencoders, RBMs, NADEs, item-item models.
///
/// A `RowExample` is one entity (a user, or an item for item-based models) with two lists of
/// rating rows of the data set: the INPUT rows the model reads (the observed entries of the
/// vector) and the TARGET rows its loss scores and `predict` predicts. For reconstruction training
/// both are the entity's training rows; for evaluation the input is the training rows and the
/// target the held-out rows; for a MAML task the support set is both input and target of the
/// support batch and the input of the query batch, whose target is the query set (so the query is
/// predicted FROM the support).
///
/// `WholeRows` groups a split's rows by entity once (CSR, `CompressedIndex::group`), so a batch is
/// a span of examples that point into it: no rating is copied per step.
/// @code
/// const metarec::WholeRows train(ds, split.train, metarec::RowSide::user);        // reconstruction
/// const metarec::WholeRows test(ds, split.train, split.test, metarec::RowSide::user);  // fold-in
/// metarec::RowBatch batch = test.batch();
/// metarec::Vector<float> pred(static_cast<Eigen::Index>(batch.num_targets()));
/// model.predict(theta, batch, pred);  // one prediction per target row, example by example
/// @endcode

#include <metarec/data/dataset.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// Which side of the rating matrix a whole-row example is.
enum class RowSide : std::uint8_t {
  user,  ///< an example is a user; its vector runs over items (U-AutoRec, Mult-VAE, EASE)
  item,  ///< an example is an item; its vector runs over users (I-AutoRec, I-RBM, I-CF-NADE)
};

/// One whole-row example: an entity with the rows it reads and the rows it is scored on.
struct RowExample {
  std::uint32_t entity = 0;           ///< dense user index (RowSide::user) or item index
  std::span<const RowIndex> input;    ///< rows the model reads: the observed entries
  std::span<const RowIndex> target;   ///< rows the loss scores and `predict` predicts, in order
};

/// A batch of whole rows. `predict` writes one value per target row, example after example
/// (`num_targets()` in all). Stochastic models (dropout, corruption, reparameterisation, Gibbs
/// sampling) draw their noise from `seed`, so the same batch always gives the same loss.
struct RowBatch {
  const Dataset* data = nullptr;
  std::span<const RowExample> examples;
  std::uint64_t seed = 0;
  RowSide side = RowSide::user;

  /// Number of examples.
  [[nodiscard]] std::size_t size() const noexcept { return examples.size(); }
  /// Number of target rows over all examples (the length of `predict`'s output).
  [[nodiscard]] std::size_t num_targets() const noexcept {
    std::size_t n = 0;
    for (const RowExample& e : examples) n += e.target.size();
    return n;
  }
  /// Number of input rows over all examples.
  [[nodiscard]] std::size_t num_inputs() const noexcept {
    std::size_t n = 0;
    for (const RowExample& e : examples) n += e.input.size();
    return n;
  }
  /// Position of a row in the example's vector: the row's item for user rows, its user for item
  /// rows.
  [[nodiscard]] std::uint32_t column(RowIndex r) const noexcept {
    return side == RowSide::user ? data->item(r) : data->user(r);
  }
  /// Length of an example's vector: items for user rows, users for item rows.
  [[nodiscard]] std::uint32_t num_columns() const noexcept {
    return side == RowSide::user ? data->num_items() : data->num_users();
  }
  /// Number of entities of this side (users for user rows, items for item rows).
  [[nodiscard]] std::uint32_t num_entities() const noexcept {
    return side == RowSide::user ? data->num_users() : data->num_items();
  }
};

/// Length of the vector of a `side` example of `data` (items for users, users for items).
[[nodiscard]] inline std::uint32_t row_length(const Dataset& data, RowSide side) noexcept {
  return side == RowSide::user ? data.num_items() : data.num_users();
}
/// Number of entities of a side (users, or items).
[[nodiscard]] inline std::uint32_t entity_count(const Dataset& data, RowSide side) noexcept {
  return side == RowSide::user ? data.num_users() : data.num_items();
}
/// The entity a row belongs to on a side (its user, or its item).
[[nodiscard]] inline std::uint32_t entity_of(const Dataset& data, RowSide side, RowIndex r) noexcept {
  return side == RowSide::user ? data.user(r) : data.item(r);
}

/// The rows of a split grouped by entity once: one `RowExample` per entity that has at least one
/// target row, in increasing entity order, each list in the order of the given rows. The object
/// owns the CSR lists; the examples (and batches made from them) point into them and stay valid
/// while it lives, also after it is moved (a moved vector keeps its buffer). Not copyable.
class WholeRows {
 public:
  WholeRows() = default;
  WholeRows(const WholeRows&) = delete;
  WholeRows& operator=(const WholeRows&) = delete;
  WholeRows(WholeRows&&) noexcept = default;
  WholeRows& operator=(WholeRows&&) noexcept = default;

  /// Reconstruction: every entity with rows in `rows` is one example whose input and target are
  /// those rows.
  /// @throws std::invalid_argument when a row is outside the data set.
  WholeRows(const Dataset& data, std::span<const RowIndex> rows, RowSide side)
      : data_(&data), side_(side) {
    check(data, rows, "row");
    input_ = group(data, rows, side);
    build(true);
  }

  /// Fold-in: one example per entity with at least one `target` row, reading its `input` rows
  /// (possibly none: a cold entity) and scored on its target rows.
  /// @throws std::invalid_argument when a row is outside the data set.
  WholeRows(const Dataset& data, std::span<const RowIndex> input, std::span<const RowIndex> target,
            RowSide side)
      : data_(&data), side_(side) {
    check(data, input, "input row");
    check(data, target, "target row");
    input_ = group(data, input, side);
    target_ = group(data, target, side);
    build(false);
  }

  /// Every example, in increasing entity order.
  [[nodiscard]] std::span<const RowExample> examples() const noexcept { return examples_; }
  /// All examples as one batch.
  [[nodiscard]] RowBatch batch(std::uint64_t seed = 0) const noexcept {
    return RowBatch{data_, examples_, seed, side_};
  }
  [[nodiscard]] const Dataset& data() const noexcept { return *data_; }
  [[nodiscard]] RowSide side() const noexcept { return side_; }
  [[nodiscard]] std::size_t size() const noexcept { return examples_.size(); }
  /// The input rows of an entity (empty when it has none), whether or not it is an example.
  [[nodiscard]] std::span<const RowIndex> input_of(std::uint32_t entity) const noexcept {
    return entity < input_.num_keys() ? input_[entity] : std::span<const RowIndex>{};
  }

 private:
  static CompressedIndex group(const Dataset& data, std::span<const RowIndex> rows, RowSide side) {
    return CompressedIndex::group(rows, entity_count(data, side),
                                  [&](RowIndex r) { return entity_of(data, side, r); });
  }
  static void check(const Dataset& data, std::span<const RowIndex> rows, const char* which) {
    detail::check_rows(data, rows, "WholeRows", false, which);
  }
  void build(bool reconstruct) {
    const CompressedIndex& targets = reconstruct ? input_ : target_;
    for (std::uint32_t e = 0; e < targets.num_keys(); ++e) {
      if (targets.count(e) == 0) continue;
      examples_.push_back(RowExample{e, input_[e], targets[e]});
    }
  }

  const Dataset* data_ = nullptr;
  RowSide side_ = RowSide::user;
  CompressedIndex input_, target_;
  std::vector<RowExample> examples_;
};

}  // namespace metarec
