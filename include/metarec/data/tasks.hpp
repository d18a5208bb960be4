#pragma once
/// @file tasks.hpp
/// @brief Meta-learning tasks (one user, or one item, with a support and a query set) and a
/// deterministic, allocation-free meta-batch sampler.
///
/// Layout: the sampler stores every eligible task's rows once, in one flat array in canonical
/// order (CSR: `offsets_` into `rows_`). `start_epoch(e)` copies each task's rows into a second,
/// preallocated work array and shuffles them there with the stream `derive_seed(seed, e, key)`,
/// then permutes the task order with `derive_seed(seed, e)`. A meta-batch is a `std::span` of
/// `TaskView`s (spans into the work array), so iterating the meta-batches of an epoch allocates
/// nothing, and epoch `e` is a pure function of (data, options, seed, e) whatever epochs ran before.
/// @code
/// metarec::TaskSampler sampler(ds, split.train, {.support = 5, .query = 10, .meta_batch = 32}, 7);
/// for (std::uint64_t epoch = 0; epoch < 10; ++epoch) {
///   sampler.start_epoch(epoch);
///   for (std::size_t b = 0; b < sampler.num_batches(); ++b)
///     for (const metarec::TaskView& task : sampler.batch(b)) { /* adapt on task.support ... */ }
/// }
/// @endcode

#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/filter.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metarec {

/// An owning task: the rows of one user (or one item, for item tasks) split into support and query.
struct Task {
  std::uint32_t user = 0;          ///< dense user index (dense item index for item tasks)
  std::vector<RowIndex> support;   ///< rows to adapt on (inner loop)
  std::vector<RowIndex> query;     ///< rows to evaluate the adapted model on (outer loss / metric)

  friend bool operator==(const Task&, const Task&) = default;
};

/// Splits `tasks` into meta-training and validation tasks: a seeded `fraction` of them (rounded to
/// the nearest count, halves up) drawn with the stream derive_seed(seed, "VALI") is validation; both
/// keep the input order. The rule bench_cold_start and `metarec meta-train --valid-users` share.
/// @throws std::invalid_argument unless 0 <= fraction < 1
inline void hold_out_tasks(std::span<const Task> tasks, double fraction, std::uint64_t seed, std::vector<Task>& train,
                           std::vector<Task>& validation) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw std::invalid_argument("hold_out_tasks: fraction must be in [0, 1) (got " + std::to_string(fraction) + ")");
  std::vector<std::size_t> order(tasks.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng(derive_seed(seed, 0x56414C49u));  // "VALI"
  rng.shuffle(std::span<std::size_t>(order));
  const auto nv = static_cast<std::size_t>(fraction * static_cast<double>(tasks.size()) + 0.5);
  std::vector<char> is_val(tasks.size(), 0);
  for (std::size_t k = 0; k < nv; ++k) is_val[order[k]] = 1;
  train.clear();
  validation.clear();
  for (std::size_t k = 0; k < tasks.size(); ++k) (is_val[k] ? validation : train).push_back(tasks[k]);
}

/// The rows of `rows` whose user owns none of `tasks`: a global model's training rows once the
/// users of validation tasks (`hold_out_tasks`) are held out, so validation users stay unseen.
/// Keeps the input order.
/// @throws std::invalid_argument when a task's user or a row is out of range of `ds`
[[nodiscard]] inline std::vector<RowIndex> rows_without_task_users(const Dataset& ds, std::span<const RowIndex> rows,
                                                                   std::span<const Task> tasks) {
  std::vector<char> held(ds.num_users(), 0);
  for (const Task& t : tasks) {
    if (t.user >= ds.num_users())
      throw std::invalid_argument("rows_without_task_users: task user " + std::to_string(t.user) + " of " +
                                  std::to_string(ds.num_users()));
    held[t.user] = 1;
  }
  std::vector<RowIndex> out;
  out.reserve(rows.size());
  for (const RowIndex r : rows) {
    if (r >= ds.num_ratings())
      throw std::invalid_argument("rows_without_task_users: row " + std::to_string(r) + " of " +
                                  std::to_string(ds.num_ratings()));
    if (!held[ds.user(r)]) out.push_back(r);
  }
  return out;
}

/// A non-owning view of a task, as handed out by `TaskSampler`. Valid until the next
/// `start_epoch` or the sampler's destruction.
struct TaskView {
  std::uint32_t user = 0;                ///< dense user (or item) index
  std::span<const RowIndex> support;
  std::span<const RowIndex> query;
};

/// What a task is made of.
enum class TaskGroup {
  user,  ///< one task per user: the user's rows (the MeLU / MAML user-cold-start setting)
  item,  ///< one task per item: the item's rows (item cold start)
};

/// How support sets are sized.
enum class SupportMode {
  fixed,           ///< exactly `support` rows (K-shot) and `query` rows; extra rows unused that epoch
  all_but_query,   ///< MeLU: `query` rows for the query set, all other rows for support
};

/// Options of `TaskSampler` and `make_tasks`.
struct TaskOptions {
  TaskGroup group = TaskGroup::user;
  SupportMode mode = SupportMode::fixed;
  std::uint32_t support = 5;      ///< K, for `SupportMode::fixed`
  std::uint32_t query = 10;       ///< Q
  std::uint32_t min_rows = 0;     ///< skip entities with fewer rows (0: no lower bound beyond need)
  std::uint32_t max_rows = 0;     ///< skip entities with more rows (0: no upper bound)
  std::uint32_t meta_batch = 32;  ///< B, tasks per meta-batch (the last batch may be smaller)
};

namespace detail {

inline void check_task_options(const TaskOptions& o, const char* caller) {
  if (o.query == 0 || o.meta_batch == 0 || (o.mode == SupportMode::fixed && o.support == 0) ||
      (o.max_rows != 0 && o.max_rows < o.min_rows))
    throw std::invalid_argument(
        std::string(caller) + ": invalid task options (support " + std::to_string(o.support) +
        ", query " + std::to_string(o.query) + ", min_rows " + std::to_string(o.min_rows) +
        ", max_rows " + std::to_string(o.max_rows) + ", meta_batch " +
        std::to_string(o.meta_batch) +
        "); use query >= 1, meta_batch >= 1, support >= 1 in fixed mode, max_rows >= min_rows");
}

/// Rows an entity needs to form a task.
[[nodiscard]] inline std::size_t task_rows_needed(const TaskOptions& o) {
  const std::size_t need = o.mode == SupportMode::fixed ? std::size_t{o.support} + o.query
                                                        : std::size_t{o.query} + 1;
  return std::max<std::size_t>(need, o.min_rows);
}

inline constexpr std::uint64_t tag_tasks = 0x5441534Bull;  // "TASK"

/// Checks the options and rows, then for each entity (user or item, by `options.group`) with rows
/// among `rows`, in dense order: `take(e, original id, its rows)` with the rows in canonical order
/// (by the other side's dense index: independent of the file's order), or, when it has fewer rows
/// than a task needs or more than `max_rows`, counts it as skipped. Returns the skipped count.
template <class Take>
std::size_t for_each_task_entity(const Dataset& ds, std::span<const RowIndex> rows,
                                 const TaskOptions& options, const char* caller, Take&& take) {
  check_task_options(options, caller);
  check_rows(ds, rows, caller, true);
  const bool by_user = options.group == TaskGroup::user;
  const auto mask = row_mask(ds, rows);
  const CompressedIndex& index = by_user ? ds.by_user() : ds.by_item();
  const IdMap& ids = by_user ? ds.user_ids() : ds.item_ids();
  const std::size_t need = task_rows_needed(options);
  std::vector<RowIndex> mine;
  std::size_t skipped = 0;
  for (std::uint32_t e = 0; e < index.num_keys(); ++e) {
    mine.clear();
    for (const RowIndex r : index[e])
      if (mask[r]) mine.push_back(r);
    if (mine.empty()) continue;
    if (mine.size() < need || (options.max_rows != 0 && mine.size() > options.max_rows)) {
      ++skipped;
      continue;
    }
    std::sort(mine.begin(), mine.end(), [&](RowIndex a, RowIndex b) {
      return by_user ? ds.item(a) < ds.item(b) : ds.user(a) < ds.user(b);
    });
    take(e, static_cast<std::uint64_t>(ids.original(e)), std::span<RowIndex>(mine));
  }
  return skipped;
}

}  // namespace detail

/// Deterministic sampler of meta-batches over a row subset. See the file comment for the layout.
class TaskSampler {
 public:
  /// Builds the task list from `rows` (strictly increasing rows of `ds`). Entities (users or
  /// items) whose row count is below what a task needs (K + Q in fixed mode, Q + 1 otherwise, and
  /// at least `min_rows`) or above `max_rows` are skipped and counted in `num_skipped()`.
  /// The sampler copies the row numbers it needs and keeps no reference to `ds`.
  /// @throws std::invalid_argument on bad options or rows.
  TaskSampler(const Dataset& ds, std::span<const RowIndex> rows, const TaskOptions& options,
              std::uint64_t seed)
      : options_(options), seed_(seed) {
    offsets_.push_back(0);
    skipped_ = detail::for_each_task_entity(
        ds, rows, options, "TaskSampler",
        [&](std::uint32_t e, std::uint64_t key, std::span<const RowIndex> task_rows) {
          rows_.insert(rows_.end(), task_rows.begin(), task_rows.end());
          entity_.push_back(e);
          key_.push_back(key);
          offsets_.push_back(rows_.size());
        });
    work_.resize(rows_.size());
    order_.resize(entity_.size());
    views_.resize(entity_.size());
    start_epoch(0);
  }

  /// Builds a sampler over a fixed list of tasks (e.g. the MeLU tasks of a protocol): supports and
  /// queries stay as given; `start_epoch` only permutes the task order. `meta_batch` is B.
  TaskSampler(std::span<const Task> tasks, std::uint32_t meta_batch, std::uint64_t seed)
      : seed_(seed), fixed_(true) {
    options_.meta_batch = meta_batch;
    options_.mode = SupportMode::all_but_query;
    if (meta_batch == 0)
      throw std::invalid_argument("TaskSampler: meta_batch is 0 (" + std::to_string(tasks.size()) +
                                  " tasks); use meta_batch >= 1");
    offsets_.push_back(0);
    for (const Task& t : tasks) {
      rows_.insert(rows_.end(), t.support.begin(), t.support.end());
      rows_.insert(rows_.end(), t.query.begin(), t.query.end());
      entity_.push_back(t.user);
      key_.push_back(t.user);
      query_size_.push_back(static_cast<std::uint32_t>(t.query.size()));
      offsets_.push_back(rows_.size());
    }
    work_ = rows_;
    order_.resize(entity_.size());
    views_.resize(entity_.size());
    start_epoch(0);
  }

  /// Prepares epoch `epoch`: redraws every task's support/query (unless built from fixed tasks)
  /// and the task order. Allocates nothing.
  void start_epoch(std::uint64_t epoch) noexcept {
    epoch_ = epoch;
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    Rng rng(derive_seed(seed_, detail::tag_tasks, epoch));
    rng.shuffle(std::span<std::size_t>(order_));
    for (std::size_t k = 0; k < order_.size(); ++k) {
      const std::size_t t = order_[k];
      const std::size_t begin = offsets_[t], n = offsets_[t + 1] - begin;
      RowIndex* w = work_.data() + begin;
      std::size_t n_support = 0, n_query = 0;
      if (fixed_) {
        n_query = query_size_[t];
        n_support = n - n_query;
      } else {
        std::copy_n(rows_.data() + begin, n, w);
        n_query = options_.query;
        n_support = options_.mode == SupportMode::fixed ? options_.support : n - n_query;
        // Partial Fisher-Yates: the first n_support + n_query positions become a uniform sample.
        Rng task_rng(derive_seed(seed_, detail::tag_tasks, epoch, key_[t]));
        const std::size_t take = std::min(n, n_support + n_query);
        for (std::size_t i = 0; i < take; ++i) {
          const std::size_t j = i + static_cast<std::size_t>(task_rng.below(n - i));
          std::swap(w[i], w[j]);
        }
      }
      views_[k] = TaskView{entity_[t], {w, n_support}, {w + n_support, n_query}};
    }
  }

  /// Tasks of meta-batch `b` of the current epoch, `b < num_batches()`.
  [[nodiscard]] std::span<const TaskView> batch(std::size_t b) const noexcept {
    const std::size_t begin = b * options_.meta_batch;
    const std::size_t end = std::min(views_.size(), begin + options_.meta_batch);
    return {views_.data() + begin, end - begin};
  }
  /// All tasks of the current epoch, in the epoch's order.
  [[nodiscard]] std::span<const TaskView> tasks() const noexcept { return views_; }
  /// Meta-batches per epoch: ceil(num_tasks / B).
  [[nodiscard]] std::size_t num_batches() const noexcept {
    return (views_.size() + options_.meta_batch - 1) / options_.meta_batch;
  }
  [[nodiscard]] std::size_t num_tasks() const noexcept { return views_.size(); }
  /// Entities with rows in the subset that could not form a task (too few or too many rows).
  [[nodiscard]] std::size_t num_skipped() const noexcept { return skipped_; }
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] const TaskOptions& options() const noexcept { return options_; }

 private:
  TaskOptions options_;
  std::uint64_t seed_ = 0;
  std::uint64_t epoch_ = 0;
  bool fixed_ = false;
  std::size_t skipped_ = 0;
  std::vector<std::size_t> offsets_;       // task t: rows_[offsets_[t] .. offsets_[t+1])
  std::vector<RowIndex> rows_;             // canonical rows of every task
  std::vector<RowIndex> work_;             // per-epoch shuffled copy
  std::vector<std::uint32_t> entity_;      // dense user/item of task t
  std::vector<std::uint64_t> key_;         // stream key of task t (original id)
  std::vector<std::uint32_t> query_size_;  // fixed tasks only
  std::vector<std::size_t> order_;         // permutation of the epoch
  std::vector<TaskView> views_;            // tasks in epoch order
};

/// Draws one owning task per eligible entity of `rows`, in increasing entity order, with the
/// stream `derive_seed(seed, key)` per entity (`key` = original id), so a task does not depend on
/// the other entities or on the row order of the file. Same eligibility rules as `TaskSampler`.
/// `meta_batch` is ignored. Each task's support and query are ascending row lists.
/// @param skipped if not null, receives the number of entities skipped.
[[nodiscard]] inline std::vector<Task> make_tasks(const Dataset& ds,
                                                  std::span<const RowIndex> rows,
                                                  const TaskOptions& options, std::uint64_t seed,
                                                  std::size_t* skipped = nullptr) {
  std::vector<Task> tasks;
  const std::size_t n_skipped = detail::for_each_task_entity(
      ds, rows, options, "make_tasks",
      [&](std::uint32_t e, std::uint64_t key, std::span<RowIndex> mine) {
        Rng rng(derive_seed(seed, detail::tag_tasks, key));
        rng.shuffle(mine);
        const std::size_t q = options.query;
        const std::size_t s = options.mode == SupportMode::fixed ? options.support : mine.size() - q;
        Task t;
        t.user = e;
        t.support.assign(mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(s));
        t.query.assign(mine.begin() + static_cast<std::ptrdiff_t>(s),
                       mine.begin() + static_cast<std::ptrdiff_t>(s + q));
        std::sort(t.support.begin(), t.support.end());
        std::sort(t.query.begin(), t.query.end());
        tasks.push_back(std::move(t));
      });
  if (skipped != nullptr) *skipped = n_skipped;
  return tasks;
}

}  // namespace metarec
