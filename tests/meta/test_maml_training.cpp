// The MAML outer loop: determinism across thread counts, checkpoint/resume, NaN reporting, early
// stopping, hooks, and the cold-start benefit of meta-learning on planted data.

#include <metarec/data/tasks.hpp>
#include <metarec/meta.hpp>
#include <metarec/models/mlp/melu.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/optim/adam.hpp>

#include "meta/meta_test_support.hpp"
#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_maml_training {

#endif

using namespace metarec;

namespace {

using MF = MatrixFactorization<double>;

/// Planted data: users [0, train_users) are meta-training users, the rest are cold.
struct ColdStart {
  static constexpr std::uint32_t train_users = 160, cold_users = 60, items = 40, per_user = 20;
  static constexpr int dims = 3;
  Dataset ds = test::planted_dataset(train_users + cold_users, items, per_user, dims, 12345);
  std::vector<RowIndex> train_rows = test::rows_of_users(ds, 0, train_users);
  std::vector<RowIndex> cold_rows = test::rows_of_users(ds, train_users, train_users + cold_users);
  TaskOptions task_options{.support = 5, .query = 10, .meta_batch = 16};
  std::vector<Task> cold_tasks = make_tasks(ds, cold_rows, task_options, 99);
  // Validation: held-out tasks from the training users' rows (other support/query draws).
  std::vector<Task> validation = make_tasks(ds, test::rows_of_users(ds, 0, 24), task_options, 5);

  [[nodiscard]] MF model(bool shared = true) const {
    return MF(shared ? train_users : train_users + cold_users, items,
              MF::Options{.dims = dims, .reg = 0.001, .bias_reg = 0.001, .init_std = 0.3,
                          .global_mean = 3.0, .shared_user = shared});
  }
};

Vector<double> initial(const MF& mf, std::uint64_t seed = 1) {
  Vector<double> theta(mf.num_parameters());
  Rng rng(seed);
  mf.initialize(theta, rng);
  return theta;
}

const MamlOptions cold_options{.inner_steps = 3, .inner_lr = 0.3, .adapted = AdaptedSet::local,
                               .epochs = 25, .seed = 7};

template <class Algo = SecondOrderMaml>
double meta_train_and_test(const ColdStart& cs, MamlOptions options, Vector<double>* out = nullptr) {
  const MF mf = cs.model();
  Vector<double> theta = initial(mf);
  TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
  Maml<MF, Algo> maml(mf, options, Adam<double>(AdamOptions{.lr = 0.03}));
  (void)maml.train(theta, cs.ds, sampler);
  if (out) *out = theta;
  return maml.validation_loss(theta, cs.ds, cs.cold_tasks);
}

}  // namespace

TEST_CASE("MAML + K-shot adaptation beats pooled training + the same fine-tuning on cold users",
          "[meta][coldstart]") {
  const ColdStart cs;
  REQUIRE(cs.cold_tasks.size() == ColdStart::cold_users);
  const MF mf = cs.model();

  // Baseline: the same model and parameter count, trained on the pooled training ratings without
  // meta-learning (Adam on minibatches of 16 users' rows), then adapted exactly as MAML adapts.
  Vector<double> base = initial(mf);
  {
    Adam<double> adam(AdamOptions{.lr = 0.03});
    adam.reset(base.size());
    TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
    Vector<double> g(base.size());
    std::vector<RowIndex> rows;
    for (std::uint64_t e = 0; e < cold_options.epochs; ++e) {
      sampler.start_epoch(e);
      for (std::size_t b = 0; b < sampler.num_batches(); ++b) {
        rows.clear();
        for (const TaskView& t : sampler.batch(b)) {
          rows.insert(rows.end(), t.support.begin(), t.support.end());
          rows.insert(rows.end(), t.query.begin(), t.query.end());
        }
        (void)mf.loss_and_gradient(base, RatingBatch{&cs.ds, rows, 0}, g);
        adam.step(base, g);
      }
    }
  }
  // Fine-tuned exactly as MAML adapts (k, α, adapted set); also with smaller α, keeping the
  // baseline's best, so the margin is not an artefact of a step size that suits MAML only.
  double baseline = Maml<MF>(mf, cold_options).validation_loss(base, cs.ds, cs.cold_tasks);
  for (const double lr : {0.01, 0.03, 0.1}) {
    MamlOptions o = cold_options;
    o.inner_lr = lr;
    baseline = std::min(baseline, Maml<MF>(mf, o).validation_loss(base, cs.ds, cs.cold_tasks));
  }
  const double no_adapt =
      Maml<MF>(mf, MamlOptions{.inner_steps = 0}).validation_loss(base, cs.ds, cs.cold_tasks);

  const double maml = meta_train_and_test(cs, cold_options);
  const double fomaml = meta_train_and_test<FirstOrderMaml>(cs, cold_options);
  MamlOptions flipped = cold_options;
  flipped.debug = MamlDebug::flip_hessian_term;
  const double broken = meta_train_and_test(cs, flipped);
  MamlOptions zeroed = cold_options;
  zeroed.debug = MamlDebug::zero_alpha;
  const double zero_alpha = meta_train_and_test(cs, zeroed);
  INFO("cold-user query MSE: pooled, no adaptation " << no_adapt << "; pooled + fine-tuning "
       << baseline << "; second-order MAML " << maml << "; first-order MAML " << fomaml
       << "; MAML with flipped Hessian term " << broken << "; MAML with alpha = 0 backward "
       << zero_alpha);
  WARN("cold-user query MSE: pooled, no adaptation " << no_adapt << "; pooled + fine-tuning "
       << baseline << "; second-order MAML " << maml << "; first-order MAML " << fomaml
       << "; flipped Hessian " << broken << "; alpha = 0 backward " << zero_alpha);
  CHECK(maml < 0.6 * baseline);
  CHECK(fomaml < 0.6 * baseline);
  // The same margin catches a wrong second-order term (zero_alpha is first-order MAML, a valid
  // algorithm, so only the gradient check in test_maml_gradients.cpp catches that one).
  CHECK_FALSE(broken < 0.6 * baseline);
}

TEST_CASE("the same seed gives bitwise identical theta with 1 and 2 threads", "[meta][determinism]") {
#if defined(_OPENMP)
  const ColdStart cs;
  const auto run = [&](int threads, auto algo_tag, AdaptedSet set) {
    using Algo = decltype(algo_tag);
    omp_set_num_threads(threads);
    const MF mf = cs.model(false);
    Vector<double> theta = initial(mf);
    TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
    Maml<MF, Algo> maml(mf, MamlOptions{.inner_steps = 2, .inner_lr = 0.2, .adapted = set,
                                        .epochs = 2, .seed = 11, .min_parallel_work = 0},
                        Adam<double>(AdamOptions{.lr = 0.01}));
    (void)maml.train(theta, cs.ds, sampler);
    return theta;
  };
  const int before = omp_get_max_threads();
  for (const AdaptedSet set : {AdaptedSet::all, AdaptedSet::local}) {
    const Vector<double> a = run(1, SecondOrderMaml{}, set);
    const Vector<double> b = run(2, SecondOrderMaml{}, set);
    const Vector<double> c = run(1, MetaSgd{}, set);
    const Vector<double> d = run(2, MetaSgd{}, set);
    CHECK((a.array() == b.array()).all());
    CHECK((c.array() == d.array()).all());
    CHECK((a.array() != initial(cs.model(false)).array()).any());
  }
  omp_set_num_threads(before);
#else
  WARN("METAREC-SKIP: built without OpenMP; the single-threaded path is trivially deterministic");
#endif
}

TEST_CASE("Melu on its task kernel: bitwise identical theta with 1 and 2 threads",
          "[meta][determinism][melu]") {
#if defined(_OPENMP)
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  MeluModelOptions mo;
  mo.embedding_dim = 3;
  mo.hidden = {5, 4};
  const Melu<double> melu(ds, mo);
  Vector<double> theta0(melu.num_parameters());
  Rng rng(4);
  melu.initialize(theta0, rng);
  const auto run = [&](int threads, auto algo_tag) {
    using Algo = decltype(algo_tag);
    omp_set_num_threads(threads);
    Vector<double> theta = theta0;
    TaskSampler sampler(ds, rows, TaskOptions{.support = 3, .query = 2, .meta_batch = 4}, 3);
    Maml<Melu<double>, Algo> maml(melu, MamlOptions{.inner_steps = 3, .inner_lr = 0.05,
                                                    .adapted = AdaptedSet::local, .epochs = 2,
                                                    .seed = 11, .min_parallel_work = 0},
                                  Adam<double>(AdamOptions{.lr = 0.01}));
    (void)maml.train(theta, ds, sampler);
    return theta;
  };
  const int before = omp_get_max_threads();
  const Vector<double> a = run(1, SecondOrderMaml{}), b = run(2, SecondOrderMaml{});
  const Vector<double> c = run(1, MetaSgd{}), d = run(2, MetaSgd{});
  CHECK((a.array() == b.array()).all());
  CHECK((c.array() == d.array()).all());
  CHECK((a.array() != theta0.array()).any());
  omp_set_num_threads(before);
#else
  WARN("METAREC-SKIP: built without OpenMP; the single-threaded path is trivially deterministic");
#endif
}

TEST_CASE("resuming from a checkpoint gives the same final theta", "[meta][checkpoint]") {
  const ColdStart cs;
  const MF mf = cs.model();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("metarec_maml_ckpt_" + std::to_string(reinterpret_cast<std::uintptr_t>(&cs)));
  std::filesystem::create_directories(dir);
  const auto path = dir / "run.ckpt";
  MamlOptions o{.inner_steps = 2, .inner_lr = 0.3, .adapted = AdaptedSet::local, .epochs = 4,
                .seed = 3, .patience = 2, .checkpoint_path = path, .checkpoint_every = 3};

  // Uninterrupted.
  Vector<double> full = initial(mf);
  Vector<double> full_alpha;
  MamlResult full_result;
  {
    TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
    Maml<MF, MetaSgd> maml(mf, o, Adam<double>(AdamOptions{.lr = 0.02}));
    full_result = maml.train(full, cs.ds, sampler, cs.validation);
    full_alpha = maml.alpha();
  }
  REQUIRE(full_result.steps > 0);
  REQUIRE(std::filesystem::exists(path));
  REQUIRE(!std::filesystem::exists(dir / "run.ckpt.tmp"));

  // Interrupted by a hook that stops training (at the end of epoch 0, or mid-epoch 1), or by a
  // "crash" (an exception at step 14: the latest checkpoint is the periodic one of step 12), then
  // resumed by a new trainer from the checkpoint file.
  struct StopAt {
    std::uint64_t at;
    bool on_step(const MamlStepInfo& info) const { return info.step == at; }
  };
  struct CrashAt {
    std::uint64_t at;
    void on_step(const MamlStepInfo& info) const {
      if (info.step == at) throw std::runtime_error("simulated crash");
    }
  };
  for (const std::uint64_t at : {std::uint64_t{10}, std::uint64_t{13}, std::uint64_t{14}}) {
    const bool crash = at == 14;
    std::filesystem::remove(path);
    Vector<double> part = initial(mf);
    {
      TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
      Maml<MF, MetaSgd> maml(mf, o, Adam<double>(AdamOptions{.lr = 0.02}));
      if (crash) {
        CHECK_THROWS_AS(maml.train(part, cs.ds, sampler, cs.validation, CrashAt{at}),
                        std::runtime_error);
      } else {
        const MamlResult r = maml.train(part, cs.ds, sampler, cs.validation, StopAt{at});
        CHECK(r.stopped_by_callback);
        CHECK(r.steps == at);
      }
    }
    Vector<double> resumed = Vector<double>::Zero(mf.num_parameters());
    TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
    Maml<MF, MetaSgd> maml(mf, o, Adam<double>(AdamOptions{.lr = 0.5}));  // state comes from the file
    maml.load_checkpoint(path, resumed);
    CHECK(maml.step() == (crash ? 12 : at));
    const MamlResult r = maml.train(resumed, cs.ds, sampler, cs.validation);
    CHECK(r.steps == full_result.steps);
    CHECK(r.best_epoch == full_result.best_epoch);
    CHECK((resumed.array() == full.array()).all());
    CHECK((maml.alpha().array() == full_alpha.array()).all());
  }

  SECTION("a checkpoint from another configuration is refused") {
    Maml<MF, MetaSgd> other(mf, MamlOptions{.inner_steps = 3});
    Vector<double> t(mf.num_parameters());
    CHECK_THROWS_AS(other.load_checkpoint(path, t), format_error);
    Maml<MF, SecondOrderMaml> algo(mf, o);
    CHECK_THROWS_AS(algo.load_checkpoint(path, t), format_error);
    CHECK_THROWS_AS(other.load_checkpoint(dir / "missing.ckpt", t), format_error);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a NaN names the epoch, step and task", "[meta][numerics]") {
  const ColdStart cs;
  const MF mf = cs.model(false);
  Vector<double> theta = initial(mf);
  const Vector<double> before = theta;
  TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
  Maml<MF> maml(mf, MamlOptions{.inner_steps = 5, .inner_lr = 1e9, .epochs = 1});
  try {
    (void)maml.train(theta, cs.ds, sampler);
    FAIL("no numerical_error");
  } catch (const numerical_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("epoch 0") != std::string::npos);
    CHECK(what.find("step 0") != std::string::npos);
    CHECK(what.find("task 0 (user ") != std::string::npos);
  }
  CHECK((theta.array() == before.array()).all());  // the failing step was not applied
}

TEST_CASE("validation, early stopping, best-theta restore and hooks", "[meta][validation]") {
  const ColdStart cs;
  const MF mf = cs.model();
  struct Recorder {
    std::vector<MamlEpochInfo> epochs;
    std::uint64_t steps = 0;
    void on_step(const MamlStepInfo& info) {
      ++steps;
      CHECK(std::isfinite(info.query_loss));
      CHECK(info.tasks > 0);
    }
    void on_epoch_end(const MamlEpochInfo& info) { epochs.push_back(info); }
  } recorder;
  Vector<double> theta = initial(mf);
  TaskSampler sampler(cs.ds, cs.train_rows, cs.task_options, 3);
  // A far too large outer step makes validation worse after a few epochs: early stopping kicks in.
  Maml<MF> maml(mf, MamlOptions{.inner_steps = 1, .inner_lr = 0.3, .adapted = AdaptedSet::local,
                                .epochs = 40, .patience = 2},
                Adam<double>(AdamOptions{.lr = 0.3}));
  const MamlResult r = maml.train(theta, cs.ds, sampler, cs.validation, recorder);
  REQUIRE(!recorder.epochs.empty());
  CHECK(recorder.steps == r.steps);
  CHECK(r.early_stopped);
  CHECK(r.epochs < 40);
  CHECK(recorder.epochs.back().bad_epochs == 2);
  double best = recorder.epochs.front().validation_loss;
  std::uint64_t best_epoch = 0;
  for (const auto& e : recorder.epochs)
    if (e.validation_loss < best) best = e.validation_loss, best_epoch = e.epoch;
  CHECK(r.best_validation_loss == best);
  CHECK(r.best_epoch == best_epoch);
  // θ is the best θ: evaluating it reproduces the best validation loss exactly.
  CHECK(maml.validation_loss(theta, cs.ds, cs.validation) == best);
}

TEST_CASE("a brand-new user is adapted from the meta-learned p0 (shared_user MF)", "[meta][adapt]") {
  const ColdStart cs;
  const MF mf = cs.model(true);  // sized for the training users only
  Vector<double> theta;
  MamlOptions o = cold_options;
  o.epochs = 10;
  (void)meta_train_and_test(cs, o, &theta);
  Maml<MF> maml(mf, cold_options);
  double before = 0.0, after = 0.0;
  for (const Task& t : cs.cold_tasks) {
    REQUIRE(t.user >= ColdStart::train_users);  // not a training user
    const RatingBatch support{&cs.ds, t.support, 0}, query{&cs.ds, t.query, 0};
    const Vector<double> user_theta = maml.adapt(theta, support);
    // Only the user's local segments (p0, b0) moved.
    std::vector<Segment> local;
    mf.local_segments(support, local);
    Vector<double> diff = user_theta - theta;
    for (const Segment& s : local) diff.segment(s.offset, s.size).setZero();
    CHECK(diff.norm() == 0.0);
    Vector<double> pred(static_cast<Eigen::Index>(t.query.size()));
    mf.predict(user_theta, query, pred);
    REQUIRE(pred.allFinite());
    before += mf.loss(theta, query);
    after += mf.loss(user_theta, query);
  }
  CHECK(after < 0.7 * before);
}

}  // namespace unity_test_maml_training
