// CDAE and Mult-VAE / Mult-DAE (the implicit-feedback autoencoders): conformance in float and
// double, noise from the batch seed, sampled negatives, the multinomial likelihood and the KL term.

#include <metarec/models/autoencoder/cdae.hpp>
#include <metarec/models/autoencoder/mult_vae.hpp>

#include "models/autoencoder/ae_test_support.hpp"
#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"

#include <catch.hpp>

#include <cmath>
#include <set>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_cdae_mult {

static_assert(Model<Cdae<float>> && HasLocalSegments<Cdae<double>> && HasHessianVectorProduct<Cdae<float>>);
static_assert(Model<MultVae<float>> && HasHessianVectorProduct<MultVae<double>>);

namespace {
Block block_named(const ParameterLayout& lay, const std::string& name) {
  for (std::size_t j = 0; j < lay.names().size(); ++j)
    if (lay.names()[j] == name) return lay.blocks()[j];
  FAIL("no block " << name);
  return {};
}
}  // namespace

TEMPLATE_TEST_CASE("CDAE conforms", "[models][autoencoder]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  test::conforms(Cdae<TestType>(ds, {.hidden = 4, .corruption = 0.3, .negatives = 1, .reg = 0.05}), w.batch(3));
  const test::HalfRows half(ds);
  const WholeRows fold(ds, half.train, half.held_out, RowSide::user);
  test::conforms(Cdae<TestType>(ds, {.hidden = 3, .activation = nn::Activation::tanh, .corruption = 0.0}), fold.batch(8));
}

TEMPLATE_TEST_CASE("Mult-VAE and Mult-DAE conform", "[models][autoencoder]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  test::conforms(MultVae<TestType>(ds, {.hidden = {5}, .latent = 3, .dropout = 0.3, .beta = 0.4}), w.batch(3));
  test::conforms(MultVae<TestType>(ds, {.variational = false, .hidden = {4}, .latent = 2, .dropout = 0.2,
                                        .reg = 0.01}), w.batch(6));
}

TEST_CASE("CDAE and Mult-VAE: every entry point rejects wrong sizes", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows w(ds, test::all_rows(ds), RowSide::user);
  test::check_entry_point_sizes(Cdae<double>(ds, {.hidden = 3}), w.batch(), "Cdae");
  test::check_entry_point_sizes(MultVae<double>(ds, {.hidden = {3}, .latent = 2}), w.batch(), "MultVae");
  CHECK_THROWS_WITH(Cdae<double>(ds, {.corruption = 1.0}), Catch::Contains("Cdae: input dropout must be in [0, 1)"));
  CHECK_THROWS_WITH(MultVae<double>(ds, {.latent = 0}), Catch::Contains("MultVae: hidden widths must be >= 1 (got 0)"));
}

TEST_CASE("CDAE: corruption and negatives come from the batch seed; negatives are unrated items", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  const Cdae<double> m(ds, {.hidden = 3, .corruption = 0.4, .negatives = 1});
  const Vector<double> theta = test::theta_of(m);
  CHECK(m.loss(theta, w.batch(1)) == m.loss(theta, w.batch(1)));
  CHECK(m.loss(theta, w.batch(1)) != m.loss(theta, w.batch(2)));
  // One user: the output columns with a gradient are its items and as many unrated items.
  const RowExample& ex = w.examples()[0];
  const RowBatch one{&ds, std::span<const RowExample>(&ex, 1), 11, RowSide::user};
  Vector<double> g(m.num_parameters());
  (void)m.loss_and_gradient(theta, one, g);
  const Block M = block_named(m.layout(), "decoder.weight");
  std::set<std::uint32_t> rated;
  for (const RowIndex r : ex.input) rated.insert(ds.item(r));
  std::size_t with_grad = 0, rated_with_grad = 0;
  // The penalty (reg/2)‖M‖² puts reg·M on every column: subtract it.
  const Matrix<double> data_grad = M.map<double>(VectorRef<double>(g)) - 0.01 * M.map<double>(ConstVectorRef<double>(theta));
  for (std::uint32_t j = 0; j < ds.num_items(); ++j)
    if (data_grad.col(j).cwiseAbs().maxCoeff() > 1e-12) {
      ++with_grad;
      rated_with_grad += rated.count(j);
    }
  CHECK(rated_with_grad == rated.size());
  CHECK(with_grad == std::min<std::size_t>(2 * rated.size(), ds.num_items()));
  // The user vector of that user (and no other) is its local segment and has a gradient.
  std::vector<Segment> local;
  m.local_segments(w.batch(), local);
  CHECK(local.size() == w.size());
  local.clear();
  m.local_segments(one, local);
  REQUIRE(local.size() == 1);
  CHECK(local[0] == m.user_vector(ex.entity));
  CHECK(g.segment(local[0].offset, local[0].size).norm() > 0);
}

TEST_CASE("Mult-VAE: multinomial likelihood, beta times the KL, prediction from the mean", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  const RowBatch b = w.batch(5);
  const MultVae<double> vae(ds, {.hidden = {4}, .latent = 2, .dropout = 0.0, .beta = 0.2});
  const Vector<double> theta = test::theta_of(vae);
  // Loss linear in β with the same noise.
  const double l0 = vae.with_beta(0.0).loss(theta, b), l2 = vae.loss(theta, b), l4 = vae.with_beta(0.4).loss(theta, b);
  CHECK(l2 > l0);
  CHECK(l4 - l0 == Approx(2.0 * (l2 - l0)).epsilon(1e-10));
  CHECK_THROWS_AS(vae.with_beta(-1.0), std::invalid_argument);
  // β = 0, no dropout: the loss is −mean_u Σ_{i∈T_u} log p_ui of the sampled z; the prediction (z = μ)
  // is a distribution over all items, independent of the seed.
  Vector<double> scores(ds.num_items()), scores2(ds.num_items());
  const RowBatch self{&ds, std::span<const RowExample>(&w.examples()[0], 1), 1, RowSide::user};
  vae.score_all(theta, self, Eigen::Ref<Matrix<double>>(scores));
  const RowBatch self2{&ds, std::span<const RowExample>(&w.examples()[0], 1), 2, RowSide::user};
  vae.score_all(theta, self2, Eigen::Ref<Matrix<double>>(scores2));
  CHECK(scores == scores2);
  Vector<double> pred(static_cast<Eigen::Index>(w.examples()[0].target.size()));
  vae.predict(theta, self, pred);
  const double lse = std::log((scores.array() - scores.maxCoeff()).exp().sum()) + scores.maxCoeff();
  Eigen::Index k = 0;
  for (const RowIndex r : w.examples()[0].target) CHECK(pred[k++] == Approx(std::exp(scores[ds.item(r)] - lse)));
  // The training loss depends on the seed (ε), the prediction does not.
  CHECK(vae.loss(theta, w.batch(1)) != vae.loss(theta, w.batch(2)));
}

TEST_CASE("Mult-DAE: input dropout from the seed; loss = mean over users of the targets' negative log-likelihood", "[models][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows w(ds, rows, RowSide::user);
  const MultVae<double> dae(ds, {.variational = false, .hidden = {4}, .latent = 3, .dropout = 0.0});
  const Vector<double> theta = test::theta_of(dae);
  const RowBatch b = w.batch(3);
  double nll = 0;
  for (const RowExample& ex : b.examples) {
    Vector<double> s(ds.num_items());
    const RowBatch one{&ds, std::span<const RowExample>(&ex, 1), 0, RowSide::user};
    dae.score_all(theta, one, Eigen::Ref<Matrix<double>>(s));
    const double lse = std::log((s.array() - s.maxCoeff()).exp().sum()) + s.maxCoeff();
    for (const RowIndex r : ex.target) nll -= s[ds.item(r)] - lse;
  }
  CHECK(dae.loss(theta, b) == Approx(nll / static_cast<double>(b.size())).epsilon(1e-12));
  const MultVae<double> noisy(ds, {.variational = false, .hidden = {4}, .latent = 3, .dropout = 0.5});
  CHECK(noisy.loss(theta, w.batch(1)) != noisy.loss(theta, w.batch(2)));
  std::vector<Segment> local;
  noisy.local_segments(b, local);
  REQUIRE(local.size() == 1);
  CHECK(local[0] == block_named(noisy.layout(), "encoder.0.bias").segment());
}

}  // namespace unity_test_cdae_mult
