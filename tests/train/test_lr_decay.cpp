// TrainOptions::lr_decay: epoch e of `fit` runs at lr₀·lr_decay^e, on the generic and the fused
// whole-epoch paths; the optimiser's lr is restored afterwards.

#include <metarec/data/synthetic.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/trainer.hpp>

#include <catch.hpp>

#include <cmath>
#include <span>
#include <stdexcept>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_lr_decay {

namespace {

struct LrRecorder {
  const Sgd<double>* opt;
  std::vector<double> per_epoch;  // the lr seen at the first step of each epoch
  int last_epoch = -1;
  void on_batch_end(const BatchInfo& b) {
    if (b.epoch != last_epoch) per_epoch.push_back(opt->lr()), last_epoch = b.epoch;
  }
};

}  // namespace

TEST_CASE("fit: lr_decay scales the learning rate per epoch and restores it", "[train][lr_decay]") {
  const Dataset ds = make_synthetic({.users = 40, .items = 30, .min_ratings_per_user = 5,
                                     .max_ratings_per_user = 20, .seed = 2}).dataset;
  std::vector<RowIndex> rows(ds.num_ratings());
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<RowIndex>(r);
  const MatrixFactorization<double> mf(ds.num_users(), ds.num_items(), {.dims = 4, .global_mean = ds.mean_rating()});
  Vector<double> theta0(mf.num_parameters());
  Rng rng(1);
  mf.initialize(theta0, rng);

  SECTION("generic mini-batch path") {
    Vector<double> theta = theta0;
    Sgd<double> sgd{{.lr = 0.1}};
    LrRecorder rec{&sgd, {}};
    (void)fit(mf, theta, sgd, ds, rows, {.epochs = 4, .batch_size = 8, .seed = 3, .lr_decay = 0.5},
              NoValidation{}, rec);
    REQUIRE(rec.per_epoch.size() == 4);
    for (int e = 0; e < 4; ++e) CHECK(rec.per_epoch[static_cast<std::size_t>(e)] == 0.1 * std::pow(0.5, e));
    CHECK(sgd.lr() == 0.1);
  }
  SECTION("fused whole-epoch path equals sgd_update_rows at the decayed rates") {
    Vector<double> theta = theta0, manual = theta0;
    Sgd<double> sgd{{.lr = 0.05}};
    (void)fit(mf, theta, sgd, ds, rows, {.epochs = 3, .batch_size = 1, .seed = 3, .lr_decay = 0.8});
    CHECK(sgd.lr() == 0.05);
    std::vector<RowIndex> order = rows;
    double sum = 0.0;
    for (int e = 0; e < 3; ++e) {
      Rng shuffle(derive_seed(3, static_cast<std::uint64_t>(e)));
      shuffle.shuffle(std::span<RowIndex>(order));
      (void)mf.sgd_update_rows(manual, ds, order, 0.05 * std::pow(0.8, e), sum);
    }
    CHECK(theta == manual);
    Vector<double> undecayed = theta0;
    Sgd<double> plain{{.lr = 0.05}};
    (void)fit(mf, undecayed, plain, ds, rows, {.epochs = 3, .batch_size = 1, .seed = 3});
    CHECK(undecayed != theta);
  }
  SECTION("a non-positive decay throws") {
    Vector<double> theta = theta0;
    Sgd<double> sgd{{.lr = 0.05}};
    CHECK_THROWS_AS(fit(mf, theta, sgd, ds, rows, {.epochs = 1, .lr_decay = 0.0}), std::invalid_argument);
  }
}

}  // namespace unity_test_lr_decay
