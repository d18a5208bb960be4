#pragma once
/// @file trainer.hpp
/// @brief `fit`: mini-batch training of a `Model` with an `Optimizer` over a batch source,
/// validation, early stopping and callbacks (ensmallen-style: every hook optional, a `true`
/// return stops).
///
/// `fit` asks a `BatchSource` (data/batch_source.hpp) for batches: `RatingBatches` (rating rows),
/// `RowBatches` (whole user or item rows), `NegativeSampledRatings` (implicit feedback with sampled
/// negatives) or your own. Per epoch e (0-based) it calls `source.start_epoch(e)` and then takes
/// one optimiser step per batch. The overload taking (data, rows, options) trains on
/// `RatingBatches(data, rows, options.batch_size, options.seed)`: the rows are shuffled with
/// `Rng(derive_seed(seed, e))`, cut into mini-batches of `batch_size` rows (the last one may be
/// shorter), and batch b has the noise seed `derive_seed(seed, e, b)`. When the model has sparse
/// gradients (`HasSparseGradient`) and the optimiser a sparse step (`SparseOptimizer`), each step
/// costs O(batch × dims) through a `SparseGradient`; otherwise a dense gradient of θ's size is
/// used. Single-threaded and deterministic: the same seed gives a bitwise-identical θ. (No
/// Hogwild-style parallel SGD: its result depends on thread timing.)
///
/// **Fused per-rating SGD** (train/fused_sgd.hpp). When the source is `RatingBatches` with batch
/// size 1, the model has `sgd_update` (`HasSgdUpdate`), the optimiser is `Sgd` with momentum 0 and
/// weight decay 0 and `fused` is set, each step is one call of `model.sgd_update(θ, data, row, lr)`
/// (no gradient buffer, no `Sgd::step`), with `sgd_prefetch` issued a few rows ahead when the model
/// has it. When the model has `sgd_update_rows` (`HasSgdUpdateRows`), the whole epoch is one call of
/// it instead (the model's loop, with its dims dispatch hoisted), with or without callbacks: an
/// `on_batch_end` hook is called from inside that loop after every step, so a progress bar
/// observes the same steps and never changes θ. The model computes the same arithmetic as the
/// generic path, so θ is the same (bit for bit unless the compiler contracts into FMAs; SVD++'s
/// whole-epoch loop is its own delayed-implicit SGD, svdpp.hpp). The optimiser is only read (its
/// lr): its step count is not advanced. Stochastic models take the batch's noise seed instead
/// (`HasSeededSgdUpdate`, `HasSeededSgdUpdateRows`): row b of epoch e gets derive_seed(seed, e, b),
/// the seed of its one-row batch on the generic path.
///
/// **Learning-rate decay.** With `lr_decay != 1`, epoch e (0-based) runs with the optimiser's lr set
/// to lr₀·lr_decay^e, lr₀ being its lr when `fit` is called (set through `set_lr` before the epoch,
/// so the fused paths see it too); the optimiser's lr is set back to lr₀ when `fit` returns or
/// throws. With the default 1 the lr is never touched.
///
/// **Parameter averaging** (Polyak–Ruppert, as an exponential moving average). With
/// `average > 0`, `fit` keeps the optimiser's iterate apart (one copy of θ, made once) and, after
/// step t = 1, 2, … of this call, sets θ ← μ_t·θ + (1 − μ_t)·θ_raw with μ_t = min(average,
/// (1 + t)/(10 + t)) (TensorFlow's ExponentialMovingAverage with num_updates: the early steps are
/// not dominated by the starting point). Gradients and optimiser steps use θ_raw; θ — what the
/// validation callable, early stopping, the callbacks that read θ and the caller see — is the
/// average. The average starts from θ on entry. It costs one pass over θ per step and turns the
/// fused per-rating path off. CF-NADE's authors' code keeps such an average (a plain EMA with μ from
/// their command line, without this warm-up).
///
/// After each epoch the validation callable (if any) is evaluated on θ and recorded by an
/// `EarlyStopping` (train/early_stopping.hpp); with `patience > 0`, training stops after `patience`
/// epochs without an improvement larger than `min_delta`, and with `restore_best` θ is set back to
/// the best epoch's values.
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

#include <metarec/core/concepts.hpp>
#include <metarec/core/detail/hooks.hpp>
#include <metarec/core/error.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/batch.hpp>
#include <metarec/data/batch_source.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/detail/prefetch_row.hpp>
#include <metarec/optim/optimizer.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/early_stopping.hpp>
#include <metarec/train/fused_sgd.hpp>

#include <algorithm>
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
  std::size_t batch_size = 256;   ///< rows per mini-batch (1 = per-rating SGD); (data, rows) overload only
  std::uint64_t seed = 0;         ///< shuffling and batch noise seeds; (data, rows) overload only
  int patience = 0;               ///< early stopping after this many epochs without improvement (0: off)
  double min_delta = 0.0;         ///< an improvement must exceed this
  bool restore_best = true;       ///< with a validation callable: end with the best epoch's θ
  bool higher_is_better = false;  ///< false for errors (RMSE), true for AUC and the like
  bool sparse = true;             ///< use sparse gradients when model and optimiser support them
  bool fused = true;              ///< use the model's fused `sgd_update` when it applies (see above)
  double lr_decay = 1.0;          ///< epoch e runs at lr₀·lr_decay^e (lr₀: the optimiser's lr on entry); 1 = off
  double average = 0.0;           ///< μ of the parameter average in [0, 1) (see above); 0 = off
};

/// What `on_train_begin` receives.
struct TrainBegin {
  int epochs = 0;                 ///< maximum epochs
  std::size_t batches_per_epoch = 0;
  std::size_t rows = 0;           ///< training examples (rows, or whole rows) per epoch
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

/// Whether `fit` can run model M with optimiser O on source Src through the fused SGD paths.
template <class M, class O, class Src>
inline constexpr bool fused_capable = (HasSgdUpdate<M> || HasSeededSgdUpdate<M>) &&
                                      std::same_as<std::remove_cvref_t<O>, Sgd<typename M::Scalar>> &&
                                      std::same_as<std::remove_cvref_t<Src>, RatingBatches>;

/// One epoch of fused per-rating SGD over the source's current order (see the file comment),
/// adding the row losses to `loss_sum`. `batch_end(b, loss)` runs the callbacks' per-step hook and
/// returns true when one asked to stop (then the epoch ends there). Throws `numerical_error` on a
/// non-finite loss.
template <class M, class S, class BatchEnd>
void fused_epoch(const M& model, Vector<S>& theta, const RatingBatches& source, S lr, int epoch,
                 double lr_report, bool per_row_hooks, double& loss_sum, BatchEnd&& batch_end) {
  const Dataset& data = source.data();
  const std::span<const RowIndex> order = source.order();
  const std::size_t rows = order.size();
  const VectorRef<S> tref(theta);
  [[maybe_unused]] const BatchSeeds seeds = source.seeds();
  // row `row` at position b of the epoch (its one-row batch's seed for stochastic models)
  auto update_one = [&](RowIndex row, std::size_t b) {
    if constexpr (HasSgdUpdate<M>)
      return model.sgd_update(tref, data, row, lr);
    else
      return model.sgd_update(tref, data, row, lr, seeds(b));
  };
  constexpr bool whole_epoch = HasSgdUpdate<M> ? HasSgdUpdateRows<M> : HasSeededSgdUpdateRows<M>;
  if constexpr (whole_epoch) {
    bool stopped = false;
    auto observe = [&](std::size_t b, double loss) { return stopped = batch_end(b, loss); };
    auto run = [&](auto&&... observer) {
      if constexpr (HasSgdUpdate<M>)
        return model.sgd_update_rows(tref, data, order, lr, loss_sum, observer...);
      else
        return model.sgd_update_rows(tref, data, order, lr, loss_sum, seeds, observer...);
    };
    const std::size_t done = per_row_hooks ? run(observe) : run();
    if (done < rows && !stopped) {
      // the failing row's loss, as the model reports it (θ is not updated by it)
      const double loss = static_cast<double>(update_one(order[done], done));
      throw_diverged(loss, epoch, done, rows, lr_report);
    }
  } else {
    const RowIndex* const ord = order.data();
    constexpr std::size_t d = fused_prefetch_distance;
    for (std::size_t b = 0; b < rows && b < 2 * d; ++b) prefetch_rating_row(data, ord[b]);
    for (std::size_t b = 0; b < rows; ++b) {
      if constexpr (HasSgdPrefetch<M>) {
        if (b + 2 * d < rows) prefetch_rating_row(data, ord[b + 2 * d]);
        if (b + d < rows) model.sgd_prefetch(tref, data, ord[b + d]);
      }
      const double loss = static_cast<double>(update_one(ord[b], b));
      if (!std::isfinite(loss)) throw_diverged(loss, epoch, b, rows, lr_report);
      loss_sum += loss;
      if (batch_end(b, loss)) return;
    }
  }
}

}  // namespace detail

/// Trains `model` from the current θ on the batches of `source` (see the file comment).
///
/// @param model      a `Model` whose batch type is the source's
/// @param theta      θ, already initialised; overwritten with the trained (or best) parameters
/// @param optimizer  an optimiser over `M::Scalar`; it is `reset(theta.size())` first
/// @param source     a `BatchSource` (data/batch_source.hpp); its batch size and seed are its own
/// @param options    epochs, early stopping, sparse/fused switches, lr decay (batch_size and seed
///                   are not read: they are the source's)
/// @param validate   `NoValidation{}` or a callable `double(const ConstVectorRef<S>&)` (e.g. `RmseOn`)
/// @param callbacks  any number of objects with optional hooks (see the table above)
/// @throws std::invalid_argument on a wrong θ size, negative epochs, an lr decay that is not
///         positive and finite or an `average` outside [0, 1)
/// @throws numerical_error when a batch loss or the validation metric is NaN or infinite, naming the
///         epoch and the batch
/// @code
/// const metarec::WholeRows rows(ds, split.train, metarec::RowSide::user);
/// metarec::RowBatches batches(rows, 256, /*seed=*/1);
/// metarec::Adam<float> opt{{.lr = 1e-3}};
/// auto result = metarec::fit(autorec, theta, opt, batches, {.epochs = 30, .patience = 3}, validate);
/// @endcode
template <Model M, class O, BatchSource Src, class Validate, class... Callbacks>
  requires std::same_as<typename M::Batch, typename Src::Batch> && DenseOptimizer<O, typename M::Scalar>
TrainResult fit(const M& model, Vector<typename M::Scalar>& theta, O& optimizer, Src& source,
                const TrainOptions& options, Validate&& validate, Callbacks&&... callbacks) {
  using S = typename M::Scalar;
  using clock = std::chrono::steady_clock;
  constexpr bool has_validation = !std::is_same_v<std::remove_cvref_t<Validate>, NoValidation>;
  if constexpr (has_validation)
    static_assert(std::is_invocable_r_v<double, Validate&, const ConstVectorRef<S>&>,
                  "metarec::fit: the validation argument must be NoValidation{} or a callable "
                  "double(const ConstVectorRef<Scalar>& theta) (see docs/training.md)");
  constexpr bool sparse_capable = HasSparseGradient<M> && SparseOptimizer<O, S>;
  constexpr bool fused_capable = detail::fused_capable<M, O, Src>;
  constexpr bool per_row_hooks =
      (detail::HasBatchEndHook<std::remove_cvref_t<Callbacks>> || ... || false);

  const Eigen::Index n = model.num_parameters();
  if (theta.size() != n)
    throw std::invalid_argument("fit: theta has " + std::to_string(theta.size()) +
                                " entries, the model has " + std::to_string(n) +
                                " parameters; size it with num_parameters() and initialize()");
  if (options.epochs < 0)
    throw std::invalid_argument("fit: epochs must be >= 0 (got " + std::to_string(options.epochs) + ")");
  if (!(options.lr_decay > 0.0) || !std::isfinite(options.lr_decay))
    throw std::invalid_argument("fit: lr_decay must be positive and finite (got " +
                                detail::fmt_number(options.lr_decay) + "); 1 turns the decay off");
  if (!(options.average >= 0.0 && options.average < 1.0))
    throw std::invalid_argument("fit: average must be in [0, 1) (got " + detail::fmt_number(options.average) +
                                "); 0 turns the parameter average off");
  const bool averaging = options.average > 0.0;

  bool use_fused = false;
  if constexpr (fused_capable)
    use_fused = options.fused && !averaging && source.batch_size() == 1 && optimizer.options().momentum == 0.0 &&
                optimizer.options().weight_decay == 0.0;
  const bool use_sparse = sparse_capable && options.sparse && !use_fused;
  const std::size_t examples = source.num_examples();
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
  SparseGradient<S> sparse_grad;
  Vector<S> dense_grad;
  if (use_fused) {
    // no gradient buffer
  } else if (use_sparse) {
    sparse_grad.resize(n);
    const std::size_t nb = std::max<std::size_t>(source.num_batches(), 1);
    sparse_grad.reserve(4 * ((examples + nb - 1) / nb) + 16);
  } else {
    dense_grad.resize(n);
  }

  // With averaging, the optimiser's iterate lives in `raw` and θ holds the average.
  Vector<S> raw;
  if (averaging) raw = theta;
  Vector<S>& work = averaging ? raw : theta;
  std::uint64_t steps = 0;
  auto average_in = [&] {
    ++steps;
    const S mu = static_cast<S>(std::min(options.average, (1.0 + static_cast<double>(steps)) /
                                                              (10.0 + static_cast<double>(steps))));
    theta.array() = mu * theta.array() + (S(1) - mu) * raw.array();
  };

  TrainResult result;
  EarlyStopping early({.patience = options.patience, .min_delta = options.min_delta,
                       .higher_is_better = options.higher_is_better});
  Vector<S> best_theta;

  bool stop = false;
  {
    const TrainBegin begin{options.epochs, source.num_batches(), examples, n, use_sparse, use_fused};
    stop = detail::call_all(
        [&](auto& c) -> decltype(c.on_train_begin(begin)) { return c.on_train_begin(begin); },
        callbacks...);
  }

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
    source.start_epoch(static_cast<std::uint64_t>(epoch));
    const std::size_t batches = source.num_batches();
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

    double loss_sum = 0.0;
    if constexpr (fused_capable) {
      if (use_fused)
        detail::fused_epoch(model, theta, source, static_cast<S>(optimizer.lr()), epoch,
                            optimizer.lr(), per_row_hooks, loss_sum, batch_end);
    }
    for (std::size_t b = 0; b < batches && !use_fused; ++b) {
      const typename Src::Batch batch = source.batch(b);
      const auto len = static_cast<double>(batch.size());
      double loss;
      if constexpr (sparse_capable) {
        if (use_sparse) {
          sparse_grad.clear();
          loss = static_cast<double>(model.loss_and_gradient(work, batch, sparse_grad));
          if (std::isfinite(loss)) optimizer.step(work, sparse_grad);
        } else {
          loss = static_cast<double>(model.loss_and_gradient(work, batch, VectorRef<S>(dense_grad)));
          if (std::isfinite(loss)) optimizer.step(work, dense_grad);
        }
      } else {
        loss = static_cast<double>(model.loss_and_gradient(work, batch, VectorRef<S>(dense_grad)));
        if (std::isfinite(loss)) optimizer.step(work, dense_grad);
      }
      if (!std::isfinite(loss)) detail::throw_diverged(loss, epoch, b, batches, optimizer.lr());
      if constexpr (HasRunningStatistics<M>) model.update_running_statistics(VectorRef<S>(work), batch);
      if (averaging) average_in();
      loss_sum += loss * len;
      if (batch_end(b, loss)) break;
    }
    info.train_loss = loss_sum / static_cast<double>(examples);
    if (!stop && !work.allFinite())
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
      if (early.update(metric, static_cast<std::uint64_t>(epoch))) {
        result.best_metric = metric;
        result.best_epoch = epoch;
        if (options.restore_best) best_theta = theta;
      }
      if (early.should_stop()) {
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
template <Model M, class O, BatchSource Src>
  requires std::same_as<typename M::Batch, typename Src::Batch> && DenseOptimizer<O, typename M::Scalar>
TrainResult fit(const M& model, Vector<typename M::Scalar>& theta, O& optimizer, Src& source,
                const TrainOptions& options) {
  return fit(model, theta, optimizer, source, options, NoValidation{});
}

/// Trains `model` on `train_rows` of `data`: `fit` over `RatingBatches(data, train_rows,
/// options.batch_size, options.seed)` (see the file comment).
/// @throws std::invalid_argument on a wrong θ size, zero batch size, negative epochs or no rows,
///         and as the source overload
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
  if (theta.size() != model.num_parameters())
    throw std::invalid_argument("fit: theta has " + std::to_string(theta.size()) +
                                " entries, the model has " + std::to_string(model.num_parameters()) +
                                " parameters; size it with num_parameters() and initialize()");
  RatingBatches source(data, train_rows, options.batch_size, options.seed, "fit");
  return fit(model, theta, optimizer, source, options, std::forward<Validate>(validate),
             std::forward<Callbacks>(callbacks)...);
}

/// `fit` on rating rows without validation.
template <Model M, class O>
  requires std::same_as<typename M::Batch, RatingBatch> && DenseOptimizer<O, typename M::Scalar>
TrainResult fit(const M& model, Vector<typename M::Scalar>& theta, O& optimizer, const Dataset& data,
                std::span<const RowIndex> train_rows, const TrainOptions& options) {
  return fit(model, theta, optimizer, data, train_rows, options, NoValidation{});
}

}  // namespace metarec
