#pragma once
/// @file meta_batch.hpp
/// @brief How a meta-learner turns a task (support rows + query rows) into the model's support and
/// query batches: the customisation point `MetaBatchTraits<Batch>`, which receives the WHOLE task,
/// so a model can read the support set when it predicts the query.
///
/// - `RatingBatch` (MF and MLP families): the support batch holds the support rows and the query
///   batch the query rows; a rating model scores each row on its own.
/// - `RowBatch` (whole-row families): the support batch is one example whose input and target are
///   the support rows (the inner loop fits the support ratings from themselves); the query batch is
///   one example whose INPUT is the support rows and whose target is the query rows, so an
///   autoencoder or RBM predicts the query from the support, as it would for a new user.
///
/// Specialise `MetaBatchTraits<YourBatch>` for another batch type: `make(data, task, support_seed,
/// query_seed)` returns an object with members `support` and `query` of type `YourBatch`; it may
/// hold storage the batches point into (return it by value: C++17 guarantees no copy).

#include <metarec/data/batch.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>

#include <concepts>
#include <cstdint>
#include <span>

namespace metarec {

/// A task: `support` and `query` row lists (`Task`, `TaskView`, or your own type).
template <class T>
concept MetaTask = requires(const T& t) {
  std::span<const RowIndex>(t.support);
  std::span<const RowIndex>(t.query);
};

namespace detail {
/// The entity (user, or item for item tasks) a task is about, or 0 when the task does not say.
template <class T>
[[nodiscard]] std::uint32_t task_entity(const T& task) noexcept {
  if constexpr (requires { task.user; })
    return static_cast<std::uint32_t>(task.user);
  else
    return 0;
}
}  // namespace detail

/// A task's two batches (the primary template's result).
template <class B>
struct TaskBatches {
  B support;
  B query;
};

/// Customisation point: the model batches of a task. The primary template aggregate-initialises
/// `B{&data, rows, seed}` for the support and the query rows (`RatingBatch`).
template <class B>
struct MetaBatchTraits {
  template <class Data, MetaTask T>
  static TaskBatches<B> make(const Data& data, const T& task, std::uint64_t support_seed,
                             std::uint64_t query_seed) {
    return TaskBatches<B>{B{&data, std::span<const RowIndex>(task.support), support_seed},
                          B{&data, std::span<const RowIndex>(task.query), query_seed}};
  }
};

/// A task's whole-row batches: they point into this object's two examples, so it is neither copied
/// nor moved (`make` returns it by guaranteed elision).
class RowTaskBatches {
 public:
  RowTaskBatches(const Dataset& data, RowSide side, std::uint32_t entity,
                 std::span<const RowIndex> support_rows, std::span<const RowIndex> query_rows,
                 std::uint64_t support_seed, std::uint64_t query_seed) noexcept
      : s_{entity, support_rows, support_rows}, q_{entity, support_rows, query_rows},
        support{&data, std::span<const RowExample>(&s_, 1), support_seed, side},
        query{&data, std::span<const RowExample>(&q_, 1), query_seed, side} {}
  RowTaskBatches(const RowTaskBatches&) = delete;
  RowTaskBatches& operator=(const RowTaskBatches&) = delete;

 private:
  RowExample s_, q_;

 public:
  RowBatch support;  ///< one example: input = target = the support rows
  RowBatch query;    ///< one example: input = the support rows, target = the query rows
};

/// Whole-row batches of a task (see the file comment). A task type with a `side` member (a
/// `RowSide`) sets the side; otherwise tasks are users (`RowSide::user`).
template <>
struct MetaBatchTraits<RowBatch> {
  template <MetaTask T>
  static RowTaskBatches make(const Dataset& data, const T& task, std::uint64_t support_seed,
                             std::uint64_t query_seed) {
    RowSide side = RowSide::user;
    if constexpr (requires { RowSide(task.side); }) side = task.side;
    return RowTaskBatches(data, side, detail::task_entity(task), std::span<const RowIndex>(task.support),
                          std::span<const RowIndex>(task.query), support_seed, query_seed);
  }
};

}  // namespace metarec
