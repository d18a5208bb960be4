#pragma once
/// @file maml.hpp
/// @brief `Maml`: one meta-trainer over any `Model` for the MAML family — second-order MAML
/// (exact, with Hessian-vector products), first-order MAML, Reptile and Meta-SGD — chosen by a
/// policy type (meta/algorithms.hpp). See docs/maml.md for the formulas, costs, determinism and
/// checkpoints.
///
/// Outer loop: meta-batches of B tasks (a task = support rows + query rows, turned into the model's
/// batches by `MetaBatchTraits`, meta/meta_batch.hpp); each task is adapted by the inner loop of
/// adapt.hpp in a per-thread workspace, its meta-direction (the algorithm's) written into its own
/// slot, and the slots summed IN TASK ORDER, so θ is bitwise identical for any number of OpenMP
/// threads. The mean meta-gradient is applied by the outer optimiser (Adam by default).

#include <metarec/core/concepts.hpp>
#include <metarec/core/error.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/core/detail/atomic_file.hpp>
#include <metarec/core/detail/binary_io.hpp>
#include <metarec/core/detail/hooks.hpp>
#include <metarec/meta/adapt.hpp>
#include <metarec/meta/algorithms.hpp>
#include <metarec/meta/meta_batch.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/optimizer.hpp>
#include <metarec/train/early_stopping.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <ranges>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec {

/// Test-only corruptions of the meta-gradient. They exist so the test suite can prove that its
/// gradient checks and its cold-start margin fail when the backward pass is wrong. Never use them
/// for training.
enum class MamlDebug {
  none,
  flip_hessian_term,  ///< g ← g + H(αPg) instead of g − H(αPg) (second-order only)
  zero_alpha,         ///< drop the Hessian term (α = 0 in the backward pass): first-order in disguise
};

/// Options of `Maml` (designated initialisers: `MamlOptions{.inner_steps = 5, .inner_lr = 0.1}`).
struct MamlOptions {
  int inner_steps = 1;                  ///< k, inner gradient steps per task
  double inner_lr = 0.01;               ///< α (MAML), or the initial α of every parameter (Meta-SGD)
  AdaptedSet adapted = AdaptedSet::all; ///< what the inner loop adapts (P)
  std::vector<Segment> adapted_segments{};  ///< for `AdaptedSet::segments` (ANIL head)
  std::uint64_t epochs = 10;            ///< passes over the task source
  std::uint64_t seed = 0;               ///< seeds every batch: derive_seed(seed, step, task, ·)
  double reptile_epsilon = 0.0;         ///< Reptile: > 0 interpolates θ ← θ − ε·mean(θ₀ − θ_k)
                                        ///< instead of stepping the outer optimiser
  bool sparse_outer_step = false;       ///< true: the outer optimiser's lazy sparse step on the
                                        ///< segments the meta-batch touched (O(touched))
  int patience = 0;                     ///< early stopping: validations without improvement (0: off)
  double min_delta = 0.0;               ///< an improvement must lower the validation loss by more
  std::filesystem::path checkpoint_path{};  ///< empty: no checkpoints
  std::uint64_t checkpoint_every = 0;   ///< outer steps between checkpoints (0: once per epoch)
  std::size_t min_parallel_work = 2048; ///< a meta-batch runs on one thread when its work,
                                        ///< Σ_tasks (|support|·k + |query|) rows, is below this
                                        ///< (tiny tasks cost less than an OpenMP fork/join);
                                        ///< results do not depend on it
  MamlDebug debug = MamlDebug::none;    ///< TEST-ONLY corruption of the backward pass
};

/// What a step hook receives (after each outer step).
struct MamlStepInfo {
  std::uint64_t epoch = 0;        ///< epoch of the step
  std::uint64_t batch = 0;        ///< meta-batch index within the epoch
  std::uint64_t step = 0;         ///< outer steps done, this one included
  std::size_t tasks = 0;          ///< B
  double support_loss = 0.0;      ///< mean L_s(θ₀) over the meta-batch (before adaptation)
  double query_loss = 0.0;        ///< mean L_q(θ_k) over the meta-batch (after adaptation)
  double meta_gradient_norm = 0.0;  ///< ‖mean meta-gradient‖ (Reptile: of θ₀ − θ_k)
};

/// What an epoch hook receives (after each epoch and its validation).
struct MamlEpochInfo {
  std::uint64_t epoch = 0;        ///< the epoch just completed
  std::uint64_t step = 0;
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  ///< NaN without validation
  double best_validation_loss = std::numeric_limits<double>::quiet_NaN();
  bool improved = false;
  int bad_epochs = 0;             ///< validations since the last improvement
};

/// Summary returned by `Maml::train`.
struct MamlResult {
  std::uint64_t epochs = 0;       ///< completed epochs (including those before a resume)
  std::uint64_t steps = 0;        ///< outer steps (including those before a resume)
  double last_query_loss = std::numeric_limits<double>::quiet_NaN();
  double best_validation_loss = std::numeric_limits<double>::quiet_NaN();
  std::uint64_t best_epoch = 0;   ///< epoch whose θ was restored (with validation)
  bool early_stopped = false;
  bool stopped_by_callback = false;
};

/// A source of meta-batches deterministic from (seed, epoch), such as `TaskSampler`.
template <class Src>
concept MetaBatchSource = requires(Src& s, std::uint64_t epoch, std::size_t b) {
  s.start_epoch(epoch);
  { s.num_batches() } -> std::convertible_to<std::size_t>;
  { s.batch(b) } -> std::ranges::random_access_range;
  requires MetaTask<std::ranges::range_value_t<decltype(s.batch(b))>>;
};

namespace detail {
inline constexpr std::uint64_t tag_validation = 0x56414C49ull;  // "VALI"
inline constexpr std::uint64_t tag_support = 1;
inline constexpr std::uint64_t tag_query = 2;

template <class T>
std::string task_name(const T& task, std::size_t index) {
  std::string s = "task " + std::to_string(index);
  if constexpr (requires { task.user; }) s += " (user " + std::to_string(task.user) + ")";
  return s;
}

template <class... T>
inline constexpr bool first_is_range = false;
template <class T, class... Rest>
inline constexpr bool first_is_range<T, Rest...> = std::ranges::range<std::remove_cvref_t<T>>;

[[nodiscard]] inline int max_threads() noexcept {
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}
[[nodiscard]] inline int thread_id() noexcept {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}
}  // namespace detail

/// The MAML-family meta-trainer.
///
/// @tparam M a `Model`; its batch is built by `MetaBatchTraits<M::Batch>`.
/// @tparam Algorithm `SecondOrderMaml` (default), `FirstOrderMaml`, `Reptile` or `MetaSgd`.
/// @tparam Outer the outer optimiser (`Adam<S>` by default; any `DenseOptimizer`).
///
/// The trainer is stateful: it remembers the epoch, step, optimiser state, Meta-SGD's α and the
/// best validation θ, so `train` continues where it stopped, and `save_checkpoint` /
/// `load_checkpoint` resume a run exactly. The model must outlive the trainer.
/// @code
/// metarec::MatrixFactorization<float> mf(ds.num_users(), ds.num_items(),
///     {.dims = 32, .shared_user = true});
/// metarec::Vector<float> theta(mf.num_parameters());
/// metarec::Rng rng(1);
/// mf.initialize(theta, rng);
/// metarec::TaskSampler sampler(ds, split.train, {.support = 5, .query = 10, .meta_batch = 32}, 7);
/// metarec::Maml<metarec::MatrixFactorization<float>> maml(
///     mf, {.inner_steps = 2, .inner_lr = 0.5, .adapted = metarec::AdaptedSet::local, .epochs = 20},
///     metarec::Adam<float>({.lr = 1e-2}));
/// metarec::MamlResult r = maml.train(theta, ds, sampler, validation_tasks);
/// metarec::Vector<float> user_theta = maml.adapt(theta, support_batch);  // a brand-new user
/// @endcode
template <Model M, class Algorithm = SecondOrderMaml, class Outer = Adam<typename M::Scalar>>
class Maml {
  static_assert(check_model<M>());
  static_assert(!Algorithm::needs_hvp || HasHessianVectorProduct<M>,
                "metarec::Maml: second-order MAML and Meta-SGD need the model's exact "
                "Hessian-vector product `void hessian_vector_product(theta, batch, v, VectorRef<S> "
                "out) const`, which this model does not have. Use metarec::FirstOrderMaml or "
                "metarec::Reptile instead (see docs/maml.md).");
  static_assert(!Algorithm::needs_exact_gradient || has_exact_gradient<M>,
                "metarec::Maml: second-order MAML and Meta-SGD differentiate through the inner "
                "loop, but this model's gradient is not exact (exact_gradient = false, e.g. "
                "contrastive divergence). Use metarec::FirstOrderMaml or metarec::Reptile instead "
                "(see docs/maml.md).");
  static_assert(DenseOptimizer<Outer, typename M::Scalar>,
                "metarec::Maml: the outer optimiser needs reset(n), step(theta, grad), set_lr, lr() "
                "(see include/metarec/optim/optimizer.hpp)");

 public:
  using Scalar = typename M::Scalar;
  using S = Scalar;
  using Batch = typename M::Batch;
  using Model = M;
  using AlgorithmType = Algorithm;

  /// @throws std::invalid_argument on bad options (negative steps, bad segments, AdaptedSet::local
  ///         without `local_segments`, a negative patience or Reptile ε).
  explicit Maml(const M& model, MamlOptions options = {}, Outer outer = Outer())
      : model_(&model), opt_(std::move(options)), outer_(std::move(outer)), alpha_opt_(outer_) {
    detail::check_inner("Maml", model, opt_.inner_steps, opt_.inner_lr, opt_.adapted,
                        opt_.adapted_segments);
    if (model.num_parameters() <= 0)
      throw std::invalid_argument("Maml: the model has no parameters (" +
                                  std::to_string(model.num_parameters()) + ")");
    if (opt_.patience < 0 || !(opt_.reptile_epsilon >= 0.0) || !(opt_.min_delta >= 0.0))
      throw std::invalid_argument(
          "Maml: negative patience, min_delta or reptile_epsilon (patience " +
          std::to_string(opt_.patience) + ", min_delta " + std::to_string(opt_.min_delta) +
          ", reptile_epsilon " + std::to_string(opt_.reptile_epsilon) + ")");
    early_ = EarlyStopping({.patience = opt_.patience, .min_delta = opt_.min_delta});
    if (opt_.reptile_epsilon > 0.0 && !Algorithm::interpolates)
      throw std::invalid_argument(
          "Maml: reptile_epsilon is only used by metarec::Reptile; set it to 0 for " +
          std::string(Algorithm::name));
    if constexpr (!SparseOptimizer<Outer, S>) {
      if (opt_.sparse_outer_step)
        throw std::invalid_argument(
            "Maml: sparse_outer_step needs an outer optimiser with step(theta, SparseGradient)");
    }
    if constexpr (!CheckpointableOptimizer<Outer>) {
      if (!opt_.checkpoint_path.empty())
        throw std::invalid_argument(
            "Maml: checkpoints need an outer optimiser with save_state/load_state");
    }
    const Eigen::Index n = model.num_parameters();
    meta_.resize(n);
    if constexpr (Algorithm::learns_alpha) {
      alpha_meta_.resize(n);
      alpha_ = Vector<S>::Constant(n, static_cast<S>(opt_.inner_lr));
    }
  }

  [[nodiscard]] const MamlOptions& options() const noexcept { return opt_; }
  [[nodiscard]] const M& model() const noexcept { return *model_; }
  /// Meta-SGD's learned per-parameter inner step α (empty for the other algorithms).
  [[nodiscard]] const Vector<S>& alpha() const noexcept { return alpha_; }
  /// Sets Meta-SGD's α (size n), e.g. to start from a non-uniform step.
  /// @throws std::invalid_argument on a wrong size or non-finite entries.
  void set_alpha(const ConstVectorRef<S>& alpha)
    requires Algorithm::learns_alpha
  {
    if (alpha.size() != model_->num_parameters() || !alpha.allFinite())
      throw std::invalid_argument("Maml::set_alpha: alpha has " + std::to_string(alpha.size()) +
                                  " entries (finite: " + (alpha.allFinite() ? "yes" : "no") +
                                  "), the model has " + std::to_string(model_->num_parameters()) +
                                  " parameters");
    alpha_ = alpha;
  }
  /// Completed epochs and outer steps so far.
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] std::uint64_t step() const noexcept { return step_; }
  [[nodiscard]] const Outer& outer_optimizer() const noexcept { return outer_; }

  /// The inner loop this trainer uses, for `metarec::adapt` (α is the scalar `inner_lr`; pass
  /// `&alpha()` as well for Meta-SGD).
  [[nodiscard]] AdaptOptions adapt_options() const {
    return AdaptOptions{opt_.inner_steps, opt_.inner_lr, opt_.adapted, opt_.adapted_segments};
  }

  /// Adapts θ to a support batch with this trainer's inner loop (and Meta-SGD's learned α):
  /// `metarec::adapt` with `adapt_options()`. Like it, this builds a workspace of its own (one copy
  /// of θ per call) and is const, so it may be called from several threads at once.
  /// @throws std::invalid_argument on a wrong θ size.
  [[nodiscard]] Vector<S> adapt(const ConstVectorRef<S>& theta, const Batch& support) const {
    return metarec::adapt(*model_, theta, support, adapt_options(),
                          Algorithm::learns_alpha ? &alpha_ : nullptr);
  }

  /// Meta-gradient of one task: d L_q(adapt_k(θ)) / dθ into `grad` (overwritten), as the
  /// algorithm defines it (Reptile: θ − θ_k). With Meta-SGD and `alpha_grad` not null, also
  /// dL/dα (overwritten). Returns the query loss at θ_k.
  /// @throws std::invalid_argument on wrong sizes.
  S meta_gradient(const ConstVectorRef<S>& theta, const Batch& support, const Batch& query,
                  VectorRef<S> grad, Vector<S>* alpha_grad = nullptr) {
    const Eigen::Index n = model_->num_parameters();
    check_theta("Maml::meta_gradient", theta.size());
    if (grad.size() != n)
      throw std::invalid_argument("Maml::meta_gradient: grad has " + std::to_string(grad.size()) +
                                  " entries, the model has " + std::to_string(n) + " parameters");
    prepare_workspaces();
    detail::MamlWorkspace<M>& ws = ws_[0];
    ws.load(theta, ++load_tag_);
    if (slots_.empty()) slots_.resize(1);
    TaskResult& slot = slots_[0];
    const auto losses = detail::run_task<Algorithm, sparse_backward>(
        ws, support, query, inner_spec(), backward_debug(), &slot.meta,
        Algorithm::learns_alpha ? &slot.alpha : nullptr);
    ws.invalidate();
    meta_.clear();
    slot.meta.add_to(meta_);
    grad = meta_.dense();
    meta_.clear();
    if constexpr (Algorithm::learns_alpha) {
      if (alpha_grad != nullptr) {
        alpha_meta_.clear();
        slot.alpha.add_to(alpha_meta_);
        *alpha_grad = alpha_meta_.dense();
        alpha_meta_.clear();
      }
    }
    return losses.second;
  }

  /// Mean query loss after adaptation over `tasks` (validation / test), in parallel over tasks,
  /// summed in task order. Batch seeds are fixed per task index (derive_seed(seed, VALI, t, ·)).
  /// @throws numerical_error naming the task when a loss is not finite.
  template <class Data, std::ranges::random_access_range Tasks>
    requires MetaTask<std::ranges::range_value_t<Tasks>>
  [[nodiscard]] double validation_loss(const ConstVectorRef<S>& theta, const Data& data,
                                       const Tasks& tasks) {
    check_theta("Maml::validation_loss", theta.size());
    const std::size_t count = static_cast<std::size_t>(std::ranges::size(tasks));
    if (count == 0) return std::numeric_limits<double>::quiet_NaN();
    auto first = std::ranges::begin(tasks);
    run_tasks<detail::AdaptOnly>(theta, data, first, count, detail::tag_validation,
                                 detail::BackwardDebug::none);
    double total = 0.0;
    for (std::size_t t = 0; t < count; ++t) {
      if (slots_[t].error) std::rethrow_exception(slots_[t].error);
      if (!std::isfinite(slots_[t].query_loss) || !std::isfinite(slots_[t].support_loss))
        throw numerical_error("Maml::validation_loss: non-finite loss (support " +
                              std::to_string(slots_[t].support_loss) + ", query " +
                              std::to_string(slots_[t].query_loss) + ") at epoch " +
                              std::to_string(epoch_) + ", step " + std::to_string(step_) +
                              ", validation " +
                              detail::task_name(first[static_cast<std::ptrdiff_t>(t)], t) +
                              "; lower inner_lr or the outer learning rate");
      total += static_cast<double>(slots_[t].query_loss);
    }
    return total / static_cast<double>(count);
  }

  /// Meta-trains θ (in place) over the meta-batches of `tasks` until `options().epochs` epochs are
  /// complete, continuing from the trainer's current position (0 for a new trainer, the saved
  /// position after `load_checkpoint`).
  ///
  /// After every epoch, when `validation` is not empty, the mean adapted query loss on it is
  /// computed; the best θ (and α) is kept, training stops after `patience` validations without
  /// improvement, and when training ends (all epochs, or early stopping) θ is set to the best θ.
  /// Hooks are optional members of each `hooks` object: `on_step(const MamlStepInfo&)` and
  /// `on_epoch_end(const MamlEpochInfo&)`; a hook returning `true` stops training (the trainer
  /// keeps its position: calling `train` again continues; θ is NOT replaced by the best θ, call
  /// `restore_best`). Checkpoints are written atomically to `options().checkpoint_path` every
  /// `checkpoint_every` steps (0: after each epoch) and when training ends.
  /// @param data what `MetaBatchTraits<Batch>::make` builds batches from (a `Dataset`).
  /// @throws numerical_error naming epoch, step and task on a NaN/Inf loss or meta-gradient.
  /// @throws std::invalid_argument on a wrong θ size or an empty task source.
  template <class Data, MetaBatchSource Tasks, std::ranges::random_access_range Validation,
            class... Hooks>
    requires MetaTask<std::ranges::range_value_t<Validation>>
  MamlResult train(VectorRef<S> theta, const Data& data, Tasks& tasks,
                   const Validation& validation, Hooks&&... hooks) {
    check_theta("Maml::train", theta.size());
    const Eigen::Index n = model_->num_parameters();
    if (!started_) {
      outer_.reset(n);
      if constexpr (Algorithm::learns_alpha) alpha_opt_.reset(n);
      started_ = true;
    }
    MamlResult result;
    bool stop = false;
    const bool validate = std::ranges::size(validation) > 0;
    while (!stop && !finished_ && epoch_ < opt_.epochs) {
      tasks.start_epoch(epoch_);
      const std::size_t nb = tasks.num_batches();
      if (nb == 0)
        throw std::invalid_argument("Maml::train: the task source has no meta-batches at epoch " +
                                    std::to_string(epoch_) +
                                    "; check the task options (support + query <= rows per user)");
      bool epoch_done = false;
      while (!stop && !epoch_done) {
        const auto mb = tasks.batch(static_cast<std::size_t>(batch_));
        MamlStepInfo info = outer_step(theta, data, mb);
        ++batch_;
        ++step_;
        result.last_query_loss = info.query_loss;
        stop = detail::call_all(
            [&](auto& h) -> decltype(h.on_step(info)) { return h.on_step(info); }, hooks...);
        result.stopped_by_callback = stop;
        epoch_done = batch_ >= nb;
        if (epoch_done) {
          const std::uint64_t finished_epoch = epoch_;
          ++epoch_;
          batch_ = 0;
          MamlEpochInfo einfo;
          einfo.epoch = finished_epoch;
          einfo.step = step_;
          if (validate) {
            const double v = validation_loss(theta, data, validation);
            einfo.validation_loss = v;
            if (early_.update(v, finished_epoch)) {
              best_theta_ = theta;
              best_alpha_ = alpha_;
              einfo.improved = true;
            }
            einfo.best_validation_loss = early_.best();
            einfo.bad_epochs = early_.bad_epochs();
            if (early_.should_stop()) {
              finished_ = true;
              result.early_stopped = true;
            }
          }
          if (epoch_ >= opt_.epochs) finished_ = true;
          const bool hook_stop = detail::call_all(
              [&](auto& h) -> decltype(h.on_epoch_end(einfo)) { return h.on_epoch_end(einfo); },
              hooks...);
          stop = stop || hook_stop;
          result.stopped_by_callback = result.stopped_by_callback || hook_stop;
        }
        const bool due = opt_.checkpoint_every > 0 ? (step_ % opt_.checkpoint_every == 0)
                                                   : epoch_done;
        if (!opt_.checkpoint_path.empty() && (due || finished_ || stop))
          save_checkpoint(opt_.checkpoint_path, theta);
        if (finished_) stop = true;
      }
    }
    if (finished_ && early_.has_best()) restore_best(theta);
    result.epochs = epoch_;
    result.steps = step_;
    result.best_validation_loss = early_.best();
    result.best_epoch = early_.best_epoch();
    result.stopped_by_callback = result.stopped_by_callback && !finished_;
    return result;
  }

  /// `train` without validation.
  template <class Data, MetaBatchSource Tasks, class... Hooks>
    requires(!detail::first_is_range<Hooks...>)
  MamlResult train(VectorRef<S> theta, const Data& data, Tasks& tasks, Hooks&&... hooks) {
    return train(theta, data, tasks, std::span<const TaskViewless>{},
                 std::forward<Hooks>(hooks)...);
  }

  /// Sets θ (and Meta-SGD's α) to the best validation state, if there is one.
  void restore_best(VectorRef<S> theta) {
    check_theta("Maml::restore_best", theta.size());
    if (!early_.has_best()) return;
    theta = best_theta_;
    if constexpr (Algorithm::learns_alpha) alpha_ = best_alpha_;
  }

  /// Writes θ, the optimiser state(s), Meta-SGD's α, the position (epoch, batch, step) and the
  /// early-stopping state to `path`, atomically (a temporary sibling file, then rename). Every
  /// random stream is a function of (seed, epoch, step, task), so the position is the whole RNG
  /// state. Binary, host byte order.
  /// @throws std::runtime_error when the file cannot be written.
  void save_checkpoint(const std::filesystem::path& path, const ConstVectorRef<S>& theta) const {
    check_theta("Maml::save_checkpoint", theta.size());
    if constexpr (CheckpointableOptimizer<Outer>) {
      std::ostringstream out(std::ios::binary);
      detail::write_state_header(out, checkpoint_tag, checkpoint_version, sizeof(S),
                                 model_->num_parameters());
      detail::write_string(out, Algorithm::name);
      detail::write_pod(out, opt_.seed);
      detail::write_pod(out, static_cast<std::int32_t>(opt_.inner_steps));
      detail::write_pod(out, epoch_);
      detail::write_pod(out, batch_);
      detail::write_pod(out, step_);
      detail::write_pod(out, static_cast<std::uint8_t>(started_));
      detail::write_pod(out, static_cast<std::uint8_t>(finished_));
      detail::write_pod(out, static_cast<std::uint8_t>(early_.has_best()));
      detail::write_pod(out, early_.has_best() ? early_.best() : std::numeric_limits<double>::infinity());
      detail::write_pod(out, early_.best_epoch());
      detail::write_pod(out, static_cast<std::int32_t>(early_.bad_epochs()));
      detail::write_vector(out, Vector<S>(theta));
      detail::write_vector(out, alpha_);
      detail::write_vector(out, best_theta_);
      detail::write_vector(out, best_alpha_);
      outer_.save_state(out);
      if constexpr (Algorithm::learns_alpha) alpha_opt_.save_state(out);
      detail::write_file_atomically(path, out.str(), "Maml::save_checkpoint");
    } else {
      throw std::invalid_argument("Maml::save_checkpoint: the outer optimiser cannot save state");
    }
  }

  /// Restores θ and the trainer's state from a checkpoint written by `save_checkpoint` with the
  /// same model size, scalar type, algorithm, seed and inner steps; `train` then continues exactly
  /// as the original run would have.
  /// @throws format_error on a missing, truncated or mismatching file.
  void load_checkpoint(const std::filesystem::path& path, VectorRef<S> theta) {
    check_theta("Maml::load_checkpoint", theta.size());
    if constexpr (CheckpointableOptimizer<Outer>) {
      std::ifstream file(path, std::ios::binary);
      if (!file)
        throw format_error("Maml::load_checkpoint: cannot open '" + path.string() + "'");
      std::stringstream in(std::ios::in | std::ios::out | std::ios::binary);
      in << file.rdbuf();
      const char* who = "Maml::load_checkpoint";
      const Eigen::Index n = model_->num_parameters();
      (void)detail::read_state_header(in, who, checkpoint_tag, checkpoint_version, sizeof(S), n);
      const std::string algo = detail::read_string(in, who, 256);
      const auto seed = detail::read_pod<std::uint64_t>(in, who);
      const auto steps = detail::read_pod<std::int32_t>(in, who);
      if (algo != Algorithm::name || seed != opt_.seed || steps != opt_.inner_steps)
        throw format_error(std::string(who) + ": '" + path.string() + "' was written by " + algo +
                           " with seed " + std::to_string(seed) + " and " + std::to_string(steps) +
                           " inner steps; this trainer is " + Algorithm::name + " with seed " +
                           std::to_string(opt_.seed) + " and " + std::to_string(opt_.inner_steps));
      const auto epoch = detail::read_pod<std::uint64_t>(in, who);
      const auto batch = detail::read_pod<std::uint64_t>(in, who);
      const auto step = detail::read_pod<std::uint64_t>(in, who);
      const auto started = detail::read_pod<std::uint8_t>(in, who);
      const auto finished = detail::read_pod<std::uint8_t>(in, who);
      const auto has_best = detail::read_pod<std::uint8_t>(in, who);
      const auto best_loss = detail::read_pod<double>(in, who);
      const auto best_epoch = detail::read_pod<std::uint64_t>(in, who);
      const auto bad = detail::read_pod<std::int32_t>(in, who);
      Vector<S> th = detail::read_vector<S>(in, "Maml::load_checkpoint (theta)", n);
      Vector<S> alpha = detail::read_vector<S>(in, "Maml::load_checkpoint (alpha)",
                                               Algorithm::learns_alpha ? n : 0);
      Vector<S> best_theta = detail::read_vector<S>(in, "Maml::load_checkpoint (best theta)",
                                                    has_best ? n : 0);
      Vector<S> best_alpha = detail::read_vector<S>(
          in, "Maml::load_checkpoint (best alpha)", has_best && Algorithm::learns_alpha ? n : 0);
      Outer outer = outer_;
      outer.load_state(in);
      Outer alpha_opt = alpha_opt_;
      if constexpr (Algorithm::learns_alpha) alpha_opt.load_state(in);
      // Commit only after everything was read.
      epoch_ = epoch;
      batch_ = batch;
      step_ = step;
      started_ = started != 0;
      finished_ = finished != 0;
      early_.restore(has_best != 0, best_loss, best_epoch, bad);
      theta = th;
      alpha_ = std::move(alpha);
      best_theta_ = std::move(best_theta);
      best_alpha_ = std::move(best_alpha);
      outer_ = std::move(outer);
      alpha_opt_ = std::move(alpha_opt);
    } else {
      throw std::invalid_argument("Maml::load_checkpoint: the outer optimiser cannot load state");
    }
  }

 private:
  struct TaskViewless {
    std::span<const RowIndex> support, query;
  };
  struct TaskResult {
    detail::SparseSlot<S> meta;
    detail::SparseSlot<S> alpha;
    S support_loss = S(0);
    S query_loss = S(0);
    std::exception_ptr error;
  };

  static constexpr const char* checkpoint_tag = "metarec.Maml";
  static constexpr std::uint32_t checkpoint_version = 1;
  // The backward pass is sparse when the model has sparse HVPs (else one dense segment).
  static constexpr bool sparse_backward =
      Algorithm::needs_hvp ? HasSparseHessianVectorProduct<M> : HasSparseGradient<M>;

  void check_theta(const char* who, Eigen::Index size) const {
    if (size != model_->num_parameters())
      throw std::invalid_argument(std::string(who) + ": theta has " + std::to_string(size) +
                                  " entries, the model has " +
                                  std::to_string(model_->num_parameters()) +
                                  " parameters; size it with num_parameters()");
  }

  [[nodiscard]] detail::InnerSpec<S> inner_spec() const noexcept {
    return detail::InnerSpec<S>{opt_.inner_steps, static_cast<S>(opt_.inner_lr),
                                Algorithm::learns_alpha ? alpha_.data() : nullptr, opt_.adapted,
                                opt_.adapted_segments};
  }
  [[nodiscard]] detail::BackwardDebug backward_debug() const noexcept {
    switch (opt_.debug) {
      case MamlDebug::flip_hessian_term: return detail::BackwardDebug::flip_hessian_term;
      case MamlDebug::zero_alpha: return detail::BackwardDebug::zero_alpha;
      default: return detail::BackwardDebug::none;
    }
  }

  void prepare_workspaces() {
    const auto want = static_cast<std::size_t>(detail::max_threads());
    while (ws_.size() < want) {
      ws_.emplace_back();
      ws_.back().bind(*model_, Algorithm::needs_hvp, Algorithm::learns_alpha);
    }
  }

  /// Rows the inner loops and query evaluations of `tasks` process: Σ |support|·k + |query|.
  template <class TaskIt>
  [[nodiscard]] std::size_t work_of(TaskIt first, std::size_t count) const {
    const auto k = static_cast<std::size_t>(std::max(opt_.inner_steps, 1));
    std::size_t rows = 0;
    for (std::size_t t = 0; t < count; ++t) {
      const auto& task = first[static_cast<std::ptrdiff_t>(t)];
      rows += std::span<const RowIndex>(task.support).size() * k +
              std::span<const RowIndex>(task.query).size();
    }
    return rows;
  }

  template <class Body>
  static void run_parallel(std::size_t count, bool parallel, const Body& body) {
#if defined(_OPENMP)
    const auto c = static_cast<std::ptrdiff_t>(count);
#pragma omp parallel for schedule(dynamic, 1) if (parallel && count > 1)
    for (std::ptrdiff_t t = 0; t < c; ++t) body(static_cast<std::size_t>(t));
#else
    (void)parallel;
    for (std::size_t t = 0; t < count; ++t) body(t);
#endif
  }

  /// Runs `A` on `count` tasks from `first` in the per-thread workspaces (OpenMP across tasks when
  /// the work is large enough), each task's results in its own slot. Task t's batches have the
  /// seeds derive_seed(derive_seed(seed, stream, t), SUPPORT / QUERY): `stream` is the outer step,
  /// or VALI for validation.
  template <class A, class Data, class TaskIt>
  void run_tasks(const ConstVectorRef<S>& theta, const Data& data, TaskIt first, std::size_t count,
                 std::uint64_t stream, detail::BackwardDebug debug) {
    prepare_workspaces();
    if (slots_.size() < count) slots_.resize(count);
    const std::uint64_t tag = ++load_tag_;
    const detail::InnerSpec<S> spec = inner_spec();
    const auto body = [&](std::size_t t) {
      TaskResult& slot = slots_[t];
      detail::MamlWorkspace<M>& ws = ws_[static_cast<std::size_t>(detail::thread_id())];
      slot.error = nullptr;
      try {
        const auto& task = first[static_cast<std::ptrdiff_t>(t)];
        ws.load(theta, tag);
        const std::uint64_t s = derive_seed(opt_.seed, stream, t);
        const auto tb = MetaBatchTraits<Batch>::make(data, task, derive_seed(s, detail::tag_support),
                                                     derive_seed(s, detail::tag_query));
        const auto l = detail::run_task<A, sparse_backward>(
            ws, tb.support, tb.query, spec, debug, &slot.meta, A::learns_alpha ? &slot.alpha : nullptr);
        slot.support_loss = l.first;
        slot.query_loss = l.second;
      } catch (...) {
        slot.error = std::current_exception();
        ws.invalidate();
      }
    };
    run_parallel(count, work_of(first, count) >= opt_.min_parallel_work, body);
  }

  template <class Data, class TaskRange>
  MamlStepInfo outer_step(VectorRef<S> theta, const Data& data, const TaskRange& mb) {
    const std::size_t count = static_cast<std::size_t>(std::ranges::size(mb));
    auto first = std::ranges::begin(mb);
    run_tasks<Algorithm>(theta, data, first, count, step_, backward_debug());

    // Serial reduction in task order: bitwise identical for any number of threads.
    MamlStepInfo info;
    info.epoch = epoch_;
    info.batch = batch_;
    info.step = step_ + 1;
    info.tasks = count;
    meta_.clear();
    if constexpr (Algorithm::learns_alpha) alpha_meta_.clear();
    double support_total = 0.0, query_total = 0.0;
    for (std::size_t t = 0; t < count; ++t) {
      const TaskResult& slot = slots_[t];
      if (slot.error) std::rethrow_exception(slot.error);
      const bool finite = std::isfinite(slot.support_loss) && std::isfinite(slot.query_loss) &&
                          slot.meta.all_finite() &&
                          (!Algorithm::learns_alpha || slot.alpha.all_finite());
      if (!finite)
        throw numerical_error(
            "Maml::train: non-finite " +
            std::string(!std::isfinite(slot.support_loss)  ? "support loss"
                        : !std::isfinite(slot.query_loss) ? "query loss"
                                                          : "meta-gradient") +
            " (support " + std::to_string(slot.support_loss) + ", query " +
            std::to_string(slot.query_loss) + ") at epoch " + std::to_string(epoch_) + ", step " +
            std::to_string(step_) + ", " +
            detail::task_name(first[static_cast<std::ptrdiff_t>(t)], t) +
            " of the meta-batch; lower inner_lr or the outer learning rate, or check the data");
      slot.meta.add_to(meta_);
      if constexpr (Algorithm::learns_alpha) slot.alpha.add_to(alpha_meta_);
      support_total += static_cast<double>(slot.support_loss);
      query_total += static_cast<double>(slot.query_loss);
    }
    const S inv = S(1) / static_cast<S>(count);
    double norm2 = 0.0;
    Vector<S>& md = meta_.dense_mut();
    for (const Segment& s : meta_.touched()) {
      md.segment(s.offset, s.size) *= inv;
      norm2 += static_cast<double>(md.segment(s.offset, s.size).squaredNorm());
    }
    info.support_loss = support_total / static_cast<double>(count);
    info.query_loss = query_total / static_cast<double>(count);
    info.meta_gradient_norm = std::sqrt(norm2);

    if (Algorithm::interpolates && opt_.reptile_epsilon > 0.0) {
      const S eps = static_cast<S>(opt_.reptile_epsilon);
      for (const Segment& s : meta_.touched())
        theta.segment(s.offset, s.size) -= eps * md.segment(s.offset, s.size);
    } else {
      apply(outer_, theta, meta_);
    }
    if constexpr (Algorithm::learns_alpha) {
      Vector<S>& ad = alpha_meta_.dense_mut();
      for (const Segment& s : alpha_meta_.touched()) ad.segment(s.offset, s.size) *= inv;
      apply(alpha_opt_, VectorRef<S>(alpha_), alpha_meta_);
    }
    return info;
  }

  void apply(Outer& opt, VectorRef<S> x, const SparseGradient<S>& g) {
    if constexpr (SparseOptimizer<Outer, S>) {
      if (opt_.sparse_outer_step) {
        opt.step(x, g);
        return;
      }
    }
    opt.step(x, ConstVectorRef<S>(g.dense()));
  }

  const M* model_;
  MamlOptions opt_;
  Outer outer_;
  Outer alpha_opt_;
  Vector<S> alpha_;
  std::vector<detail::MamlWorkspace<M>> ws_;
  std::vector<TaskResult> slots_;
  SparseGradient<S> meta_;
  SparseGradient<S> alpha_meta_;
  std::uint64_t load_tag_ = 0;
  // Position and early-stopping state (all in the checkpoint).
  std::uint64_t epoch_ = 0;
  std::uint64_t batch_ = 0;
  std::uint64_t step_ = 0;
  bool started_ = false;
  bool finished_ = false;
  EarlyStopping early_;
  Vector<S> best_theta_;
  Vector<S> best_alpha_;
};

}  // namespace metarec
