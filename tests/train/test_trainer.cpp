#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/optim.hpp>
#include <metarec/train.hpp>

#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_trainer {

namespace {

template <class S = double>
MatrixFactorization<S> tiny_mf(const Dataset& ds, int dims = 3) {
  return MatrixFactorization<S>(ds.num_users(), ds.num_items(),
                                {.dims = dims, .reg = 0.01, .bias_reg = 0.01, .init_std = 0.1,
                                 .global_mean = ds.mean_rating()});
}

template <class M>
Vector<typename M::Scalar> init(const M& m, std::uint64_t seed = 1) {
  Vector<typename M::Scalar> theta(m.num_parameters());
  Rng rng(seed);
  m.initialize(theta, rng);
  return theta;
}

// The same model without its sparse-gradient overloads: exercises the dense path of fit.
template <class S>
struct DenseOnlyMf {
  using Scalar = S;
  using Batch = RatingBatch;
  MatrixFactorization<S> mf;
  [[nodiscard]] Eigen::Index num_parameters() const { return mf.num_parameters(); }
  void initialize(VectorRef<S> t, Rng& rng) const { mf.initialize(t, rng); }
  [[nodiscard]] S loss(const ConstVectorRef<S>& t, const Batch& b) const { return mf.loss(t, b); }
  S loss_and_gradient(const ConstVectorRef<S>& t, const Batch& b, VectorRef<S> g) const {
    return mf.loss_and_gradient(t, b, g);
  }
  void predict(const ConstVectorRef<S>& t, const Batch& b, VectorRef<S> out) const {
    mf.predict(t, b, out);
  }
};
static_assert(Model<DenseOnlyMf<double>> && !HasSparseGradient<DenseOnlyMf<double>>);

}  // namespace

TEST_CASE("fit: the training loss decreases with each optimiser", "[train]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  const TrainOptions options{.epochs = 40, .batch_size = 4, .seed = 5};
  auto run = [&](auto opt) {
    Vector<double> theta = init(mf);
    const double before = mf.loss(theta, RatingBatch{&ds, rows, 0});
    const TrainResult r = fit(mf, theta, opt, ds, rows, options);
    const double after = mf.loss(theta, RatingBatch{&ds, rows, 0});
    INFO("loss before " << before << ", after " << after);
    CHECK(r.epochs_run == 40);
    CHECK(after < 0.5 * before);
    CHECK(r.history.back().train_loss < r.history.front().train_loss);
  };
  run(Sgd<double>{SgdOptions{.lr = 0.05}});
  run(Sgd<double>{SgdOptions{.lr = 0.02, .momentum = 0.9}});
  run(Adagrad<double>{AdagradOptions{.lr = 0.3}});
  run(Adam<double>{AdamOptions{.lr = 0.05}});
}

TEST_CASE("fit: the same seed gives the same theta, another seed another", "[train]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf<float>(ds);
  auto run = [&](std::uint64_t seed) {
    Vector<float> theta = init(mf);
    Adam<float> opt{AdamOptions{.lr = 0.01}};
    (void)fit(mf, theta, opt, ds, rows, {.epochs = 5, .batch_size = 3, .seed = seed});
    return theta;
  };
  const Vector<float> a = run(7), b = run(7), c = run(8);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("fit: the sparse and the dense path give the same theta for plain SGD", "[train]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  Vector<double> ts = init(mf), td = ts, tw = ts;
  Sgd<double> o1{SgdOptions{.lr = 0.05}}, o2 = o1, o3 = o1;
  const TrainOptions options{.epochs = 3, .batch_size = 5, .seed = 2};
  (void)fit(mf, ts, o1, ds, rows, options);
  TrainOptions dense = options;
  dense.sparse = false;
  (void)fit(mf, td, o2, ds, rows, dense);
  const DenseOnlyMf<double> wrapped{mf};
  (void)fit(wrapped, tw, o3, ds, rows, options);
  CHECK(ts == td);
  CHECK(ts == tw);
}

TEST_CASE("fit: per-rating SGD (batch size 1) visits every row once per epoch", "[train]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  Vector<double> theta = init(mf);
  Sgd<double> opt{SgdOptions{.lr = 0.01}};
  struct Count {
    std::size_t rows;
    std::size_t batches = 0;
    void on_batch_end(const BatchInfo& b) {
      ++batches;
      CHECK(b.batches == rows);
    }
  } count{ds.num_ratings()};
  (void)fit(mf, theta, opt, ds, rows, {.epochs = 2, .batch_size = 1}, NoValidation{}, count);
  CHECK(count.batches == 2 * ds.num_ratings());
}

TEST_CASE("fit: early stopping stops after `patience` bad epochs and restores the best theta",
          "[train][early-stopping]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  Vector<double> theta = init(mf);
  Sgd<double> opt{SgdOptions{.lr = 0.05}};
  // A scripted validation curve: best at epoch 1, then worse and worse.
  const std::vector<double> curve{1.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99};
  std::vector<Vector<double>> seen;
  auto validate = [&](const ConstVectorRef<double>& t) {
    seen.emplace_back(t);
    return curve[seen.size() - 1];
  };
  const TrainResult r =
      fit(mf, theta, opt, ds, rows, {.epochs = 7, .batch_size = 8, .patience = 2}, validate);
  CHECK(r.stopped_early);
  CHECK(r.epochs_run == 4);  // epochs 2 and 3 did not improve on epoch 1
  CHECK(r.best_epoch == 1);
  CHECK(r.best_metric == 0.5);
  CHECK(r.restored_best);
  REQUIRE(seen.size() == 4);
  CHECK(theta == seen[1]);
  CHECK(theta != seen[3]);
  REQUIRE(r.history.size() == 4);
  CHECK(r.history[3].valid_metric == 0.9 - 0.1);  // 0.8
}

TEST_CASE("fit: early stopping on a real validation RMSE keeps the best epoch", "[train][early-stopping]") {
  // Large factors, no regularisation and few ratings: RMSE on held-out rows gets worse as the model
  // overfits the training rows, so the best epoch is an early one.
  const Dataset ds = test::tiny_dataset();
  std::vector<RowIndex> train, valid;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) (r % 4 == 0 ? valid : train).push_back(r);
  const MatrixFactorization<double> mf(ds.num_users(), ds.num_items(),
      {.dims = 8, .reg = 0.0, .bias_reg = 0.0, .init_std = 0.5, .global_mean = ds.mean_rating(train)});
  Vector<double> theta = init(mf, 3);
  Adam<double> opt{AdamOptions{.lr = 0.05}};
  const TrainResult r = fit(mf, theta, opt, ds, train,
                            {.epochs = 200, .batch_size = 4, .seed = 1, .patience = 5},
                            RmseOn{mf, ds, valid});
  REQUIRE(r.best_epoch >= 0);
  CHECK(rating_errors(mf, theta, ds, valid).rmse == Approx(r.best_metric).epsilon(1e-12));
  for (const auto& e : r.history) CHECK(e.valid_metric >= r.best_metric);
  CHECK(r.stopped_early);  // this set-up overfits: validation RMSE turns up well before 200 epochs
  CHECK(r.restored_best);
  CHECK(r.epochs_run == r.best_epoch + 1 + 5);
}

TEST_CASE("fit: a diverging run throws numerical_error naming epoch and batch", "[train]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  Vector<double> theta = init(mf);
  Sgd<double> opt{SgdOptions{.lr = 1e6}};
  CHECK_THROWS_AS(fit(mf, theta, opt, ds, rows, {.epochs = 50, .batch_size = 4}), numerical_error);
  theta = init(mf);
  CHECK_THROWS_WITH(fit(mf, theta, opt, ds, rows, {.epochs = 50, .batch_size = 4}),
                    Catch::Contains("epoch") && Catch::Contains("batch") &&
                        Catch::Contains("learning rate"));
}

TEST_CASE("fit: callbacks are optional hooks; true stops", "[train][callbacks]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  Vector<double> theta = init(mf);
  Sgd<double> opt{SgdOptions{.lr = 0.05}};
  struct Nothing {};
  struct StopAt {
    int at;
    std::vector<int> begun;
    bool ended = false;
    void on_epoch_begin(const EpochInfo& e) { begun.push_back(e.epoch); }
    bool on_epoch_end(const EpochInfo& e) { return e.epoch == at; }
    void on_train_end(const TrainResult&) { ended = true; }
  } stop{2, {}, false};
  const TrainResult r = fit(mf, theta, opt, ds, rows, {.epochs = 10, .batch_size = 8},
                            NoValidation{}, Nothing{}, stop);
  CHECK(r.epochs_run == 3);
  CHECK(r.stopped_by_callback);
  CHECK(stop.begun == std::vector<int>{0, 1, 2});
  CHECK(stop.ended);
  CHECK(std::isnan(r.history[0].valid_metric));
}

TEST_CASE("fit: boundary checks", "[train]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  Vector<double> theta = Vector<double>::Zero(3);
  Sgd<double> opt;
  CHECK_THROWS_WITH(fit(mf, theta, opt, ds, rows, {}), Catch::Contains("num_parameters"));
  theta = init(mf);
  CHECK_THROWS_AS(fit(mf, theta, opt, ds, rows, {.batch_size = 0}), std::invalid_argument);
  CHECK_THROWS_AS(fit(mf, theta, opt, ds, std::vector<RowIndex>{}, {}), std::invalid_argument);
  CHECK_THROWS_AS(fit(mf, theta, opt, ds, std::vector<RowIndex>{9999}, {}), std::invalid_argument);
}

TEST_CASE("JsonLinesLog: one object per epoch and one at the end", "[train][callbacks]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  Vector<double> theta = init(mf);
  Sgd<double> opt{SgdOptions{.lr = 0.05}};
  std::ostringstream out;
  (void)fit(mf, theta, opt, ds, rows, {.epochs = 3, .batch_size = 8}, NoValidation{},
            JsonLinesLog(out));
  std::istringstream in(out.str());
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].rfind("{\"event\":\"epoch\",\"epoch\":0,\"train_loss\":", 0) == 0);
  CHECK(lines[0].find("\"valid_metric\":null") != std::string::npos);
  CHECK(lines[3].rfind("{\"event\":\"end\",\"epochs_run\":3", 0) == 0);
}

TEST_CASE("ProgressBar: one line per epoch when not a terminal, a bar when forced",
          "[train][callbacks]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const auto mf = tiny_mf(ds);
  auto capture = [&](bool force) {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    Vector<double> theta = init(mf);
    Sgd<double> opt{SgdOptions{.lr = 0.05}};
    (void)fit(mf, theta, opt, ds, rows, {.epochs = 3, .batch_size = 8}, NoValidation{},
              ProgressBar(f, 20, force));
    std::rewind(f);
    std::string text;
    for (int c; (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
    std::fclose(f);
    return text;
  };
  const std::string plain = capture(false);
  CHECK(std::count(plain.begin(), plain.end(), '\n') == 3);
  CHECK(plain.find('\r') == std::string::npos);
  CHECK(plain.find("epoch 3/3") != std::string::npos);
  const std::string bar = capture(true);
  CHECK(bar.find("ETA") != std::string::npos);
  CHECK(bar.find('\r') != std::string::npos);
}

}  // namespace unity_test_trainer
