// TrainOptions::average: the exponential moving average of the iterates (Polyak–Ruppert), with
// μ_t = min(average, (1 + t)/(10 + t)); θ is the average, the optimiser steps on its own copy.

#include <metarec/data/synthetic.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/trainer.hpp>

#include <catch.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_average {

namespace {

struct Fixture {
  Dataset ds = make_synthetic({.users = 40, .items = 30, .min_ratings_per_user = 5, .max_ratings_per_user = 20,
                               .seed = 4})
                   .dataset;
  std::vector<RowIndex> rows;
  MatrixFactorization<double> mf{ds.num_users(), ds.num_items(), {.dims = 4, .reg = 0.01, .global_mean = ds.mean_rating()}};
  Vector<double> theta0;
  Fixture() {
    for (RowIndex r = 0; r < ds.num_ratings(); ++r) rows.push_back(r);
    theta0.resize(mf.num_parameters());
    Rng rng(1);
    mf.initialize(theta0, rng);
  }
};

// The same training written out: the optimiser's iterate and its average, step by step.
Vector<double> by_hand(const Fixture& f, double average, int epochs, std::size_t batch, Vector<double>* iterate) {
  Vector<double> raw = f.theta0, avg = f.theta0, grad(f.mf.num_parameters());
  Adam<double> adam{{.lr = 0.01}};
  adam.reset(raw.size());
  RatingBatches source(f.ds, f.rows, batch, 7);
  std::uint64_t t = 0;
  for (int e = 0; e < epochs; ++e) {
    source.start_epoch(static_cast<std::uint64_t>(e));
    for (std::size_t b = 0; b < source.num_batches(); ++b) {
      (void)f.mf.loss_and_gradient(raw, source.batch(b), VectorRef<double>(grad));
      adam.step(raw, grad);
      ++t;
      const double mu = std::min(average, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
      avg = mu * avg + (1.0 - mu) * raw;
    }
  }
  if (iterate) *iterate = raw;
  return avg;
}

}  // namespace

TEST_CASE("fit: average keeps the moving average of the iterates in theta", "[train][average]") {
  const Fixture f;
  Vector<double> iterate;
  const Vector<double> expected = by_hand(f, 0.9, 3, 16, &iterate);
  Vector<double> theta = f.theta0;
  Adam<double> adam{{.lr = 0.01}};
  (void)fit(f.mf, theta, adam, f.ds, f.rows, {.epochs = 3, .batch_size = 16, .seed = 7, .sparse = false, .average = 0.9});
  CHECK((theta - expected).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((theta - iterate).cwiseAbs().maxCoeff() > 1e-4);  // the average is not the last iterate

  // average 0: the iterate itself, as without the option
  Vector<double> plain = f.theta0;
  Adam<double> adam2{{.lr = 0.01}};
  (void)fit(f.mf, plain, adam2, f.ds, f.rows, {.epochs = 3, .batch_size = 16, .seed = 7, .sparse = false});
  CHECK((plain - iterate).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("fit: average on the sparse path gives the dense path's theta", "[train][average]") {
  const Fixture f;
  Vector<double> dense = f.theta0, sparse = f.theta0;
  Sgd<double> a{{.lr = 0.05}}, b{{.lr = 0.05}};
  (void)fit(f.mf, dense, a, f.ds, f.rows, {.epochs = 2, .batch_size = 8, .seed = 7, .sparse = false, .average = 0.95});
  (void)fit(f.mf, sparse, b, f.ds, f.rows, {.epochs = 2, .batch_size = 8, .seed = 7, .average = 0.95});
  CHECK((dense - sparse).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("fit: validation and early stopping see the average", "[train][average]") {
  const Fixture f;
  Vector<double> theta = f.theta0;
  Adam<double> adam{{.lr = 0.01}};
  std::vector<Vector<double>> seen;
  const auto r = fit(f.mf, theta, adam, f.ds, f.rows, {.epochs = 2, .batch_size = 16, .seed = 7, .sparse = false, .average = 0.9},
                     [&](const ConstVectorRef<double>& t) {
                       seen.emplace_back(t);
                       return static_cast<double>(seen.size());  // rises: epoch 0 is the best
                     });
  REQUIRE(seen.size() == 2);
  CHECK(r.best_epoch == 0);
  CHECK(theta == seen[0]);  // restored to the best epoch's average
  Vector<double> one_epoch = by_hand(f, 0.9, 1, 16, nullptr);
  CHECK((seen[0] - one_epoch).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("fit: average turns the fused per-rating path off and rejects values outside [0, 1)", "[train][average]") {
  const Fixture f;
  Vector<double> fused = f.theta0, averaged = f.theta0;
  Sgd<double> a{{.lr = 0.05}}, b{{.lr = 0.05}};
  bool used_fused = true;
  struct Begin {
    bool* fused;
    void on_train_begin(const TrainBegin& tb) { *fused = tb.fused; }
  };
  (void)fit(f.mf, averaged, a, f.ds, f.rows, {.epochs = 1, .batch_size = 1, .seed = 7, .average = 0.5}, NoValidation{},
            Begin{&used_fused});
  CHECK_FALSE(used_fused);
  (void)fit(f.mf, fused, b, f.ds, f.rows, {.epochs = 1, .batch_size = 1, .seed = 7});
  CHECK(fused != averaged);
  for (const double bad : {-0.1, 1.0, 2.0}) {
    Vector<double> t = f.theta0;
    Sgd<double> s{{.lr = 0.05}};
    CHECK_THROWS_AS(fit(f.mf, t, s, f.ds, f.rows, {.epochs = 1, .average = bad}), std::invalid_argument);
  }
}

}  // namespace unity_test_average
