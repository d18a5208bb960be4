// Meta-gradients of the MAML family against central differences and direct formulas.

#include <metarec/meta.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mlp/melu.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/data/tasks.hpp>

#include "meta/meta_test_support.hpp"
#include "models/conformance.hpp"
#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <span>
#include <vector>

using namespace metarec;
using metarec::test::Capabilities;
using metarec::test::check_against_differences;
using metarec::test::TanhRegression;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_maml_gradients {

namespace {

using MF = MatrixFactorization<double>;

template <class Mod>
Vector<double> init_theta(const Mod& model, std::uint64_t seed) {
  Vector<double> t(model.num_parameters());
  Rng rng(seed);
  model.initialize(t, rng);
  for (Eigen::Index k = 0; k < t.size(); ++k) t[k] += 0.05 * rng.normal();
  return t;
}

struct Fixture {
  Dataset ds = test::tiny_dataset();
  std::vector<RowIndex> support, query;
  Fixture() {
    // Two users in the task, so "local" adapts two user rows and "all" touches several items.
    for (const std::uint32_t u : {3u, 5u}) {
      const auto rows = ds.by_user()[u];
      for (std::size_t k = 0; k < rows.size(); ++k)
        (k < 4 ? support : query).push_back(rows[k]);
    }
  }
  [[nodiscard]] RatingBatch sb() const { return {&ds, support, 1}; }
  [[nodiscard]] RatingBatch qb() const { return {&ds, query, 2}; }
};

/// d/dθ L_q(adapt_k(θ)) of `Maml<Mod, Algo>` vs central differences, for k = 1, 2, 5.
template <class Algo = SecondOrderMaml, class Mod>
void check_meta_gradient(const Mod& model, const Fixture& fx, AdaptedSet set, double lr,
                         std::vector<Segment> segs = {}, MamlDebug debug = MamlDebug::none,
                         double* worst_out = nullptr) {
  const Vector<double> theta = init_theta(model, 31);
  double worst = 0.0;
  for (const int k : {1, 2, 5}) {
    Maml<Mod, Algo> maml(model, MamlOptions{.inner_steps = k, .inner_lr = lr, .adapted = set,
                                            .adapted_segments = segs, .debug = debug});
    Vector<double> g(model.num_parameters());
    const double lq = maml.meta_gradient(theta, fx.sb(), fx.qb(), g);
    const auto opts = maml.adapt_options();
    const auto f = [&](const Vector<double>& t) {
      return static_cast<double>(model.loss(adapt(model, t, fx.sb(), opts), fx.qb()));
    };
    CHECK(lq == Approx(f(theta)).epsilon(1e-12));
    const auto r = check_against_differences(f, theta, g);
    INFO("k = " << k << ": worst scaled error " << r.worst << ", largest |derivative| " << r.largest);
    if (debug == MamlDebug::none) {
      CHECK(r.worst <= 1.0);
      CHECK(r.largest > 1e-3);
    }
    worst = std::max(worst, r.worst);
  }
  if (worst_out) *worst_out = worst;
}

const MF::Options mf_options{.dims = 3, .reg = 0.05, .bias_reg = 0.02, .init_std = 0.3,
                             .global_mean = 3.0};

}  // namespace

TEST_CASE("the 2-layer tanh test model passes the conformance suite", "[meta][gradient]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const TanhRegression<double> model(3, 4);
  test::conforms(model, RatingBatch{&ds, rows, 0});
}

TEST_CASE("second-order MAML meta-gradient equals central differences (MF)", "[meta][gradient]") {
  const Fixture fx;
  const MF mf(fx.ds.num_users(), fx.ds.num_items(), mf_options);
  SECTION("all parameters, sparse gradient and sparse HVP") {
    check_meta_gradient(mf, fx, AdaptedSet::all, 0.2);
  }
  SECTION("local segments (user rows)") { check_meta_gradient(mf, fx, AdaptedSet::local, 0.2); }
  SECTION("ANIL: a fixed segment list (item biases)") {
    const Segment item_bias = mf.layout().blocks()[3].segment();
    check_meta_gradient(mf, fx, AdaptedSet::segments, 0.2, {item_bias});
  }
  SECTION("shared_user (cold-start mode): local p0 and all") {
    MF::Options o = mf_options;
    o.shared_user = true;
    const MF shared(fx.ds.num_users(), fx.ds.num_items(), o);
    check_meta_gradient(shared, fx, AdaptedSet::local, 0.2);
    check_meta_gradient(shared, fx, AdaptedSet::all, 0.2);
  }
  SECTION("dense-only model (no sparse gradient): dense code path") {
    const Capabilities<MF, false, true, false> dense(mf);
    check_meta_gradient(dense, fx, AdaptedSet::all, 0.2);
    check_meta_gradient(dense, fx, AdaptedSet::local, 0.2);
  }
  SECTION("sparse gradient with a dense HVP: mixed code path") {
    const Capabilities<MF, true, true, false> mixed(mf);
    check_meta_gradient(mixed, fx, AdaptedSet::all, 0.2);
    check_meta_gradient(mixed, fx, AdaptedSet::local, 0.2);
  }
}

TEST_CASE("second-order MAML meta-gradient equals central differences (dense tanh model)",
          "[meta][gradient]") {
  const Fixture fx;
  const TanhRegression<double> model(3, 4);
  SECTION("all parameters") { check_meta_gradient(model, fx, AdaptedSet::all, 0.05); }
  SECTION("local: the head") { check_meta_gradient(model, fx, AdaptedSet::local, 0.05); }
  SECTION("segments: hidden bias and output weights") {
    check_meta_gradient(model, fx, AdaptedSet::segments, 0.05,
                        {model.hidden_bias(), model.output_weights()});
  }
}

TEST_CASE("a broken backward pass fails the gradient check", "[meta][gradient]") {
  const Fixture fx;
  const MF mf(fx.ds.num_users(), fx.ds.num_items(), mf_options);
  const TanhRegression<double> tanh_model(3, 4);
  for (const MamlDebug debug : {MamlDebug::flip_hessian_term, MamlDebug::zero_alpha}) {
    double worst_mf = 0.0, worst_tanh = 0.0, worst_local = 0.0;
    check_meta_gradient(mf, fx, AdaptedSet::all, 0.2, {}, debug, &worst_mf);
    check_meta_gradient(mf, fx, AdaptedSet::local, 0.2, {}, debug, &worst_local);
    check_meta_gradient(tanh_model, fx, AdaptedSet::all, 0.05, {}, debug, &worst_tanh);
    INFO("debug " << static_cast<int>(debug) << ": worst errors " << worst_mf << ", "
                  << worst_local << ", " << worst_tanh);
    CHECK(worst_mf > 100.0);
    CHECK(worst_local > 100.0);
    CHECK(worst_tanh > 100.0);
  }
}

TEST_CASE("Meta-SGD: gradients w.r.t. theta and alpha equal central differences",
          "[meta][gradient]") {
  const Fixture fx;
  const auto run = [&](const auto& model, AdaptedSet set, double scale) {
    using Mod = std::remove_cvref_t<decltype(model)>;
    const Eigen::Index n = model.num_parameters();
    const Vector<double> theta = init_theta(model, 5);
    Vector<double> alpha(n);
    Rng rng(8);
    for (Eigen::Index k = 0; k < n; ++k) alpha[k] = scale * (0.2 + rng.uniform());
    for (const int k : {1, 2, 5}) {
      Maml<Mod, MetaSgd> maml(model, MamlOptions{.inner_steps = k, .adapted = set});
      maml.set_alpha(alpha);
      Vector<double> g(n), ga(n);
      (void)maml.meta_gradient(theta, fx.sb(), fx.qb(), g, &ga);
      const auto opts = maml.adapt_options();
      const auto f_theta = [&](const Vector<double>& t) {
        return static_cast<double>(model.loss(adapt(model, t, fx.sb(), opts, &alpha), fx.qb()));
      };
      const auto f_alpha = [&](const Vector<double>& a) {
        return static_cast<double>(model.loss(adapt(model, theta, fx.sb(), opts, &a), fx.qb()));
      };
      const auto rt = check_against_differences(f_theta, theta, g);
      const auto ra = check_against_differences(f_alpha, alpha, ga);
      INFO("k = " << k << ": theta worst " << rt.worst << ", alpha worst " << ra.worst
                  << ", largest dL/dalpha " << ra.largest);
      CHECK(rt.worst <= 1.0);
      CHECK(ra.worst <= 1.0);
      CHECK(ra.largest > 1e-3);
      // Only adapted coordinates have a non-zero dL/dα.
      if (set == AdaptedSet::local) {
        std::vector<Segment> local;
        model.local_segments(fx.sb(), local);
        Vector<double> masked = ga;
        for (const Segment& s : local) masked.segment(s.offset, s.size).setZero();
        CHECK(masked.norm() == 0.0);
      }
    }
  };
  const MF mf(fx.ds.num_users(), fx.ds.num_items(), mf_options);
  SECTION("MF, all parameters") { run(mf, AdaptedSet::all, 0.2); }
  SECTION("MF, local") { run(mf, AdaptedSet::local, 0.2); }
  SECTION("tanh, local head") { run(TanhRegression<double>(3, 4), AdaptedSet::local, 0.05); }
  SECTION("tanh, all") { run(TanhRegression<double>(3, 4), AdaptedSet::all, 0.05); }
}

// Melu adapts its decision layers through its task kernel (HasLocalTaskKernel: embedded inputs
// gathered once per task, each step's passes reused by the HVP). The same model behind the
// `Capabilities` wrapper, which hides the kernel, runs the generic path.
TEST_CASE("Melu task kernel: meta-gradients equal central differences and the generic path",
          "[meta][gradient][melu]") {
  using MeluD = Melu<double>;
  using Generic = Capabilities<MeluD, true, true, true>;
  static_assert(HasLocalTaskKernel<MeluD>);
  static_assert(!HasLocalTaskKernel<Generic>);
  const Fixture fx;
  for (const nn::Activation act : {nn::Activation::tanh, nn::Activation::relu}) {
    const MeluD melu(fx.ds, MeluModelOptions{.embedding_dim = 3, .hidden = {5, 4}, .activation = act});
    const Generic generic(melu);
    const Vector<double> theta = init_theta(melu, 31);
    const Eigen::Index n = melu.num_parameters();
    INFO("activation " << nn::to_string(act));
    // ReLU's kinks make central differences unreliable; tanh is smooth.
    if (act == nn::Activation::tanh) check_meta_gradient(melu, fx, AdaptedSet::local, 0.05);
    for (const int k : {1, 2, 5}) {
      INFO("k = " << k);
      const MamlOptions o{.inner_steps = k, .inner_lr = 0.05, .adapted = AdaptedSet::local};
      Vector<double> gk(n), gg(n), ak(n), ag(n);
      Maml<MeluD, SecondOrderMaml> mk(melu, o);
      Maml<Generic, SecondOrderMaml> mg(generic, o);
      const double lk = mk.meta_gradient(theta, fx.sb(), fx.qb(), gk);
      const double lg = mg.meta_gradient(theta, fx.sb(), fx.qb(), gg);
      CHECK(lk == Approx(lg).epsilon(1e-13));
      CHECK(gk.norm() > 1e-3);
      CHECK((gk - gg).norm() <= 1e-12 * gk.norm());
      Maml<MeluD, MetaSgd> sk(melu, o);
      Maml<Generic, MetaSgd> sg(generic, o);
      (void)sk.meta_gradient(theta, fx.sb(), fx.qb(), gk, &ak);
      (void)sg.meta_gradient(theta, fx.sb(), fx.qb(), gg, &ag);
      CHECK(ak.norm() > 1e-4);
      CHECK((gk - gg).norm() <= 1e-12 * gk.norm());
      CHECK((ak - ag).norm() <= 1e-12 * ak.norm());
      Maml<MeluD, FirstOrderMaml> fk(melu, o);
      Maml<Generic, FirstOrderMaml> fg(generic, o);
      (void)fk.meta_gradient(theta, fx.sb(), fx.qb(), gk);
      (void)fg.meta_gradient(theta, fx.sb(), fx.qb(), gg);
      CHECK((gk - gg).norm() <= 1e-12 * gk.norm());
      // The adapted θ of the kernel path equals the generic one.
      const Vector<double> tk = adapt(melu, theta, fx.sb(), mk.adapt_options());
      const Vector<double> tg = adapt(generic, theta, fx.sb(), mk.adapt_options());
      CHECK((tk - theta).norm() > 1e-4);
      CHECK((tk - tg).norm() <= 1e-13 * tk.norm());
    }
  }
  // A broken backward pass on the kernel path fails the check.
  const MeluD melu(fx.ds, MeluModelOptions{.embedding_dim = 3, .hidden = {5, 4},
                                           .activation = nn::Activation::tanh});
  double worst = 0.0;
  check_meta_gradient(melu, fx, AdaptedSet::local, 0.05, {}, MamlDebug::flip_hessian_term, &worst);
  CHECK(worst > 100.0);
}

TEST_CASE("first-order MAML's meta-gradient is the query gradient at the adapted parameters",
          "[meta][gradient]") {
  const Fixture fx;
  const auto run = [&](const auto& model, AdaptedSet set, double lr) {
    using Mod = std::remove_cvref_t<decltype(model)>;
    const Eigen::Index n = model.num_parameters();
    const Vector<double> theta = init_theta(model, 9);
    for (const int k : {1, 3}) {
      // θ_k by hand: dense gradients, projected.
      std::vector<Segment> local;
      model.local_segments(fx.sb(), local);
      Vector<double> t = theta, g(n);
      for (int j = 0; j < k; ++j) {
        (void)model.loss_and_gradient(t, fx.sb(), g);
        if (set == AdaptedSet::all) {
          t -= lr * g;
        } else {
          for (const Segment& s : local) t.segment(s.offset, s.size) -= lr * g.segment(s.offset, s.size);
        }
      }
      Vector<double> expected(n);
      const double lq = model.loss_and_gradient(t, fx.qb(), expected);
      Maml<Mod, FirstOrderMaml> maml(model, MamlOptions{.inner_steps = k, .inner_lr = lr, .adapted = set});
      Vector<double> got(n);
      CHECK(maml.meta_gradient(theta, fx.sb(), fx.qb(), got) == Approx(lq).epsilon(1e-13));
      CHECK((got - expected).cwiseAbs().maxCoeff() <= 1e-12 * (1 + expected.cwiseAbs().maxCoeff()));
      CHECK((adapt(model, theta, fx.sb(), maml.adapt_options()) - t).cwiseAbs().maxCoeff() <= 1e-13);
    }
  };
  const MF mf(fx.ds.num_users(), fx.ds.num_items(), mf_options);
  run(mf, AdaptedSet::all, 0.2);
  run(mf, AdaptedSet::local, 0.2);
  run(TanhRegression<double>(3, 4), AdaptedSet::all, 0.05);
  run(TanhRegression<double>(3, 4), AdaptedSet::local, 0.05);
}

namespace {
/// A task source over a fixed task list: one meta-batch of all tasks per epoch.
struct OneBatch {
  std::vector<Task> tasks;
  void start_epoch(std::uint64_t) {}
  [[nodiscard]] std::size_t num_batches() const { return 1; }
  [[nodiscard]] std::span<const Task> batch(std::size_t) const { return tasks; }
};
}  // namespace

TEST_CASE("Reptile's update equals its formula", "[meta][gradient]") {
  const Dataset ds = test::tiny_dataset();
  const MF mf(ds.num_users(), ds.num_items(), mf_options);
  OneBatch source;
  for (const std::uint32_t u : {1u, 3u, 6u}) {
    const auto rows = ds.by_user()[u];
    source.tasks.push_back(Task{u, {rows.begin(), rows.begin() + 4}, {rows.begin() + 4, rows.end()}});
  }
  const Vector<double> theta0 = init_theta(mf, 4);
  const int k = 3;
  const double lr = 0.1;
  Vector<double> mean_diff = Vector<double>::Zero(mf.num_parameters());
  for (const Task& t : source.tasks) {
    const Vector<double> tk =
        adapt(mf, theta0, RatingBatch{&ds, t.support, 0}, AdaptOptions{.steps = k, .lr = lr});
    mean_diff += (theta0 - tk) / 3.0;
  }
  REQUIRE(mean_diff.norm() > 1e-2);
  SECTION("epsilon interpolation: theta <- theta - eps * mean(theta - theta_k)") {
    Maml<MF, Reptile> maml(mf, MamlOptions{.inner_steps = k, .inner_lr = lr, .epochs = 1,
                                           .reptile_epsilon = 0.5});
    Vector<double> theta = theta0;
    (void)maml.train(theta, ds, source);
    CHECK((theta - (theta0 - 0.5 * mean_diff)).cwiseAbs().maxCoeff() <= 1e-13);
  }
  SECTION("outer optimiser (SGD): theta <- theta - lr * mean(theta - theta_k)") {
    Maml<MF, Reptile, Sgd<double>> maml(mf, MamlOptions{.inner_steps = k, .inner_lr = lr, .epochs = 1},
                                        Sgd<double>(SgdOptions{.lr = 0.25}));
    Vector<double> theta = theta0;
    (void)maml.train(theta, ds, source);
    CHECK((theta - (theta0 - 0.25 * mean_diff)).cwiseAbs().maxCoeff() <= 1e-13);
  }
  SECTION("meta_gradient returns theta - theta_k") {
    Maml<MF, Reptile> maml(mf, MamlOptions{.inner_steps = k, .inner_lr = lr});
    const Task& t = source.tasks[1];
    Vector<double> d(mf.num_parameters());
    (void)maml.meta_gradient(theta0, RatingBatch{&ds, t.support, 0}, RatingBatch{&ds, t.query, 0}, d);
    const Vector<double> tk =
        adapt(mf, theta0, RatingBatch{&ds, t.support, 0}, AdaptOptions{.steps = k, .lr = lr});
    CHECK((d - (theta0 - tk)).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("second-order MAML in float agrees with double", "[meta][gradient]") {
  const Fixture fx;
  const MatrixFactorization<float> mff(fx.ds.num_users(), fx.ds.num_items(), mf_options);
  const MF mfd(fx.ds.num_users(), fx.ds.num_items(), mf_options);
  const Vector<double> td = init_theta(mfd, 2);
  const Vector<float> tf = td.cast<float>();
  Maml<MatrixFactorization<float>> mf_f(mff, MamlOptions{.inner_steps = 2, .inner_lr = 0.2});
  Maml<MF> mf_d(mfd, MamlOptions{.inner_steps = 2, .inner_lr = 0.2});
  Vector<float> gf(tf.size());
  Vector<double> gd(td.size());
  (void)mf_f.meta_gradient(tf, RatingBatch{&fx.ds, fx.support, 0}, RatingBatch{&fx.ds, fx.query, 0}, gf);
  (void)mf_d.meta_gradient(td, fx.sb(), fx.qb(), gd);
  CHECK((gf.cast<double>() - gd).norm() <= 1e-4 * gd.norm());
}

TEST_CASE("bad options throw at the boundary", "[meta]") {
  const Fixture fx;
  const MF mf(fx.ds.num_users(), fx.ds.num_items(), mf_options);
  CHECK_THROWS_AS((Maml<MF>(mf, MamlOptions{.inner_steps = -1})), std::invalid_argument);
  CHECK_THROWS_AS((Maml<MF>(mf, MamlOptions{.adapted = AdaptedSet::segments})), std::invalid_argument);
  CHECK_THROWS_AS((Maml<MF>(mf, MamlOptions{.adapted = AdaptedSet::segments,
                                            .adapted_segments = {{0, 4}, {2, 4}}})),
                  std::invalid_argument);
  CHECK_THROWS_AS((Maml<MF>(mf, MamlOptions{.adapted = AdaptedSet::segments,
                                            .adapted_segments = {{0, mf.num_parameters() + 1}}})),
                  std::invalid_argument);
  CHECK_THROWS_AS((Maml<MF>(mf, MamlOptions{.reptile_epsilon = 0.1})), std::invalid_argument);
  Maml<MF> maml(mf);
  Vector<double> wrong(mf.num_parameters() + 1), g(mf.num_parameters());
  CHECK_THROWS_AS(maml.meta_gradient(wrong, fx.sb(), fx.qb(), g), std::invalid_argument);
  CHECK_THROWS_AS((void)adapt(mf, wrong, fx.sb(), AdaptOptions{}), std::invalid_argument);
}

}  // namespace unity_test_maml_gradients
