#pragma once
/// @file trainer.hpp
/// @brief `fit`: mini-batch training of a `Model` with an `Optimizer`, validation, early stopping
/// and callbacks (ensmallen-style: every hook optional, a `true` return stops).
///
/// Per epoch e (0-based): the training rows are shuffled with `Rng(derive_seed(seed, e))`, cut into
/// mini-batches of `batch_size` rows (the last one may be shorter), and each batch b is given the
/// noise seed `derive_seed(seed, e, b)`. When the model has sparse gradients (`HasSparseGradient`)
/// and the optimiser a sparse step (`SparseOptimizer`), each step costs O(batch × dims) through a
/// `SparseGradient`; otherwise a dense gradient of θ's size is used. Single-threaded and
/// deterministic: the same seed gives a bitwise-identical θ. (No Hogwild-style parallel SGD: its
/// result depends on thread timing.)
///
/// **Fused per-rating SGD.** When the model has `sgd_update` (`HasSgdUpdate`), the optimiser is
/// `Sgd` with momentum 0 and weight decay 0, `batch_size == 1` and `fused` is set, each step is one
/// call of `model.sgd_update(θ, data, row, lr)` (no gradient buffer, no `Sgd::step`), with
/// `sgd_prefetch` issued a few rows ahead when the model has it. When no callback has
/// `on_batch_end` and the model has `sgd_update_rows` (`HasSgdUpdateRows`), the whole epoch is one
/// call of it instead (the model's loop, with its dims dispatch hoisted). The model computes the same
/// arithmetic as the generic path, so θ is the same (bit for bit unless the compiler contracts
/// into FMAs). The optimiser is only read (its lr): its step count is not advanced. Stochastic
/// models take the batch's noise seed instead (`HasSeededSgdUpdate`, `HasSeededSgdUpdateRows`):
/// row b of epoch e gets derive_seed(seed, e, b), the seed of its one-row batch on the generic path.
///
/// **Learning-rate decay.** With `lr_decay != 1`, epoch e (0-based) runs with the optimiser's lr set
/// to lr₀·lr_decay^e, lr₀ being its lr when `fit` is called (set through `set_lr` before the epoch,
/// so the fused paths see it too); the optimiser's lr is set back to lr₀ when `fit` returns or
/// throws. With the default 1 the lr is never touched.
///
/// After each epoch the validation callable (if any) is evaluated on θ; with `patience > 0`,
/// training stops after `patience` epochs without an improvement larger than `min_delta`, and with
/// `restore_best` θ is set back to the best epoch's values.
///
/// Callback hooks (all optional; each may return `void` or `bool`, `true` = stop after this point):
///
/// | hook | when |
/// |---|---|
/// | `on_train_begin(const TrainBegin&)` | once, before epoch 0 |
/// | `on_epoch_begin(const EpochInfo&)` | before each epoch (only `epoch` is set) |
/// | `on_batch_end(const BatchInfo&)` | after each optimiser step |
/// | `on_epoch_end(const EpochInfo&)` | after validation, with loss, metric, seconds |
/// | `on_train_end(const TrainResult&)` | once, after θ is restored (return value ignored) |

#include <metarec/core/batch.hpp>
#include <metarec/core/concepts.hpp>
#include <metarec/core/error.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/detail/hooks.hpp>
#include <metarec/detail/prefetch_row.hpp>
#include <metarec/optim/optimizer.hpp>
#include <metarec/optim/sgd.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace metarec {

/// Options of `fit`.
struct TrainOptions {
  int epochs = 10;                ///< maximum number of epochs
  std::size_t batch_size = 256;   ///< rows per mini-batch (1 = per-rating SGD)
  std::uint64_t seed = 0;         ///< shuffling and batch noise seeds derive from it
  int patience = 0;               ///< early stopping after this many epochs without improvement (0: off)
  double min_delta = 0.0;         ///< an improvement must exceed this
  bool restore_best = true;       ///< with a validation callable: end with the best epoch's θ
  bool higher_is_better = false;  ///< false for errors (RMSE), true for AUC and the like
  bool sparse = true;             ///< use sparse gradients when model and optimiser support them
  bool fused = true;              ///< use the model's fused `sgd_update` when it applies (see above)
  double lr_decay = 1.0;          ///< epoch e runs at lr₀·lr_decay^e (lr₀: the optimiser's lr on entry); 1 = off
};

/// What `on_train_begin` receives.
struct TrainBegin {
  int epochs = 0;                 ///< maximum epochs
  std::size_t batches_per_epoch = 0;
  std::size_t rows = 0;           ///< training rows
  Eigen::Index parameters = 0;    ///< size of θ
  bool sparse = false;            ///< whether the sparse path is used
  bool fused = false;             ///< whether the fused per-rating SGD path is used
};

/// What `on_batch_end` receives.
struct BatchInfo {
  int epoch = 0;
  std::size_t batch = 0;          ///< 0-based, within the epoch
  std::size_t batches = 0;        ///< batches in this epoch
  double loss = 0.0;              ///< mean loss of the batch, before the step
};

/// What `on_epoch_begin` / `on_epoch_end` receive.
struct EpochInfo {
  int epoch = 0;                  ///< 0-based
  double train_loss = std::numeric_limits<double>::quiet_NaN();  ///< row-weighted mean batch loss
  double valid_metric = std::numeric_limits<double>::quiet_NaN();  ///< NaN without validation
  double seconds = 0.0;           ///< wall time of the epoch (training + validation)
  double best_metric = std::numeric_limits<double>::quiet_NaN();  ///< best so far
  int best_epoch = -1;            ///< epoch of the best metric (-1: none)
  int epochs = 0;                 ///< maximum epochs (for progress)
};

/// What `fit` returns.
struct TrainResult {
  int epochs_run = 0;             ///< epochs completed
  int best_epoch = -1;            ///< best validation epoch (-1: no validation)
  double best_metric = std::numeric_limits<double>::quiet_NaN();
  double final_train_loss = std::numeric_limits<double>::quiet_NaN();
  bool stopped_early = false;     ///< patience ran out
  bool stopped_by_callback = false;
  bool restored_best = false;     ///< θ was set back to the best epoch
  double seconds = 0.0;           ///< total wall time
  std::vector<EpochInfo> history; ///< one entry per epoch
};

/// Pass as the validation argument of `fit` to train without validation.
struct NoValidation {};

/// Optional with `HasSgdUpdate`: `std::size_t sgd_update_rows(VectorRef<S> theta, const Dataset&
/// data, std::span<const RowIndex> rows, S lr, double& loss_sum) const noexcept` applies
/// `sgd_update` to `rows` in order, adds each row's loss to `loss_sum`, and stops at the first row
/// whose loss is not finite (θ not updated by it), returning that row's position (else
/// rows.size()). Same θ and losses as the per-row calls; `fit` uses it for a whole epoch when no
/// callback has `on_batch_end`.
template <class M>
concept HasSgdUpdateRows =
    HasSgdUpdate<M> && requires(const M& m, Vector<typename M::Scalar>& theta, const Dataset& data,
                                std::span<const RowIndex> rows, typename M::Scalar lr, double& sum) {
      {
        m.sgd_update_rows(VectorRef<typename M::Scalar>(theta), data, rows, lr, sum)
      } -> std::convertible_to<std::size_t>;
    };

/// Optional with `HasSeededSgdUpdate`: `std::size_t sgd_update_rows(VectorRef<S> theta, const
/// Dataset& data, std::span<const RowIndex> rows, S lr, double& loss_sum, const BatchSeeds& seeds)
/// const`: as `HasSgdUpdateRows`, row b with noise seed `seeds(b)`.
template <class M>
concept HasSeededSgdUpdateRows =
    HasSeededSgdUpdate<M> &&
    requires(const M& m, Vector<typename M::Scalar>& theta, const Dataset& data,
             std::span<const RowIndex> rows, typename M::Scalar lr, double& sum, const BatchSeeds& seeds) {
      {
        m.sgd_update_rows(VectorRef<typename M::Scalar>(theta), data, rows, lr, sum, seeds)
      } -> std::convertible_to<std::size_t>;
    };

/// Optional: `void update_running_statistics(VectorRef<S> theta, const RatingBatch& batch) const`
/// moves a model's non-trained running statistics (batch normalisation) towards the batch's
/// statistics under θ. `fit`'s mini-batch path calls it with each batch right after that batch's
/// optimiser step, so a model trained with `fit` predicts with statistics of its training data.
template <class M>
concept HasRunningStatistics =
    requires(const M& m, Vector<typename M::Scalar>& theta, const RatingBatch& batch) {
      m.update_running_statistics(VectorRef<typename M::Scalar>(theta), batch);
    };

namespace detail {

/// Whether a callback has an `on_batch_end` hook (then `fit` calls it after every step).
template <class C>
concept HasBatchEndHook = requires(C& c, const BatchInfo& b) { c.on_batch_end(b); };


inline std::string fmt_number(double x) {
  return std::isnan(x) ? std::string("nan") : std::isinf(x) ? std::string(x > 0 ? "inf" : "-inf") : std::to_string(x);
}

[[noreturn]] inline void throw_diverged(double loss, int epoch, std::size_t b, std::size_t batches,
                                        double lr) {
  throw numerical_error("fit: training loss is " + fmt_number(loss) + " at epoch " +
                        std::to_string(epoch) + ", batch " + std::to_string(b) + " of " +
                        std::to_string(batches) + " (learning rate " + fmt_number(lr) +
                        "); the training diverged: lower the learning rate or raise the "
                        "regularisation");
}


/// Rows ahead for the parameter prefetch and (twice that) for the data-column prefetch: the
/// parameter prefetch reads the row's user and item, which the data prefetch brought in.
inline constexpr std::size_t fused_prefetch_distance = 4;

}  // namespace detail

/// Trains `model` from the current θ on `train_rows` of `data` (see the file comment).
///
/// @param model      a `Model` whose batch is `RatingBatch`
/// @param theta      θ, already initialised; overwritten with the trained (or best) parameters
/// @param optimizer  an optimiser over `M::Scalar`; it is `reset(theta.size())` first
/// @param validate   `NoValidation{}` or a callable `double(const ConstVectorRef<S>&)` (e.g. `RmseOn`)
/// @param callbacks  any number of objects with optional hooks (see the table above)
/// @throws std::invalid_argument on a wrong θ size, zero batch size, negative epochs or no rows
/// @throws numerical_error when a batch loss or the validation metric is NaN or infinite, naming the
///         epoch and the batch
/// @code
/// metarec::Adam<float> opt{{.lr = 1e-2}};
/// auto result = metarec::fit(mf, theta, opt, ds, split.train,
///                            {.epochs = 30, .batch_size = 512, .seed = 1, .patience = 3},
///                            metarec::RmseOn{mf, ds, split.valid}, metarec::ProgressBar{});
/// @endcode
template <Model M, class O, class Validate, class... Callbacks>
  requires std::same_as<typename M::Batch, RatingBatch> && DenseOptimizer<O, typename M::Scalar>
TrainResult fit(const M& model, Vector<typename M::Scalar>& theta, O& optimizer, const Dataset& data,
                std::span<const RowIndex> train_rows, const TrainOptions& options,
                Validate&& validate, Callbacks&&... callbacks) {
  using S = typename M::Scalar;
  using clock = std::chrono::steady_clock;
  constexpr bool has_validation = !std::is_same_v<std::remove_cvref_t<Validate>, NoValidation>;
  if constexpr (has_validation)
    static_assert(std::is_invocable_r_v<double, Validate&, const ConstVectorRef<S>&>,
                  "metarec::fit: the validation argument must be NoValidation{} or a callable "
                  "double(const ConstVectorRef<Scalar>& theta) (see docs/training.md)");
  constexpr bool sparse_capable = HasSparseGradient<M> && SparseOptimizer<O, S>;

  const Eigen::Index n = model.num_parameters();
  if (theta.size() != n)
    throw std::invalid_argument("fit: theta has " + std::to_string(theta.size()) +
                                " entries, the model has " + std::to_string(n) +
                                " parameters; size it with num_parameters() and initialize()");
  if (options.batch_size == 0)
    throw std::invalid_argument("fit: batch_size must be >= 1 (got 0)");
  if (options.epochs < 0)
    throw std::invalid_argument("fit: epochs must be >= 0 (got " + std::to_string(options.epochs) + ")");
  if (train_rows.empty()) throw std::invalid_argument("fit: no training rows");
  if (!(options.lr_decay > 0.0) || !std::isfinite(options.lr_decay))
    throw std::invalid_argument("fit: lr_decay must be positive and finite (got " +
                                detail::fmt_number(options.lr_decay) + "); 1 turns the decay off");
  for (const RowIndex r : train_rows)
    if (r >= data.num_ratings())
      throw std::invalid_argument("fit: training row " + std::to_string(r) + " is outside the data set (" +
                                  std::to_string(data.num_ratings()) + " ratings)");

  constexpr bool fused_capable = (HasSgdUpdate<M> || HasSeededSgdUpdate<M>) &&
                                 std::same_as<std::remove_cvref_t<O>, Sgd<S>>;
  bool use_fused = false;
  if constexpr (fused_capable)
    use_fused = options.fused && options.batch_size == 1 && optimizer.options().momentum == 0.0 &&
                optimizer.options().weight_decay == 0.0;
  const bool use_sparse = sparse_capable && options.sparse && !use_fused;
  const std::size_t rows = train_rows.size();
  const std::size_t batches = (rows + options.batch_size - 1) / options.batch_size;
  const auto t_start = clock::now();

  optimizer.reset(n);
  const double lr0 = optimizer.lr();
  const bool decay = options.lr_decay != 1.0;
  struct RestoreLr {  // sets the optimiser's lr back to lr0 on every exit once decay changed it
    O& opt;
    double lr;
    bool active;
    ~RestoreLr() {
      if (active) opt.set_lr(lr);
    }
  } restore_lr{optimizer, lr0, decay};
  std::vector<RowIndex> order(train_rows.begin(), train_rows.end());
  SparseGradient<S> sparse_grad;
  Vector<S> dense_grad;
  if (use_fused) {
    // no gradient buffer
  } else if (use_sparse) {
    sparse_grad.resize(n);
    sparse_grad.reserve(4 * options.batch_size + 16);
  } else {
    dense_grad.resize(n);
  }

  TrainResult result;
  const double worst = options.higher_is_better ? -std::numeric_limits<double>::infinity()
                                                : std::numeric_limits<double>::infinity();
  double best = worst;
  int since_best = 0;
  Vector<S> best_theta;

  [[maybe_unused]] const TrainBegin begin{options.epochs, batches, rows, n, use_sparse, use_fused};
  bool stop = detail::call_all(
      [&](auto& c) -> decltype(c.on_train_begin(begin)) { return c.on_train_begin(begin); },
      callbacks...);

  for (int epoch = 0; epoch < options.epochs && !stop; ++epoch) {
    const auto t_epoch = clock::now();
    EpochInfo info;
    info.epoch = epoch;
    info.epochs = options.epochs;
    info.best_metric = result.best_metric;
    info.best_epoch = result.best_epoch;
    if (detail::call_all(
        [&](auto& c) -> decltype(c.on_epoch_begin(info)) { return c.on_epoch_begin(info); },
        callbacks...)) {
      result.stopped_by_callback = true;
      break;
    }
    if (decay) optimizer.set_lr(lr0 * std::pow(options.lr_decay, epoch));
    // After step b of this epoch: the callbacks' on_batch_end; true when one asks to stop.
    [[maybe_unused]] auto batch_end = [&](std::size_t b, double loss) {
      if constexpr (sizeof...(Callbacks) > 0) {
        const BatchInfo bi{epoch, b, batches, loss};
        if (detail::call_all(
                [&](auto& c) -> decltype(c.on_batch_end(bi)) { return c.on_batch_end(bi); },
                callbacks...)) {
          stop = true;
          result.stopped_by_callback = true;
          return true;
        }
      }
      return false;
    };
    Rng rng(derive_seed(options.seed, static_cast<std::uint64_t>(epoch)));
    rng.shuffle(std::span<RowIndex>(order));

    double loss_sum = 0.0;
    if constexpr (fused_capable) {
      if (use_fused) {
        const S lr = static_cast<S>(optimizer.lr());  // as Sgd::step converts it
        const VectorRef<S> tref(theta);
        [[maybe_unused]] const BatchSeeds seeds{options.seed, static_cast<std::uint64_t>(epoch)};
        // row `row` at position b of the epoch (its one-row batch's seed for stochastic models)
        auto update_one = [&](RowIndex row, std::size_t b) {
          if constexpr (HasSgdUpdate<M>)
            return model.sgd_update(tref, data, row, lr);
          else
            return model.sgd_update(tref, data, row, lr, seeds(b));
        };
        constexpr bool per_row_hooks =
            (detail::HasBatchEndHook<std::remove_cvref_t<Callbacks>> || ... || false);
        constexpr bool whole_epoch = HasSgdUpdate<M> ? HasSgdUpdateRows<M> : HasSeededSgdUpdateRows<M>;
        if constexpr (whole_epoch && !per_row_hooks) {
          const std::span<const RowIndex> all(order);
          std::size_t done;
          if constexpr (HasSgdUpdate<M>)
            done = model.sgd_update_rows(tref, data, all, lr, loss_sum);
          else
            done = model.sgd_update_rows(tref, data, all, lr, loss_sum, seeds);
          if (done < rows) {
            // the failing row's loss, as the model reports it (θ is not updated by it)
            const double loss = static_cast<double>(update_one(order[done], done));
            detail::throw_diverged(loss, epoch, done, batches, optimizer.lr());
          }
        } else {
          const RowIndex* const ord = order.data();
          constexpr std::size_t d = detail::fused_prefetch_distance;
          for (std::size_t b = 0; b < rows && b < 2 * d; ++b) detail::prefetch_rating_row(data, ord[b]);
          for (std::size_t b = 0; b < rows; ++b) {
            if constexpr (HasSgdPrefetch<M>) {
              if (b + 2 * d < rows) detail::prefetch_rating_row(data, ord[b + 2 * d]);
              if (b + d < rows) model.sgd_prefetch(tref, data, ord[b + d]);
            }
            const double loss = static_cast<double>(update_one(ord[b], b));
            if (!std::isfinite(loss)) detail::throw_diverged(loss, epoch, b, batches, optimizer.lr());
            loss_sum += loss;
            if (batch_end(b, loss)) break;
          }
        }
      }
    }
    for (std::size_t b = 0; b < batches && !use_fused; ++b) {
      const std::size_t start = b * options.batch_size;
      const std::size_t len = std::min(options.batch_size, rows - start);
      const RatingBatch batch{&data, std::span<const RowIndex>(order).subspan(start, len),
                              derive_seed(options.seed, static_cast<std::uint64_t>(epoch), b)};
      double loss;
      if constexpr (sparse_capable) {
        if (use_sparse) {
          sparse_grad.clear();
          loss = static_cast<double>(model.loss_and_gradient(theta, batch, sparse_grad));
          if (std::isfinite(loss)) optimizer.step(theta, sparse_grad);
        } else {
          loss = static_cast<double>(model.loss_and_gradient(theta, batch, VectorRef<S>(dense_grad)));
          if (std::isfinite(loss)) optimizer.step(theta, dense_grad);
        }
      } else {
        loss = static_cast<double>(model.loss_and_gradient(theta, batch, VectorRef<S>(dense_grad)));
        if (std::isfinite(loss)) optimizer.step(theta, dense_grad);
      }
      if (!std::isfinite(loss)) detail::throw_diverged(loss, epoch, b, batches, optimizer.lr());
      if constexpr (HasRunningStatistics<M>) model.update_running_statistics(VectorRef<S>(theta), batch);
      loss_sum += loss * static_cast<double>(len);
      if (batch_end(b, loss)) break;
    }
    info.train_loss = loss_sum / static_cast<double>(rows);
    if (!stop && !theta.allFinite())
      throw numerical_error("fit: parameters became NaN or infinite during epoch " +
                            std::to_string(epoch) + " (after batch " + std::to_string(batches - 1) +
                            "); lower the learning rate");
    result.epochs_run = epoch + 1;
    result.final_train_loss = info.train_loss;

    if constexpr (has_validation) {
      const double metric = static_cast<double>(validate(ConstVectorRef<S>(theta)));
      if (std::isnan(metric))
        throw numerical_error("fit: validation metric is nan after epoch " + std::to_string(epoch) +
                              " (last batch " + std::to_string(batches - 1) +
                              "); the model predicts NaN: lower the learning rate");
      info.valid_metric = metric;
      const bool improved = options.higher_is_better ? metric > best + options.min_delta
                                                     : metric < best - options.min_delta;
      if (improved || result.best_epoch < 0) {
        best = metric;
        result.best_metric = metric;
        result.best_epoch = epoch;
        since_best = 0;
        if (options.restore_best) best_theta = theta;
      } else {
        ++since_best;
      }
      if (options.patience > 0 && since_best >= options.patience) {
        result.stopped_early = true;
        stop = true;
      }
    }
    info.best_metric = result.best_metric;
    info.best_epoch = result.best_epoch;
    info.seconds = std::chrono::duration<double>(clock::now() - t_epoch).count();
    result.history.push_back(info);
    if (detail::call_all(
        [&](auto& c) -> decltype(c.on_epoch_end(info)) { return c.on_epoch_end(info); },
        callbacks...)) {
      result.stopped_by_callback = true;
      stop = true;
    }
  }

  if constexpr (has_validation) {
    if (options.restore_best && result.best_epoch >= 0 && result.best_epoch + 1 != result.epochs_run &&
        best_theta.size() == n) {
      theta = best_theta;
      result.restored_best = true;
    }
  }
  result.seconds = std::chrono::duration<double>(clock::now() - t_start).count();
  (void)detail::call_all(
      [&](auto& c) -> decltype(c.on_train_end(result)) { return c.on_train_end(result); },
      callbacks...);
  return result;
}

/// `fit` without validation.
template <Model M, class O>
  requires std::same_as<typename M::Batch, RatingBatch> && DenseOptimizer<O, typename M::Scalar>
TrainResult fit(const M& model, Vector<typename M::Scalar>& theta, O& optimizer, const Dataset& data,
                std::span<const RowIndex> train_rows, const TrainOptions& options) {
  return fit(model, theta, optimizer, data, train_rows, options, NoValidation{});
}

}  // namespace metarec
