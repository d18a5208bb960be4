#pragma once
/// @file fused_sgd.hpp
/// @brief The optional model capabilities `fit` looks for beyond the `Model` concept: fused
/// per-rating plain-SGD steps (one rating's step in place, no gradient buffer), whole-epoch fused
/// loops, and running statistics. A model does not include this header to offer them: `fit`
/// detects the members with `requires` (ensmallen style), and tests check them with the concepts.

#include <metarec/core/concepts.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/data/batch.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/models/detail/sgd_rows.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace metarec {

/// Optional: a fused per-rating plain-SGD step, `S sgd_update(VectorRef<S> theta, const Dataset&
/// data, RowIndex row, S lr) const`.
///
/// requires: theta.size() == num_parameters(); row < data.num_ratings(); `data` is the data set the
/// model was built for. Not checked (it is the innermost loop): the caller (`fit`) validates once.
/// ensures: with ℓ = loss(θ, {row}) (the batch loss of the one-row batch), if ℓ is finite θ is
/// OVERWRITTEN in place with θ − lr·∇ℓ(θ) computed exactly as `loss_and_gradient` followed by
/// `Sgd::step` with lr, no momentum and no weight decay would compute it (same operations, same
/// order, so the same θ bit for bit when the compiler does not contract into FMAs); if ℓ is not
/// finite θ is left unchanged. Returns ℓ either way. `fit` uses it for `Sgd` without momentum or
/// weight decay and batch size 1.
template <class M>
concept HasSgdUpdate =
    Model<M> && requires(const M& m, Vector<detail::scalar_t<M>>& theta, const Dataset& data,
                         RowIndex row, detail::scalar_t<M> lr) {
      {
        m.sgd_update(VectorRef<detail::scalar_t<M>>(theta), data, row, lr)
      } -> std::convertible_to<detail::scalar_t<M>>;
    };

/// Optional, for stochastic models (noise drawn from the batch seed): a fused per-rating plain-SGD
/// step `S sgd_update(VectorRef<S> theta, const Dataset& data, RowIndex row, S lr, std::uint64_t
/// seed) const` for the one-row batch {&data, {row}, seed}.
///
/// requires and ensures: as `HasSgdUpdate`, with ℓ = loss(θ, {&data, {row}, seed}) and the
/// gradient of that batch (the same noise). `fit` passes the seed its generic path would give the
/// batch (`BatchSeeds`, data/batch.hpp). A model has this or `HasSgdUpdate`, not both.
template <class M>
concept HasSeededSgdUpdate =
    Model<M> && requires(const M& m, Vector<detail::scalar_t<M>>& theta, const Dataset& data,
                         RowIndex row, detail::scalar_t<M> lr, std::uint64_t seed) {
      {
        m.sgd_update(VectorRef<detail::scalar_t<M>>(theta), data, row, lr, seed)
      } -> std::convertible_to<detail::scalar_t<M>>;
    };

/// Optional with `HasSgdUpdate`: `void sgd_prefetch(const VectorRef<S>& theta, const Dataset&
/// data, RowIndex row) const noexcept` issues cache prefetches for the parameters `row` will touch;
/// reads only `data` (θ's address, never its values) and has no effect on results. `fit` calls it a
/// few rows ahead of `sgd_update` with the same θ.
template <class M>
concept HasSgdPrefetch =
    HasSgdUpdate<M> && requires(const M& m, const VectorRef<detail::scalar_t<M>>& theta,
                                const Dataset& data, RowIndex row) {
      m.sgd_prefetch(theta, data, row);
    };

namespace detail {
/// The observer type the concepts below are checked with.
struct RowObserverArchetype {
  bool operator()(std::size_t position, double loss) const;
};
}  // namespace detail

/// Optional with `HasSgdUpdate`: `std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset&
/// data, std::span<const RowIndex> rows, S lr, double& loss_sum, Observe&& observe = {}) const`
/// runs one epoch of fused steps over `rows` (the model's own loop, with its dims dispatch
/// hoisted), adds each row's loss to `loss_sum`, and stops at the first row whose loss is not
/// finite (θ not updated by it), returning that row's position (else rows.size()). After each
/// finite step it calls `observe(k, loss)` (k: steps done before this one) and returns k + 1 when
/// that says true. For most models the loop is exactly the `sgd_update` calls in order; a model
/// may define its own epoch (SVD++'s delayed implicit step), so `fit` uses this loop whenever the
/// model has it, with or without callbacks: callbacks observe the same steps, they never change θ.
template <class M>
concept HasSgdUpdateRows =
    HasSgdUpdate<M> &&
    requires(const M& m, Vector<typename M::Scalar>& theta, const Dataset& data,
             std::span<const RowIndex> rows, typename M::Scalar lr, double& sum,
             detail::RowObserverArchetype& observe) {
      {
        m.sgd_update_rows(VectorRef<typename M::Scalar>(theta), data, rows, lr, sum)
      } -> std::convertible_to<std::size_t>;
      {
        m.sgd_update_rows(VectorRef<typename M::Scalar>(theta), data, rows, lr, sum, observe)
      } -> std::convertible_to<std::size_t>;
    };

/// Optional with `HasSeededSgdUpdate`: `std::size_t sgd_update_rows(VectorRef<S> theta, const
/// Dataset& data, std::span<const RowIndex> rows, S lr, double& loss_sum, const BatchSeeds& seeds,
/// Observe&& observe = {}) const`: as `HasSgdUpdateRows`, row b with noise seed `seeds(b)`.
template <class M>
concept HasSeededSgdUpdateRows =
    HasSeededSgdUpdate<M> &&
    requires(const M& m, Vector<typename M::Scalar>& theta, const Dataset& data,
             std::span<const RowIndex> rows, typename M::Scalar lr, double& sum,
             const BatchSeeds& seeds, detail::RowObserverArchetype& observe) {
      {
        m.sgd_update_rows(VectorRef<typename M::Scalar>(theta), data, rows, lr, sum, seeds)
      } -> std::convertible_to<std::size_t>;
      {
        m.sgd_update_rows(VectorRef<typename M::Scalar>(theta), data, rows, lr, sum, seeds, observe)
      } -> std::convertible_to<std::size_t>;
    };

/// Optional: `void update_running_statistics(VectorRef<S> theta, const Batch& batch) const` moves
/// a model's non-trained running statistics (batch normalisation) towards the batch's statistics
/// under θ. `fit`'s mini-batch path calls it with each batch right after that batch's optimiser
/// step, so a model trained with `fit` predicts with statistics of its training data.
template <class M>
concept HasRunningStatistics =
    requires(const M& m, Vector<typename M::Scalar>& theta, const typename M::Batch& batch) {
      m.update_running_statistics(VectorRef<typename M::Scalar>(theta), batch);
    };

}  // namespace metarec
