#pragma once
/// @file meta_model.hpp
/// @brief `MetaModel`: one model of the registry seen by the cold-start tools, whatever its type
/// and batch — global (non-meta) training, meta-training with any algorithm, adaptation to tasks
/// and to a new user. `MetaModelOf<M>` implements it for any `Model` M once, so a registry entry
/// gives meta-train, adapt and bench_cold_start a model with one `build` function.

#include <metarec/core/concepts.hpp>
#include <metarec/core/parameters.hpp>
#include <metarec/core/rng.hpp>
#include <metarec/data/batch.hpp>
#include <metarec/data/batch_source.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/row_batch.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta/adapt.hpp>
#include <metarec/meta/maml.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/models/mf/shared_user.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/registry/settings.hpp>
#include <metarec/report/task_scores.hpp>
#include <metarec/train/trainer.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace metarec::registry {

/// What `MetaConfig::on_epoch` receives after each meta-training epoch (and its validation).
struct MetaEpoch {
  std::uint64_t epoch = 0;       ///< the epoch just completed (0-based)
  std::uint64_t steps = 0;       ///< outer steps so far
  double query_loss = 0;         ///< mean adapted query loss of the epoch's meta-batches
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  ///< NaN without validation
  double best_validation_loss = std::numeric_limits<double>::quiet_NaN();
  bool improved = false;         ///< this epoch's θ is the best so far (it is the one kept)
  double seconds = 0;            ///< since meta-training began
};

/// The meta-learning settings of a run, read once from resolved `Settings` (see `meta_options`).
struct MetaConfig {
  std::string algo = "maml";      ///< maml | fomaml | reptile | metasgd
  int inner_steps = 5;
  double inner_lr = 0.5;
  double outer_lr = 0.01;
  std::uint32_t meta_batch = 32;
  int epochs = 10;
  std::string adapt = "local";    ///< local (the model's task-local segments) | all
  int pretrain_epochs = 0;        ///< > 0: start meta-training from the global model
  int patience = 0;               ///< early stopping on validation tasks (0: off)
  double valid_users = 0;         ///< fraction of the meta-training users held out as validation tasks
  std::uint64_t seed = 42;
  /// Called after every epoch (a progress line, a log); it observes only: results are the same
  /// with or without it.
  std::function<void(const MetaEpoch&)> on_epoch;

  static MetaConfig from(const Settings& s, std::uint64_t seed) {
    MetaConfig c;
    c.algo = s.text("algo");
    c.inner_steps = s.integer32("inner-steps");
    c.inner_lr = s.number("inner-lr");
    c.outer_lr = s.number("outer-lr");
    c.meta_batch = static_cast<std::uint32_t>(s.integer("meta-batch"));
    c.epochs = s.integer32("epochs");
    c.adapt = s.text("adapt");
    c.pretrain_epochs = s.integer32("pretrain-epochs");
    c.patience = s.integer32("patience");
    c.valid_users = s.has("valid-users") ? s.number("valid-users") : 0.0;
    c.seed = seed;
    return c;
  }
  [[nodiscard]] AdaptOptions adapt_options() const {
    return AdaptOptions{.steps = inner_steps, .lr = inner_lr,
                        .adapted = adapt == "all" ? AdaptedSet::all : AdaptedSet::local};
  }
};

/// How the global (non-meta) model is fitted on pooled ratings: the optimiser, its step, the
/// batch size (rating rows, or whole rows for whole-row models).
struct GlobalFit {
  std::string optimizer = "sgd";
  double lr = 0.01;
  std::size_t batch = 1;
};

/// The result of meta-training.
struct MetaRun {
  double seconds = 0;           ///< meta-training (outer loop) seconds
  double pretrain_seconds = 0;  ///< global pre-training seconds (pretrain_epochs > 0)
  Vector<float> alpha;          ///< Meta-SGD's learned α (empty otherwise)
  MamlResult result;
};

/// One model of the registry for the cold-start tools (see the file comment). θ is the caller's.
class MetaModel {
 public:
  virtual ~MetaModel() = default;
  [[nodiscard]] virtual Eigen::Index num_parameters() const = 0;
  /// θ from the model's initialisation with the stream derive_seed(seed, INIT).
  [[nodiscard]] virtual Vector<float> initial(std::uint64_t seed) const = 0;
  /// Fits θ (from `initial(seed)`) on the pooled `rows` for `epochs` epochs; returns the seconds.
  virtual double fit_global(Vector<float>& theta, std::span<const RowIndex> rows, int epochs,
                            const GlobalFit& how, std::uint64_t seed) const = 0;
  /// The per-user start (`--start per-user`): fits the same model with a vector per user on
  /// `rows` (per-rating SGD at 0.005, `epochs` epochs, factors drawn with the stream
  /// derive_seed(seed, "FOLD"), rows shuffled with `seed`: bench_mf's ML-1M recipe and
  /// bench_cold_start's), then folds the user columns into their mean (`shared_user_theta`).
  /// Returns the seconds. Only MF with a shared user has it (mf-bias, mf-side). `per_user`, when
  /// given, receives the fitted model before the fold (layout: a column per user), for callers
  /// that need the users' own vectors (bench_cold_start's transductive mode and its existing
  /// users' own start, `predict_tasks_own_users`).
  /// @throws std::invalid_argument for the other models.
  virtual double fit_per_user(Vector<float>& theta, std::span<const RowIndex> rows, int epochs,
                              std::uint64_t seed, Vector<float>* per_user = nullptr) const {
    (void)theta, (void)rows, (void)epochs, (void)seed, (void)per_user;
    throw std::invalid_argument("a per-user start is for MF with a shared user vector (mf-bias, mf-side) only");
  }
  /// Sets every parameter no rating of `rows` touches (new items' factors, unseen categories) to
  /// its neutral value: its value is an untrained draw. Neutral is 0, except for a model with
  /// `reset_untrained` (the autoencoders: a new column's output bias gives the default rating).
  /// Returns how many parameters changed.
  virtual std::size_t zero_untrained(Vector<float>& theta, std::span<const RowIndex> rows) const = 0;
  /// Meta-trains θ in place with `c.algo` on `tasks` (early stopping on `validation` when not
  /// empty and `c.patience` > 0).
  virtual MetaRun meta_train(Vector<float>& theta, const MetaConfig& c, std::span<const Task> tasks,
                             std::span<const Task> validation = {}) const = 0;
  /// Adapts θ to each task's support set and predicts its query (report/task_scores.hpp).
  [[nodiscard]] virtual report::TaskPredictions predict_tasks(const Vector<float>& theta,
                                                              const Vector<float>* alpha,
                                                              std::span<const Task> tasks,
                                                              const AdaptOptions& ao) const = 0;
  /// Milliseconds per task (wall, and CPU of the calling thread) of `n` tasks of meta-training
  /// with `algo` (5 inner steps on the local set, 32 tasks a meta-batch) on `threads` threads.
  [[nodiscard]] virtual std::pair<double, double> ms_per_task(const std::string& algo,
                                                              std::span<const Task> tasks,
                                                              std::size_t n) const = 0;
  /// A new user: adapts θ to their `support` rows of `user_data` (a data set with the same items
  /// and side-feature schema as the model's, whose user 0 is the new user) and predicts the
  /// `candidates` rows; one score per candidate. With `ao.steps == 0` or no support, θ as it is.
  [[nodiscard]] virtual Vector<float> score_new_user(const Vector<float>& theta, const Vector<float>* alpha,
                                                     const AdaptOptions& ao, const Dataset& user_data,
                                                     std::span<const RowIndex> support,
                                                     std::span<const RowIndex> candidates) const = 0;
  /// The data set the model was built for.
  [[nodiscard]] virtual const Dataset& data() const = 0;
  /// θ's named blocks, for models built on a ParameterLayout (nullptr for the others).
  [[nodiscard]] virtual const ParameterLayout* layout() const { return nullptr; }
};

/// The one table from an algorithm's name (maml, fomaml, reptile, metasgd) to its policy: calls
/// `f(std::type_identity<Policy>{})` and returns what it returns.
/// @throws std::invalid_argument on an unknown name, listing the known ones.
template <class F>
decltype(auto) with_algorithm(const std::string& name, F&& f) {
  if (name == "maml") return f(std::type_identity<SecondOrderMaml>{});
  if (name == "fomaml") return f(std::type_identity<FirstOrderMaml>{});
  if (name == "reptile") return f(std::type_identity<Reptile>{});
  if (name == "metasgd") return f(std::type_identity<MetaSgd>{});
  throw std::invalid_argument("unknown --algo '" + name + "' (known: maml, fomaml, reptile, metasgd)");
}

/// The algorithm names `with_algorithm` knows.
inline const std::vector<std::string>& meta_algo_names() {
  static const std::vector<std::string> n{"maml", "fomaml", "reptile", "metasgd"};
  return n;
}

namespace detail {
inline constexpr std::uint64_t tag_meta_init = 0x494E4954u;  // "INIT"
inline constexpr std::uint64_t tag_per_user_init = 0x464F4C44u;  // "FOLD"
}

/// `MetaModel` for a model type M (rating rows or whole rows).
template <Model M>
class MetaModelOf final : public MetaModel {
 public:
  MetaModelOf(M model, const Dataset& data, RowSide side = RowSide::user)
      : model_(std::move(model)), data_(&data), side_(side) {}

  [[nodiscard]] const M& model() const noexcept { return model_; }
  [[nodiscard]] Eigen::Index num_parameters() const override { return model_.num_parameters(); }
  [[nodiscard]] const Dataset& data() const override { return *data_; }
  [[nodiscard]] const ParameterLayout* layout() const override {
    if constexpr (requires(const M& m) { { m.layout() } -> std::same_as<const ParameterLayout&>; })
      return &model_.layout();
    else
      return nullptr;
  }

  [[nodiscard]] Vector<float> initial(std::uint64_t seed) const override {
    Vector<float> theta(model_.num_parameters());
    Rng rng(derive_seed(seed, detail::tag_meta_init));
    model_.initialize(theta, rng);
    return theta;
  }

  double fit_per_user(Vector<float>& theta, std::span<const RowIndex> rows, int epochs,
                      std::uint64_t seed, Vector<float>* per_user = nullptr) const override {
    if constexpr (std::same_as<M, MatrixFactorization<float>> || std::same_as<M, SideFeatureMF<float>>) {
      if (!model_.options().shared_user) return MetaModel::fit_per_user(theta, rows, epochs, seed, per_user);
      // The same model with a column per user: its options with shared_user off.
      auto o = model_.options();
      o.shared_user = false;
      const M per = [&] {
        if constexpr (std::same_as<M, MatrixFactorization<float>>)
          return M(data_->num_users(), data_->num_items(), o);
        else
          return M(*data_, o);
      }();
      Vector<float> trained(per.num_parameters());
      Rng rng(derive_seed(seed, detail::tag_per_user_init));
      per.initialize(trained, rng);
      Sgd<float> opt{SgdOptions{.lr = 0.005}};
      const double sec =
          fit(per, trained, opt, *data_, rows, TrainOptions{.epochs = epochs, .batch_size = 1, .seed = seed}).seconds;
      theta = shared_user_theta<float>(model_.layout(), data_->num_users(), trained);
      if (per_user) *per_user = std::move(trained);
      return sec;
    } else {
      return MetaModel::fit_per_user(theta, rows, epochs, seed, per_user);
    }
  }

  double fit_global(Vector<float>& theta, std::span<const RowIndex> rows, int epochs,
                    const GlobalFit& how, std::uint64_t seed) const override {
    theta = initial(seed);
    auto go = [&](auto& opt) {
      if constexpr (std::same_as<typename M::Batch, RatingBatch>) {
        return fit(model_, theta, opt, *data_, rows,
                   TrainOptions{.epochs = epochs, .batch_size = how.batch, .seed = seed});
      } else {
        const WholeRows whole(*data_, rows, side_);
        RowBatches source(whole, how.batch, seed);
        return fit(model_, theta, opt, source, TrainOptions{.epochs = epochs});
      }
    };
    TrainResult r;
    if (how.optimizer == "adam") {
      Adam<float> opt{AdamOptions{.lr = how.lr}};
      r = go(opt);
    } else {
      Sgd<float> opt{SgdOptions{.lr = how.lr}};
      r = go(opt);
    }
    return r.seconds;
  }

  std::size_t zero_untrained(Vector<float>& theta, std::span<const RowIndex> rows) const override {
    if constexpr (requires(const M& m, VectorRef<float> t, const typename M::Batch& b) {
                    { m.reset_untrained(t, b) } -> std::convertible_to<std::size_t>;
                  }) {
      const WholeRows whole(*data_, rows, side_);
      return model_.reset_untrained(theta, whole.batch());
    } else if constexpr (!HasSparseGradient<M>) {
      (void)theta, (void)rows;
      return 0;
    } else {
      const Eigen::Index n = model_.num_parameters();
      std::vector<char> seen(static_cast<std::size_t>(n), 0);
      SparseGradient<float> g(n);
      auto mark = [&](const typename M::Batch& b) {
        g.clear();
        (void)model_.loss_and_gradient(theta, b, g);
        for (const Segment& s : g.touched())
          std::fill(seen.begin() + s.offset, seen.begin() + s.offset + s.size, char{1});
      };
      if constexpr (std::same_as<typename M::Batch, RatingBatch>) {
        constexpr std::size_t chunk = 4096;
        for (std::size_t a = 0; a < rows.size(); a += chunk)
          mark(RatingBatch{data_, rows.subspan(a, std::min(chunk, rows.size() - a)), 0});
      } else {
        const WholeRows whole(*data_, rows, side_);
        mark(whole.batch());
      }
      std::size_t reset = 0;
      for (Eigen::Index k = 0; k < n; ++k)
        if (!seen[static_cast<std::size_t>(k)] && theta[k] != 0.0f) theta[k] = 0.0f, ++reset;
      return reset;
    }
  }

  MetaRun meta_train(Vector<float>& theta, const MetaConfig& c, std::span<const Task> tasks,
                     std::span<const Task> validation) const override {
    return with_algorithm(c.algo, [&]<class A>(std::type_identity<A>) {
      if constexpr (A::needs_exact_gradient && !has_exact_gradient<M>) {
        throw std::invalid_argument("--algo " + c.algo + " differentiates through the inner loop, "
                                    "which this model's CD update does not allow; use fomaml or reptile");
        return MetaRun{};
      } else if constexpr (A::needs_hvp && !HasHessianVectorProduct<M>) {
        throw std::invalid_argument("--algo " + c.algo + " needs an exact Hessian-vector product, "
                                    "which this model does not have; use fomaml or reptile");
        return MetaRun{};
      } else {
        MamlOptions o;
        o.inner_steps = c.inner_steps;
        o.inner_lr = c.inner_lr;
        o.adapted = c.adapt == "all" ? AdaptedSet::all : AdaptedSet::local;
        o.epochs = static_cast<std::uint64_t>(c.epochs);
        o.seed = c.seed;
        o.patience = c.patience;
        Maml<M, A> maml(model_, o, Adam<float>(AdamOptions{.lr = c.outer_lr}));
        TaskSampler sampler(tasks, c.meta_batch, c.seed);
        MetaRun run;
        const auto t0 = std::chrono::steady_clock::now();
        struct Observer {
          const MetaConfig& c;
          std::chrono::steady_clock::time_point t0;
          double sum = 0;
          std::size_t n = 0;
          bool on_step(const MamlStepInfo& i) {
            sum += i.query_loss, ++n;
            return false;
          }
          bool on_epoch_end(const MamlEpochInfo& i) {
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            c.on_epoch(MetaEpoch{i.epoch, i.step, n ? sum / static_cast<double>(n) : 0.0, i.validation_loss,
                                 i.best_validation_loss, i.improved, secs});
            sum = 0, n = 0;
            return false;
          }
        };
        if (c.on_epoch)
          run.result = maml.train(theta, *data_, sampler, validation, Observer{c, t0});
        else
          run.result = maml.train(theta, *data_, sampler, validation);
        run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if constexpr (A::learns_alpha) run.alpha = maml.alpha();
        return run;
      }
    });
  }

  [[nodiscard]] report::TaskPredictions predict_tasks(const Vector<float>& theta,
                                                      const Vector<float>* alpha,
                                                      std::span<const Task> tasks,
                                                      const AdaptOptions& ao) const override {
    return report::predict_tasks(model_, theta, *data_, tasks, ao, alpha);
  }

  [[nodiscard]] Vector<float> score_new_user(const Vector<float>& theta, const Vector<float>* alpha,
                                             const AdaptOptions& ao, const Dataset& user_data,
                                             std::span<const RowIndex> support,
                                             std::span<const RowIndex> candidates) const override {
    const bool adapt_it = ao.steps > 0 && !support.empty();
    Vector<float> out(static_cast<Eigen::Index>(candidates.size()));
    if constexpr (std::same_as<typename M::Batch, RatingBatch>) {
      const Vector<float> t =
          adapt_it ? metarec::adapt(model_, theta, RatingBatch{&user_data, support, 0}, ao, alpha) : theta;
      model_.predict(t, RatingBatch{&user_data, candidates, 0}, out);
    } else {
      const RowExample s{0, support, support}, q{0, support, candidates};
      const Vector<float> t =
          adapt_it ? metarec::adapt(model_, theta, RowBatch{&user_data, {&s, 1}, 0, side_}, ao, alpha) : theta;
      model_.predict(t, RowBatch{&user_data, {&q, 1}, 0, side_}, out);
    }
    return out;
  }

  [[nodiscard]] std::pair<double, double> ms_per_task(const std::string& algo, std::span<const Task> tasks,
                                                      std::size_t n) const override {
    const std::span<const Task> subset = tasks.first(std::min(n, tasks.size()));
    MetaConfig c;
    c.algo = algo;
    c.inner_steps = 5;
    c.inner_lr = 0.05;
    c.outer_lr = 1e-3;
    c.epochs = 1;
    c.seed = 3;
    Vector<float> theta = initial(1);
    (void)meta_train(theta, c, subset.first(std::min<std::size_t>(64, subset.size())), {});  // warm-up
    const double c0 = thread_cpu();
    const auto t0 = std::chrono::steady_clock::now();
    (void)meta_train(theta, c, subset, {});
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = thread_cpu() - c0;
    const double k = static_cast<double>(std::max<std::size_t>(1, subset.size()));
    return {1000.0 * s / k, 1000.0 * cpu / k};
  }

 private:
  static double thread_cpu() {
#ifdef CLOCK_THREAD_CPUTIME_ID
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
#else
    return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
#endif
  }

  M model_;
  const Dataset* data_;
  RowSide side_;
};

/// Existing users adapted from their OWN trained vectors: for each task, the user-indexed blocks
/// of `shared` (θ of `m`, a shared-user MF) are set to the task user's columns of `per_user` (the
/// per-user form, e.g. from `fit_per_user`; `set_own_user`), then `m` adapts to the support set
/// with `ao` and predicts the query. For a user the per-user model was trained on (MeLU's
/// item-cold scenario: known users rating new items) this keeps what their training ratings
/// taught it, which the mean user forgets. One copy of θ is made; each task rewrites only its user
/// blocks (O(dims)) and is then predicted alone, so tasks run one after another (predict_tasks'
/// threads see one task at a time) and the result does not depend on the thread count.
/// `trained_users`, when not empty (one flag per user of the data set), says which users the
/// per-user model was trained on; a task of any other user (a new user, or one whose ratings were
/// held out) starts from the mean user of `shared` as `m.predict_tasks` would, since its column of
/// `per_user` is an untrained draw.
/// @throws std::invalid_argument when `m` has no parameter layout, `per_user` is not the per-user
///         form of its layout or `trained_users` has the wrong length; whatever `m.predict_tasks` throws.
inline report::TaskPredictions predict_tasks_own_users(const MetaModel& m, const Vector<float>& shared,
                                                       const Vector<float>& per_user, std::span<const Task> tasks,
                                                       const AdaptOptions& ao,
                                                       std::span<const char> trained_users = {}) {
  const ParameterLayout* lay = m.layout();
  if (!lay) throw std::invalid_argument("predict_tasks_own_users: the model has no parameter layout");
  const auto users = static_cast<Eigen::Index>(m.data().num_users());
  if (!trained_users.empty() && static_cast<Eigen::Index>(trained_users.size()) != users)
    throw std::invalid_argument("predict_tasks_own_users: trained_users has " + std::to_string(trained_users.size()) +
                                " flags; the data set has " + std::to_string(users) + " users");
  Vector<float> theta = shared;
  report::TaskPredictions out;
  out.offset.push_back(0);
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    const bool own = trained_users.empty() || trained_users[tasks[t].user] != 0;
    if (own) set_own_user<float>(*lay, users, per_user, static_cast<Eigen::Index>(tasks[t].user), theta);
    const report::TaskPredictions one = m.predict_tasks(own ? theta : shared, nullptr, tasks.subspan(t, 1), ao);
    out.rows.insert(out.rows.end(), one.rows.begin(), one.rows.end());
    out.score.insert(out.score.end(), one.score.begin(), one.score.end());
    out.offset.push_back(out.rows.size());
  }
  return out;
}

}  // namespace metarec::registry
