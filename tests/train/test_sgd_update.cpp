// The fused per-rating SGD path (`HasSgdUpdate`, `MatrixFactorization::sgd_update`, `fit` with
// plain `Sgd` and batch size 1) computes the same θ as the generic sparse-gradient path.
// Speed is measured in benchmarks/bench_mf, not here.

#include <metarec/train/fused_sgd.hpp>
#include <metarec/data/synthetic.hpp>
#include <metarec/models/mf/factorization_machine.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/mixture_mf.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/models/mf/variational_mf.hpp>
#include <metarec/optim.hpp>
#include <metarec/train.hpp>

#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_sgd_update {

static_assert(HasSgdUpdate<MatrixFactorization<float>> && HasSgdUpdate<MatrixFactorization<double>>);
static_assert(HasSgdPrefetch<MatrixFactorization<float>>);
static_assert(HasSgdUpdate<FactorizationMachine<float>> && HasSgdUpdate<SideFeatureMF<double>>);
static_assert(HasSgdUpdateRows<MatrixFactorization<float>> && HasSgdUpdateRows<FactorizationMachine<double>> &&
              HasSgdUpdateRows<SideFeatureMF<float>> && HasSgdUpdateRows<MixtureMF<float>>);
static_assert(!HasSgdUpdate<int>);
// Variational MF draws its noise from the batch seed: the seeded form only (the unseeded one would
// let fit use noise the generic path does not draw).
static_assert(HasSeededSgdUpdateRows<VariationalMF<float>> && HasSeededSgdUpdateRows<VariationalMF<double>>);
static_assert(!HasSgdUpdate<VariationalMF<float>> && !HasSeededSgdUpdate<MatrixFactorization<float>>);

namespace {

// Without FMA contraction both paths run the same float operations in the same order, so θ is
// bitwise identical; a build with FMA may contract one path and not the other (rounding only).
#if defined(__FMA__) || defined(__FP_FAST_FMA) || defined(__FP_FAST_FMAF)
constexpr bool expect_bitwise = false;
#else
constexpr bool expect_bitwise = true;
#endif

template <class S>
bool same_vectors(const Vector<S>& a, const Vector<S>& b) {
  if (a.size() != b.size()) return false;
  if (expect_bitwise) return std::memcmp(a.data(), b.data(), sizeof(S) * static_cast<std::size_t>(a.size())) == 0;
  const S tol = std::numeric_limits<S>::epsilon() * S(64);
  return ((a - b).cwiseAbs().array() <= tol * (S(1) + b.cwiseAbs().array())).all();
}

Dataset synthetic_dataset() {
  SyntheticData syn = make_synthetic({.users = 60, .items = 40, .min_ratings_per_user = 10, .max_ratings_per_user = 30, .seed = 11});
  return std::move(syn.dataset);
}

std::vector<RowIndex> rows_of(const Dataset& ds) {
  std::vector<RowIndex> rows(ds.num_ratings());
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<RowIndex>(r);
  return rows;
}

template <class S>
MatrixFactorization<S> make_mf(const Dataset& ds, int dims, bool biases, bool shared_user = false) {
  return MatrixFactorization<S>(ds.num_users(), ds.num_items(),
                                {.dims = dims, .biases = biases, .reg = 0.03, .bias_reg = 0.02,
                                 .init_std = 0.1, .global_mean = ds.mean_rating(),
                                 .shared_user = shared_user});
}

template <class S>
Vector<S> init(const MatrixFactorization<S>& m, std::uint64_t seed = 1) {
  Vector<S> theta(m.num_parameters());
  Rng rng(seed);
  m.initialize(theta, rng);
  return theta;
}

struct PathRecorder {
  bool fused = false, sparse = false;
  std::vector<double> losses;
  void on_train_begin(const TrainBegin& b) { fused = b.fused, sparse = b.sparse; }
  void on_batch_end(const BatchInfo& b) { losses.push_back(b.loss); }
};

// Steps `generic` with loss_and_gradient + Sgd::step and `fused` with `fused_step(θ, row, lr,
// seed)` over every rating of `ds` in order, one rating per batch (seed `seed_of(r)`), and
// requires the same loss and θ after each rating; then that θ moved (the check would pass
// trivially if the fused step did nothing). Returns θ before the first step.
template <class S, class M, class Seed, class FusedStep>
Vector<S> require_per_rating_paths_agree(const M& model, const Dataset& ds, Vector<S>& generic,
                                         Vector<S>& fused, double lr, Seed&& seed_of,
                                         FusedStep&& fused_step) {
  const Vector<S> start = generic;
  SparseGradient<S> g(model.num_parameters());
  Sgd<S> opt{SgdOptions{.lr = lr}};
  opt.reset(model.num_parameters());
  for (std::size_t r = 0; r < ds.num_ratings(); ++r) {
    const RowIndex row = static_cast<RowIndex>(r);
    const std::uint64_t seed = seed_of(r);
    const RatingBatch batch{&ds, std::span<const RowIndex>(&row, 1), seed};
    g.clear();
    const S generic_loss = model.loss_and_gradient(generic, batch, g);
    opt.step(generic, g);
    const S fused_loss = fused_step(fused, row, static_cast<S>(opt.lr()), seed);
    CAPTURE(r);
    REQUIRE(fused_loss == generic_loss);
    REQUIRE(same_vectors(fused, generic));
  }
  REQUIRE((fused - start).cwiseAbs().maxCoeff() > S(1e-3));
  return start;
}

}  // namespace

TEMPLATE_TEST_CASE("sgd_update: one rating equals loss_and_gradient + Sgd::step", "[train][sgd_update]",
                   float, double) {
  using S = TestType;
  const Dataset ds = test::tiny_dataset();
  for (const bool biases : {true, false}) {
    for (const int dims : {1, 5, 16, 37}) {
      const auto mf = make_mf<S>(ds, dims, biases);
      Vector<S> generic = init(mf, 3);
      Vector<S> fused = generic;
      CAPTURE(biases, dims);
      (void)require_per_rating_paths_agree(
          mf, ds, generic, fused, 0.05, [](std::size_t) { return std::uint64_t{0}; },
          [&](Vector<S>& theta, RowIndex row, S lr, std::uint64_t) {
            // The fused loss is also the plain loss at θ before the step.
            const RatingBatch batch{&ds, std::span<const RowIndex>(&row, 1), 0};
            const S expected_loss = mf.loss(theta, batch);
            const S loss = mf.sgd_update(theta, ds, row, lr);
            REQUIRE(loss == Approx(expected_loss).epsilon(1e-6));
            return loss;
          });
    }
  }
}

TEMPLATE_TEST_CASE("fit: one epoch through sgd_update equals one epoch through the generic path",
                   "[train][sgd_update]", float, double) {
  using S = TestType;
  const Dataset ds = synthetic_dataset();
  const auto rows = rows_of(ds);
  REQUIRE(rows.size() > 500);
  struct Case {
    int dims;
    bool biases, shared;
  };
  for (const Case c : {Case{64, true, false}, Case{64, false, false}, Case{13, true, false},
                       Case{8, true, true}}) {
    CAPTURE(c.dims, c.biases, c.shared);
    const auto mf = make_mf<S>(ds, c.dims, c.biases, c.shared);
    const Vector<S> start = init(mf, 5);
    Vector<S> a = start, b = start;
    Sgd<S> opt_a{SgdOptions{.lr = 0.01}}, opt_b{SgdOptions{.lr = 0.01}};
    PathRecorder ra, rb;
    const TrainOptions fused_opt{.epochs = 1, .batch_size = 1, .seed = 9};
    TrainOptions generic_opt = fused_opt;
    generic_opt.fused = false;
    const TrainResult res_a = fit(mf, a, opt_a, ds, rows, fused_opt, NoValidation{}, ra);
    const TrainResult res_b = fit(mf, b, opt_b, ds, rows, generic_opt, NoValidation{}, rb);
    REQUIRE(ra.fused);
    REQUIRE(!ra.sparse);
    REQUIRE(!rb.fused);
    REQUIRE(rb.sparse);
    REQUIRE(same_vectors(a, b));
    REQUIRE(ra.losses == rb.losses);  // per-rating losses identical (computed from the same θ)
    REQUIRE(res_a.final_train_loss == res_b.final_train_loss);
    REQUIRE((a - start).cwiseAbs().maxCoeff() > S(1e-3));
  }
}

TEST_CASE("fit: three epochs with validation and early stopping agree on both paths", "[train][sgd_update]") {
  const Dataset ds = synthetic_dataset();
  const auto rows = rows_of(ds);
  const std::span<const RowIndex> train(rows.data(), rows.size() * 4 / 5);
  const std::span<const RowIndex> valid(rows.data() + train.size(), rows.size() - train.size());
  const auto mf = make_mf<float>(ds, 24, true);
  Vector<float> a = init(mf, 2), b = a;
  Sgd<float> oa{SgdOptions{.lr = 0.02}}, ob{SgdOptions{.lr = 0.02}};
  TrainOptions o{.epochs = 3, .batch_size = 1, .seed = 4, .patience = 2};
  const TrainResult ra = fit(mf, a, oa, ds, train, o, RmseOn{mf, ds, valid});
  o.fused = false;
  const TrainResult rb = fit(mf, b, ob, ds, train, o, RmseOn{mf, ds, valid});
  REQUIRE(same_vectors(a, b));
  REQUIRE(ra.epochs_run == rb.epochs_run);
  REQUIRE(ra.best_metric == rb.best_metric);
}

TEST_CASE("fit: the fused path is used only for plain Sgd with batch size 1", "[train][sgd_update]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = rows_of(ds);
  const auto mf = make_mf<double>(ds, 4, true);
  auto path = [&](auto opt, TrainOptions o) {
    Vector<double> theta = init(mf);
    PathRecorder rec;
    (void)fit(mf, theta, opt, ds, rows, o, NoValidation{}, rec);
    return rec.fused;
  };
  const TrainOptions one{.epochs = 1, .batch_size = 1};
  REQUIRE(path(Sgd<double>{SgdOptions{.lr = 0.01}}, one));
  REQUIRE_FALSE(path(Sgd<double>{SgdOptions{.lr = 0.01, .momentum = 0.9}}, one));
  REQUIRE_FALSE(path(Sgd<double>{SgdOptions{.lr = 0.01, .weight_decay = 1e-4}}, one));
  REQUIRE_FALSE(path(Adagrad<double>{}, one));
  REQUIRE_FALSE(path(Sgd<double>{SgdOptions{.lr = 0.01}}, TrainOptions{.epochs = 1, .batch_size = 2}));
  TrainOptions off = one;
  off.fused = false;
  REQUIRE_FALSE(path(Sgd<double>{SgdOptions{.lr = 0.01}}, off));
}

TEST_CASE("sgd_update: a non-finite loss leaves theta unchanged and fit names the batch", "[train][sgd_update]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = rows_of(ds);
  const auto mf = make_mf<float>(ds, 4, true);
  Vector<float> theta = init(mf);
  const std::uint32_t u = ds.user(0);
  theta[mf.layout().blocks()[0].column(u).offset] = std::numeric_limits<float>::infinity();
  const Vector<float> before = theta;
  const float loss = mf.sgd_update(theta, ds, 0, 0.01f);
  REQUIRE_FALSE(std::isfinite(loss));
  REQUIRE(std::memcmp(theta.data(), before.data(), sizeof(float) * static_cast<std::size_t>(theta.size())) == 0);

  Sgd<float> opt{SgdOptions{.lr = 0.01}};
  Vector<float> t2 = before;
  REQUIRE_THROWS_AS(fit(mf, t2, opt, ds, rows, {.epochs = 1, .batch_size = 1}), numerical_error);
  try {
    Vector<float> t3 = before;
    (void)fit(mf, t3, opt, ds, rows, {.epochs = 1, .batch_size = 1});
  } catch (const numerical_error& e) {
    REQUIRE_THAT(e.what(), Catch::Matchers::Contains("epoch 0, batch"));
  }
}

TEST_CASE("fit: a callback stop on the fused path stops at the same rating as the generic path",
          "[train][sgd_update]") {
  const Dataset ds = synthetic_dataset();
  const auto rows = rows_of(ds);
  const auto mf = make_mf<float>(ds, 16, true);
  struct StopAfter {
    std::size_t n, seen = 0;
    bool on_batch_end(const BatchInfo&) { return ++seen >= n; }
  };
  Vector<float> a = init(mf), b = a;
  Sgd<float> oa{SgdOptions{.lr = 0.01}}, ob{SgdOptions{.lr = 0.01}};
  TrainOptions o{.epochs = 2, .batch_size = 1, .seed = 3};
  const TrainResult ra = fit(mf, a, oa, ds, rows, o, NoValidation{}, StopAfter{123});
  o.fused = false;
  const TrainResult rb = fit(mf, b, ob, ds, rows, o, NoValidation{}, StopAfter{123});
  REQUIRE(ra.stopped_by_callback);
  REQUIRE(rb.stopped_by_callback);
  REQUIRE(same_vectors(a, b));
}

namespace {

// Side-feature MF, FM and mixture MF on the tiny data set (side features, multi-hot genres, times):
// dims below and above the stack scratch (256), shared-user variants, an FM with a time-bin field.
template <class S, class F>
void for_each_side_model(const Dataset& ds, F&& f) {
  const double mean = ds.mean_rating();
  for (const int dims : {3, 8, 300}) {
    CAPTURE(dims);
    f(SideFeatureMF<S>(ds, {.dims = dims, .reg = 0.03, .item_reg = 0.07, .bias_reg = 0.02, .item_bias_reg = 0.09, .feature_reg = 0.04,
                            .global_mean = mean}));
    f(FactorizationMachine<S>(ds, {.dims = dims, .reg = 0.03, .bias_reg = 0.02, .init_std = 0.02, .global_mean = mean,
                                   .time_bins = 3}));
  }
  f(SideFeatureMF<S>(ds, {.dims = 5, .global_mean = mean, .shared_user = true}));
  f(MixtureMF<S>(ds.num_users(), ds.num_items(), {.dims = 6, .tastes = 3, .global_mean = mean}));
  f(MixtureMF<S>(ds.num_users(), ds.num_items(), {.dims = 4, .tastes = 2, .global_mean = mean, .shared_user = true}));
}

}  // namespace

TEMPLATE_TEST_CASE("sgd_update (side MF, FM, mixture): one rating equals loss_and_gradient + Sgd::step",
                   "[train][sgd_update]", float, double) {
  using S = TestType;
  const Dataset ds = test::tiny_dataset();
  for_each_side_model<S>(ds, [&](const auto& model) {
    Vector<S> generic(model.num_parameters());
    Rng rng(3);
    model.initialize(generic, rng);
    Vector<S> fused = generic;
    // lr 0.01: FM diverges at 0.05 on this data.
    (void)require_per_rating_paths_agree(
        model, ds, generic, fused, 0.01, [](std::size_t) { return std::uint64_t{0}; },
        [&](Vector<S>& theta, RowIndex row, S lr, std::uint64_t) { return model.sgd_update(theta, ds, row, lr); });
  });
}

TEMPLATE_TEST_CASE("fit (side MF, FM, mixture): two epochs through sgd_update_rows equal the generic path",
                   "[train][sgd_update]", float, double) {
  using S = TestType;
  const Dataset ds = test::tiny_dataset();
  const auto rows = rows_of(ds);
  for_each_side_model<S>(ds, [&](const auto& model) {
    Vector<S> a(model.num_parameters());
    Rng rng(5);
    model.initialize(a, rng);
    const Vector<S> start = a;
    Vector<S> b = a;
    Sgd<S> oa{SgdOptions{.lr = 0.005}}, ob{SgdOptions{.lr = 0.005}};
    TrainOptions o{.epochs = 2, .batch_size = 1, .seed = 8};
    const TrainResult ra = fit(model, a, oa, ds, rows, o);
    o.fused = false;
    const TrainResult rb = fit(model, b, ob, ds, rows, o);
    REQUIRE(same_vectors(a, b));
    REQUIRE(ra.final_train_loss == rb.final_train_loss);
    REQUIRE((a - start).cwiseAbs().maxCoeff() > S(1e-3));
  });
}

TEST_CASE("sgd_update (FM): a non-finite loss leaves theta unchanged", "[train][sgd_update]") {
  const Dataset ds = test::tiny_dataset();
  const FactorizationMachine<float> fm(ds, {.dims = 4});
  Vector<float> theta(fm.num_parameters());
  Rng rng(1);
  fm.initialize(theta, rng);
  theta[0] = std::numeric_limits<float>::quiet_NaN();  // w₀
  const Vector<float> before = theta;
  REQUIRE_FALSE(std::isfinite(fm.sgd_update(theta, ds, 0, 0.01f)));
  REQUIRE(std::memcmp(theta.data(), before.data(), sizeof(float) * static_cast<std::size_t>(theta.size())) == 0);
}

namespace {

// Variational MF: stack scratch (dims <= 64, samples <= 4) and heap scratch (dims 70, 5 samples),
// the shared-user mode, and β = 0.
template <class S, class F>
void for_each_variational(const Dataset& ds, F&& f) {
  const double mean = ds.mean_rating();
  for (const int dims : {1, 8, 70}) {
    CAPTURE(dims);
    f(VariationalMF<S>(ds.num_users(), ds.num_items(), {.dims = dims, .global_mean = mean}));
  }
  f(VariationalMF<S>(ds.num_users(), ds.num_items(), {.dims = 6, .samples = 3, .kl_weight = 0.05, .global_mean = mean}));
  f(VariationalMF<S>(ds.num_users(), ds.num_items(), {.dims = 5, .samples = 5, .global_mean = mean}));
  f(VariationalMF<S>(ds.num_users(), ds.num_items(), {.dims = 4, .kl_weight = 0.0, .global_mean = mean, .shared_user = true}));
}

}  // namespace

TEMPLATE_TEST_CASE("sgd_update (variational MF): one rating with a seed equals loss_and_gradient + Sgd::step",
                   "[train][sgd_update]", float, double) {
  using S = TestType;
  const Dataset ds = test::tiny_dataset();
  for_each_variational<S>(ds, [&](const auto& model) {
    Vector<S> generic(model.num_parameters());
    Rng rng(3);
    model.initialize(generic, rng);
    Vector<S> fused = generic;
    const Vector<S> start = require_per_rating_paths_agree(
        model, ds, generic, fused, 0.05, [](std::size_t r) { return derive_seed(17, r); },
        [&](Vector<S>& theta, RowIndex row, S lr, std::uint64_t seed) {
          return model.sgd_update(theta, ds, row, lr, seed);
        });
    // The noise depends on the seed: another seed gives another step.
    Vector<S> other = start, again = start;
    (void)model.sgd_update(other, ds, 0, S(0.05), 1);
    (void)model.sgd_update(again, ds, 0, S(0.05), 2);
    REQUIRE_FALSE(same_vectors(other, again));
  });
}

TEMPLATE_TEST_CASE("fit (variational MF): two epochs through the fused paths equal the generic path",
                   "[train][sgd_update]", float, double) {
  using S = TestType;
  const Dataset ds = test::tiny_dataset();
  const auto rows = rows_of(ds);
  for_each_variational<S>(ds, [&](const auto& model) {
    Vector<S> a(model.num_parameters());
    Rng rng(5);
    model.initialize(a, rng);
    const Vector<S> start = a;
    Vector<S> b = a, c = a;
    Sgd<S> oa{SgdOptions{.lr = 0.02}}, ob{SgdOptions{.lr = 0.02}}, oc{SgdOptions{.lr = 0.02}};
    TrainOptions o{.epochs = 2, .batch_size = 1, .seed = 8};
    PathRecorder rc;  // has on_batch_end: per-row sgd_update calls instead of sgd_update_rows
    const TrainResult ra = fit(model, a, oa, ds, rows, o);
    const TrainResult rc_res = fit(model, c, oc, ds, rows, o, NoValidation{}, rc);
    o.fused = false;
    PathRecorder rb;
    const TrainResult rb_res = fit(model, b, ob, ds, rows, o, NoValidation{}, rb);
    REQUIRE(rc.fused);
    REQUIRE(!rb.fused);
    REQUIRE(same_vectors(a, b));
    REQUIRE(same_vectors(c, b));
    REQUIRE(rc.losses == rb.losses);
    REQUIRE(ra.final_train_loss == rb_res.final_train_loss);
    REQUIRE(rc_res.final_train_loss == rb_res.final_train_loss);
    REQUIRE((a - start).cwiseAbs().maxCoeff() > S(1e-3));
  });
}

}  // namespace unity_test_sgd_update
