// AutoRec and DeepRec (the rating-prediction autoencoders): conformance in float and double (both
// sides, dropout on the code, re-feeding), the masked loss, its normalisation, predictions.

#include <metarec/models/autoencoder/autorec.hpp>
#include <metarec/models/autoencoder/deeprec.hpp>

#include "models/autoencoder/ae_test_support.hpp"
#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"

#include <catch.hpp>

#include <cmath>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_autorec_deeprec {

static_assert(Model<AutoRec<float>> && HasSparseHessianVectorProduct<AutoRec<double>>);
static_assert(HasLocalSegments<DeepRec<float>> && HasHessianVectorProduct<DeepRec<float>>);
static_assert(!Model<int>);

TEMPLATE_TEST_CASE("AutoRec conforms (I- and U-AutoRec)", "[models][autoencoder]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  for (const RowSide side : {RowSide::user, RowSide::item}) {
    const WholeRows w(ds, rows, side);
    const AutoRec<TestType> m(ds, {.side = side, .hidden = 4, .reg = 0.5}, rows);
    test::conforms(m, w.batch(3));
  }
  // a fold-in batch (input: half the rows, targets: the other half)
  const test::HalfRows half(ds);
  const WholeRows fold(ds, half.train, half.held_out, RowSide::user);
  test::conforms(AutoRec<TestType>(ds, {.side = RowSide::user, .hidden = 3, .reg = 0.1}), fold.batch(1));
}

TEMPLATE_TEST_CASE("DeepRec conforms (dropout on the code, re-feeding)", "[models][autoencoder]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  test::conforms(DeepRec<TestType>(ds, {.encoder = {5, 3}, .dropout = 0.3, .reg = 0.01}, rows), w.batch(7));
  test::conforms(DeepRec<TestType>(ds, {.encoder = {4}, .last_activation = false, .dropout = 0.0,
                                        .refeed = 0.5}, rows),
                 w.batch(2));
}

TEST_CASE("AutoRec and DeepRec: every entry point rejects wrong sizes", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows w(ds, test::all_rows(ds), RowSide::user);
  test::check_entry_point_sizes(AutoRec<double>(ds, {.side = RowSide::user, .hidden = 3}), w.batch(), "AutoRec");
  test::check_entry_point_sizes(DeepRec<double>(ds, {.encoder = {3}}), w.batch(), "DeepRec");
}

TEST_CASE("the masked loss does not depend on unobserved entries", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const test::HalfRows half(ds);
  const AutoRec<double> m(ds, {.side = RowSide::user, .hidden = 4, .reg = 0.3}, half.train);
  const DeepRec<double> d(ds, {.encoder = {4, 3}, .dropout = 0.2}, half.train);
  const Vector<double> theta = test::theta_of(m), theta_d = test::theta_of(d);
  auto eval = [&](const Dataset& data, const auto& model, const Vector<double>& t) {
    const WholeRows w(data, half.train, RowSide::user);
    Vector<double> g(model.num_parameters());
    const double l = model.loss_and_gradient(t, w.batch(4), g);
    return std::make_pair(l, g);
  };
  const auto base = eval(ds, m, theta);
  const auto base_d = eval(ds, d, theta_d);
  // An unobserved entry (a held-out row) changes: loss and gradient are bit-for-bit the same.
  const Dataset unobserved = test::with_rating(ds, half.held_out[2], ds.rating(half.held_out[2]) == 5 ? 1.0f : 5.0f);
  CHECK(eval(unobserved, m, theta) == base);
  CHECK(eval(unobserved, d, theta_d) == base_d);
  // An observed one changes them (the test can fail).
  const Dataset observed = test::with_rating(ds, half.train[2], ds.rating(half.train[2]) == 5 ? 1.0f : 5.0f);
  CHECK(eval(observed, m, theta).first != base.first);
  CHECK(eval(observed, d, theta_d).first != base_d.first);
}

TEST_CASE("AutoRec: sum over a row's ratings, mean over rows, lambda/(2N) on the weights", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const double lambda = 0.7;
  const AutoRec<double> m(ds, {.side = RowSide::item, .hidden = 3, .reg = lambda,
                               .ratings = {.min_rating = 0, .max_rating = 0}}, rows);
  const WholeRows w(ds, rows, RowSide::item);
  const RowBatch b = w.batch();
  const Vector<double> theta = test::theta_of(m);
  Vector<double> pred(static_cast<Eigen::Index>(b.num_targets()));
  m.predict(theta, b, pred);
  double se = 0;
  Eigen::Index k = 0;
  for (const RowExample& ex : b.examples)
    for (const RowIndex r : ex.target) se += std::pow(pred[k++] - ds.rating(r), 2);
  // N = the items with training rows; the weights are the input and output matrices.
  const auto& blocks = m.layout().blocks();
  const auto& names = m.layout().names();
  double w2 = 0;
  for (std::size_t j = 0; j < blocks.size(); ++j)
    if (names[j].find("weight") != std::string::npos) w2 += blocks[j].map<double>(ConstVectorRef<double>(theta)).squaredNorm();
  const double expected = se / static_cast<double>(b.size()) + lambda / (2.0 * static_cast<double>(b.size())) * w2;
  CHECK(m.loss(theta, b) == Approx(expected).epsilon(1e-12));
  CHECK(b.size() == w.size());
}

TEST_CASE("DeepRec: the masked MSE is a mean over the batch's ratings; re-feeding adds rho * a term", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  const RowBatch b = w.batch(9);
  const DeepRec<double> m(ds, {.encoder = {4, 2}, .dropout = 0.0, .ratings = {.min_rating = 0, .max_rating = 0}}, rows);
  const Vector<double> theta = test::theta_of(m);
  Vector<double> pred(static_cast<Eigen::Index>(b.num_targets()));
  m.predict(theta, b, pred);
  double se = 0;
  Eigen::Index k = 0;
  for (const RowExample& ex : b.examples)
    for (const RowIndex r : ex.target) se += std::pow(pred[k++] - ds.rating(r), 2);
  CHECK(m.loss(theta, b) == Approx(se / static_cast<double>(b.num_targets())).epsilon(1e-12));
  // The re-feeding term is ρ times a non-negative function of (θ, batch).
  auto with_refeed = [&](double rho) {
    return DeepRec<double>(ds, {.encoder = {4, 2}, .dropout = 0.0, .refeed = rho}, rows).loss(theta, b);
  };
  const double l0 = with_refeed(0.0), l1 = with_refeed(1.0), l3 = with_refeed(3.0);
  CHECK(l1 > l0);
  CHECK(l3 - l0 == Approx(3.0 * (l1 - l0)).epsilon(1e-10));
  // With dropout, the loss depends on the batch seed (and only on it).
  const DeepRec<double> drop(ds, {.encoder = {4, 2}, .dropout = 0.5}, rows);
  CHECK(drop.loss(theta, w.batch(1)) == drop.loss(theta, w.batch(1)));
  CHECK(drop.loss(theta, w.batch(1)) != drop.loss(theta, w.batch(2)));
}

TEST_CASE("AutoRec predictions: training ratings in, defaults where the network knows nothing, clipping", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  // Train on the rows of users 0..4; user 6 has no training rows, item columns without training
  // rows are unknown.
  std::vector<RowIndex> train, test_rows;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) (ds.user(r) <= 4 ? train : test_rows).push_back(r);
  const AutoRec<double> m(ds, {.side = RowSide::user, .hidden = 3}, train);
  double mean = 0;
  for (const RowIndex r : train) mean += ds.rating(r);
  mean /= static_cast<double>(train.size());
  CHECK(m.default_rating() == Approx(mean));
  const Vector<double> theta = test::theta_of(m);
  const WholeRows fold(ds, train, test_rows, RowSide::user);  // users 5, 6: no input rows
  Vector<double> pred(static_cast<Eigen::Index>(fold.batch().num_targets()));
  m.predict(theta, fold.batch(), pred);
  CHECK((pred.array() == mean).all());
  // Users with input: predictions within [1, 5]; a huge output bias is clipped to 5.
  const WholeRows self(ds, train, RowSide::user);
  Vector<double> big = theta;
  const auto& names = m.layout().names();
  for (std::size_t j = 0; j < names.size(); ++j)
    if (names[j] == "decoder.bias") big.segment(m.layout().blocks()[j].offset, m.layout().blocks()[j].size()).setConstant(100.0);
  Vector<double> p2(static_cast<Eigen::Index>(self.batch().num_targets()));
  m.predict(big, self.batch(), p2);
  CHECK((p2.array() == 5.0).all());
  // A wrong-size output or a batch of the other side is rejected with both sizes / sides named.
  Vector<double> short_out(1);
  CHECK_THROWS_WITH(m.predict(theta, self.batch(), short_out), Catch::Contains("AutoRec::predict") && Catch::Contains("1 entries"));
  const WholeRows items(ds, train, RowSide::item);
  CHECK_THROWS_WITH(m.loss(theta, items.batch()), Catch::Contains("AutoRec::loss") && Catch::Contains("item rows"));
}

TEST_CASE("reset_untrained: a new item predicts the default rating and adds nothing to the code", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  // Items 7 and 8 are new: no training row. Every model built over all columns (as the registry's
  // cold-start entries are), so only the reset makes them neutral.
  std::vector<RowIndex> train, rows_new;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) (ds.item(r) >= 7 ? rows_new : train).push_back(r);
  REQUIRE(!rows_new.empty());
  const double mean = 3.25;
  const WholeRows fit(ds, train, RowSide::user);
  const auto check = [&](const auto& m, const char* what) {
    INFO(what);
    Vector<double> theta = test::theta_of(m);
    const Vector<double> before = theta;
    const std::size_t changed = m.reset_untrained(theta, fit.batch());
    // Two columns: input weights h0 each, output weights h each, one output bias each.
    const auto& lay = m.layout();
    Eigen::Index h0 = 0, h = 0;
    for (std::size_t b = 0; b < lay.names().size(); ++b) {
      if (lay.names()[b] == "encoder.0.weight") h0 = lay.blocks()[b].rows;
      if (lay.names()[b] == "decoder.weight") h = lay.blocks()[b].rows;
    }
    CHECK(changed == static_cast<std::size_t>(2 * (h0 + h + 1)));
    CHECK((theta - before).cwiseAbs().maxCoeff() > 0.0);
    CHECK(m.reset_untrained(theta, fit.batch()) == 0);  // idempotent
    // A user whose input holds the new items as well gets the same code and the same
    // predictions on the old items; a new item is predicted at the default rating.
    std::vector<RowIndex> all = train;
    all.insert(all.end(), rows_new.begin(), rows_new.end());
    std::sort(all.begin(), all.end());
    const WholeRows with_new(ds, all, all, RowSide::user);
    const WholeRows without(ds, train, all, RowSide::user);
    Vector<double> p1(static_cast<Eigen::Index>(with_new.batch().num_targets()));
    Vector<double> p2(p1.size());
    m.predict(theta, with_new.batch(), p1);
    m.predict(theta, without.batch(), p2);
    for (Eigen::Index k = 0; k < p1.size(); ++k) CHECK(p1[k] == Approx(p2[k]).margin(1e-12));
    Eigen::Index k = 0;
    std::size_t new_targets = 0;
    for (const RowExample& ex : without.batch().examples)
      for (const RowIndex r : ex.target) {
        if (ds.item(r) >= 7 && !ex.input.empty()) {
          CHECK(p2[k] == Approx(mean).epsilon(1e-12));
          ++new_targets;
        }
        ++k;
      }
    CHECK(new_targets == rows_new.size());
  };
  check(AutoRec<double>(ds, {.side = RowSide::user, .hidden = 3, .ratings = {.default_rating = mean}}), "AutoRec");
  check(DeepRec<double>(ds, {.side = RowSide::user, .encoder = {4, 2}, .dropout = 0.0, .ratings = {.default_rating = mean}}),
        "DeepRec (SELU output)");
}

}  // namespace unity_test_autorec_deeprec
