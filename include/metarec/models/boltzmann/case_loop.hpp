#pragma once
/// @file case_loop.hpp
/// @brief The whole-row "case" machinery the Boltzmann family shares (RBMs and CF-NADE): rating
/// levels, the batch checks, conditional cases, the per-case random stream and the parallel case
/// loop.
///
/// A batch's examples are processed independently ("cases"), in parallel with OpenMP, each drawing
/// its noise (Gibbs samples, orderings) from its own stream derive_seed(batch seed, position); what
/// they produce is then reduced in case order on the calling thread. So the same seed gives a
/// bitwise-identical result for any number of threads.

#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/row_batch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec::detail {

/// Runs `body(b)` for b = 0..n−1: across OpenMP threads (dynamic schedule) when OpenMP is on, n > 1
/// and the caller is not already inside a parallel region (a MAML meta-batch runs its tasks in
/// parallel; then each task's cases run on its thread). `body` must not throw and must write only
/// to places of its own case.
template <class Body>
void for_each_case(std::size_t n, Body&& body) {
#if defined(_OPENMP)
  const bool parallel = n > 1 && omp_in_parallel() == 0 && omp_get_max_threads() > 1;
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(dynamic, 4) if (parallel)
  for (std::ptrdiff_t b = 0; b < count; ++b) body(static_cast<std::size_t>(b));
#else
  for (std::size_t b = 0; b < n; ++b) body(b);
#endif
}

/// A share of a reduction: the columns j with j % count == index (or, `touch`, every column, to
/// record the segments a sparse gradient will receive before the stripes write them in parallel).
struct Stripe {
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  bool touch = false;
  [[nodiscard]] bool owns(std::uint32_t column) const noexcept { return touch || column % count == index; }
  /// Whether this stripe writes the blocks every case shares (the hidden biases, ...).
  [[nodiscard]] bool owns_shared() const noexcept { return !touch && index == 0; }
};

/// Runs `body(Stripe)` once per thread of a parallel region (count = the team size; one stripe
/// without OpenMP or inside a parallel region). A model's reduction adds a column's share only in
/// the stripe that owns it, case after case: every column's terms are then added by one thread in
/// case order, so the result does not depend on the number of stripes. Call it after a sequential
/// pass with `Stripe{.touch = true}`, so that a `SparseGradient` records (and zeroes) every
/// segment before the threads look them up (a lookup of a recorded segment writes nothing).
template <class Body>
void for_each_stripe(Body&& body) {
#if defined(_OPENMP)
  if (omp_in_parallel() == 0 && omp_get_max_threads() > 1) {
#pragma omp parallel
    body(Stripe{static_cast<std::uint32_t>(omp_get_thread_num()), static_cast<std::uint32_t>(omp_get_num_threads())});
    return;
  }
#endif
  body(Stripe{});
}

/// The random stream of case b of a batch: independent of the thread that runs it.
[[nodiscard]] inline Rng case_rng(std::uint64_t batch_seed, std::size_t b) noexcept {
  return Rng(derive_seed(batch_seed, static_cast<std::uint64_t>(b)));
}

/// Whether an example is a conditional case: its input and target are different row lists (a MAML
/// query batch, fold-in evaluation), so the target is modelled GIVEN the input.
[[nodiscard]] inline bool is_conditional(const RowExample& ex) noexcept {
  return !(ex.input.data() == ex.target.data() && ex.input.size() == ex.target.size());
}

/// The common batch checks of whole-row models built for one side and one row length.
inline void check_row_batch(const char* model, const char* what, const RowBatch& batch, RowSide side,
                            std::uint32_t columns) {
  auto side_name = [](RowSide s) { return s == RowSide::user ? "user" : "item"; };
  if (batch.examples.empty()) return;
  if (batch.data == nullptr)
    throw std::invalid_argument(std::string(model) + "::" + what + ": the batch has no data set");
  if (batch.side != side)
    throw std::invalid_argument(std::string(model) + "::" + what + ": the batch has " +
                                side_name(batch.side) + " rows, the model was built for " +
                                side_name(side) + " rows");
  if (batch.num_columns() != columns)
    throw std::invalid_argument(std::string(model) + "::" + what + ": a row of the batch has " +
                                std::to_string(batch.num_columns()) + " columns, the model has " +
                                std::to_string(columns) + "; build it for this data set");
}

/// Ratings as K ordered levels: rating r is level round(r) − 1 clamped to 0..K−1 and level k stands
/// for the value k + 1; or, with a like threshold, two levels (like: r >= threshold) standing for
/// 0 and 1.
struct RatingLevels {
  int count = 5;
  float like_threshold = 0.0f;

  [[nodiscard]] int level_of(float rating) const noexcept {
    if (like_threshold > 0.0f) return rating >= like_threshold ? 1 : 0;
    const long k = std::lround(rating) - 1;
    return static_cast<int>(std::clamp<long>(k, 0, count - 1));
  }
  template <class S>
  [[nodiscard]] S value_of(int level) const noexcept {
    return static_cast<S>(like_threshold > 0.0f ? level : level + 1);
  }
};

/// out(k, j) = log((n_jk + 1) / (n_j + K)): the add-one smoothed log frequency of level k among the
/// input entries of column j in the batch (out is K × columns, overwritten).
template <class S>
void column_log_frequencies(const RowBatch& batch, const RatingLevels& levels, Eigen::Map<Matrix<S>> out) {
  out.setZero();
  for (const RowExample& ex : batch.examples)
    for (const RowIndex r : ex.input) out(levels.level_of(batch.data->rating(r)), batch.column(r)) += S(1);
  for (Eigen::Index j = 0; j < out.cols(); ++j) {
    const S n = out.col(j).sum() + static_cast<S>(out.rows());
    for (Eigen::Index k = 0; k < out.rows(); ++k) out(k, j) = std::log((out(k, j) + S(1)) / n);
  }
}

/// `reset_untrained` of the softmax RBMs and CF-NADE: every column that no input or target row of
/// `batch` touches gets 0 in each block of `weights` and, in `bias` (K × columns), the add-one
/// smoothed log frequencies log((N_k + 1) / (N + K)) of the levels among ALL the batch's input
/// entries; with `cumulative`, their successive differences instead (CF-NADE's b_j, whose
/// cumulative sums are the log frequencies). Returns how many parameters changed.
template <class S>
std::size_t reset_untouched_columns(VectorRef<S> theta, const RowBatch& batch, const RatingLevels& levels,
                                    std::initializer_list<Block> weights, const Block& bias, bool cumulative) {
  std::vector<char> untouched(static_cast<std::size_t>(bias.cols), 1);
  Vector<S> pooled = Vector<S>::Zero(bias.rows);
  S n = 0;
  for (const RowExample& ex : batch.examples) {
    for (const RowIndex r : ex.input) {
      untouched[batch.column(r)] = 0;
      pooled[levels.level_of(batch.data->rating(r))] += S(1);
      n += S(1);
    }
    for (const RowIndex r : ex.target) untouched[batch.column(r)] = 0;
  }
  const S total = n + static_cast<S>(pooled.size());
  for (Eigen::Index k = 0; k < pooled.size(); ++k) pooled[k] = std::log((pooled[k] + S(1)) / total);
  if (cumulative)
    for (Eigen::Index k = pooled.size() - 1; k >= 1; --k) pooled[k] -= pooled[k - 1];
  std::size_t changed = 0;
  const auto set = [&](S& x, S v) {
    if (x != v) x = v, ++changed;
  };
  for (Eigen::Index j = 0; j < bias.cols; ++j) {
    if (!untouched[static_cast<std::size_t>(j)]) continue;
    for (const Block& w : weights)
      for (Eigen::Index r = 0; r < w.rows; ++r) set(theta[w.offset + j * w.rows + r], S(0));
    for (Eigen::Index k = 0; k < bias.rows; ++k) set(theta[bias.offset + j * bias.rows + k], pooled[k]);
  }
  return changed;
}

/// Grows `m` to `rows` × at least `cols` (never shrinks the column capacity).
template <class M>
void grow_columns(M& m, Eigen::Index rows, Eigen::Index cols) {
  if (m.rows() != rows || m.cols() < cols) m.resize(rows, std::max<Eigen::Index>(cols, m.cols()));
}

}  // namespace metarec::detail
