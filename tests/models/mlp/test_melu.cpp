#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mlp/melu.hpp>

#include <algorithm>
#include <cmath>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_melu {

static_assert(Model<Melu<float>>);
static_assert(Model<Melu<double>>);
static_assert(HasHessianVectorProduct<Melu<float>>);
static_assert(HasSparseHessianVectorProduct<Melu<double>>);
static_assert(HasLocalSegments<Melu<double>>);
static_assert(has_exact_gradient<Melu<float>>);

namespace {
MeluModelOptions small_melu(nn::LossKind loss = nn::LossKind::squared_error, double dropout = 0.0) {
  return {.embedding_dim = 3, .hidden = {5, 4}, .loss = loss, .dropout = dropout};
}
}  // namespace

// ReLU is not differentiable at 0: in float the conformance step (2e-3) crosses kinks of the
// 40 × 9 hidden pre-activations, so central differences are meaningless there. The ReLU model is
// checked by the suite in double (step 1e-6) and its float instance against the double one below;
// the smooth activations (tanh, SELU) run the suite in both precisions.
TEST_CASE("Melu (squared error, ReLU) conforms - double", "[models][mlp][melu]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const Melu<double> m(ds, small_melu());
  test::conforms(m, RatingBatch{&ds, rows, 5});
}

TEST_CASE("Melu (ReLU): float agrees with double", "[models][mlp][melu]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const RatingBatch batch{&ds, rows, 5};
  const Melu<double> md(ds, small_melu());
  const Melu<float> mf(ds, small_melu());
  Vector<double> td(md.num_parameters());
  Rng rng(2024);
  md.initialize(td, rng);
  const Vector<float> tf = td.cast<float>();
  const Vector<double> tdr = tf.cast<double>();  // the same θ in both precisions
  Vector<double> gd(td.size()), hd(td.size());
  Vector<float> gf(td.size()), hf(td.size());
  const Vector<double> v = test::random_direction<double>(td.size(), rng);
  const double ld = md.loss_and_gradient(tdr, batch, gd);
  const float lf = mf.loss_and_gradient(tf, batch, gf);
  md.hessian_vector_product(tdr, batch, v, hd);
  mf.hessian_vector_product(tf, batch, v.cast<float>(), hf);
  CHECK(lf == Approx(ld).epsilon(1e-5));
  CHECK((gf.cast<double>() - gd).norm() <= 1e-5 * (1 + gd.norm()));
  CHECK((hf.cast<double>() - hd).norm() <= 1e-5 * (1 + hd.norm()));
}

TEMPLATE_TEST_CASE("Melu (BCE, tanh, ids, sum pooling, dropout) conforms", "[models][mlp][melu]",
                   float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  MeluModelOptions o = small_melu(nn::LossKind::bce, 0.3);
  o.activation = nn::Activation::tanh;
  o.user_id = o.item_id = true;
  o.pooling = nn::Pooling::sum;
  o.init = nn::DenseInit::xavier_uniform;
  const Melu<TestType> m(ds, o);
  test::conforms(m, RatingBatch{&ds, rows, 17});
}

TEMPLATE_TEST_CASE("Melu (SELU, sigmoid-free default sizes) conforms", "[models][mlp][melu]", float,
                   double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  MeluModelOptions o{.embedding_dim = 4, .hidden = {6}, .activation = nn::Activation::selu};
  o.init = nn::DenseInit::lecun_normal;
  const Melu<TestType> m(ds, o);
  test::conforms(m, RatingBatch{&ds, rows});
}

TEST_CASE("Melu: default architecture is six 32-d embeddings into 64-64-1", "[models][mlp][melu]") {
  const Dataset ds = test::tiny_dataset();
  const Melu<float> m(ds);
  CHECK(m.embeddings().num_fields() == 6);
  CHECK(m.embeddings().rows() == 192);
  const auto& L = m.decision_layers().layers();
  REQUIRE(L.size() == 3);
  CHECK(L[0].in() == 192);
  CHECK(L[0].out() == 64);
  CHECK(L[1].out() == 64);
  CHECK(L[2].out() == 1);
  const Eigen::Index emb = 32 * (2 + 7 + 21 + 10 + 4 + 3);
  CHECK(m.num_parameters() == emb + (192 * 64 + 64) + (64 * 64 + 64) + (64 + 1));
}

TEST_CASE("Melu: local segments are exactly the decision layers", "[models][mlp][melu]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const Melu<double> m(ds, small_melu());
  std::vector<Segment> local;
  m.local_segments(RatingBatch{&ds, rows}, local);
  // The expected set: every layout block whose name starts with "decision." — nothing else.
  std::vector<Segment> expected;
  Eigen::Index embedding_params = 0;
  const auto& names = m.layout().names();
  const auto& blocks = m.layout().blocks();
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (names[k].rfind("decision.", 0) == 0)
      expected.push_back(blocks[k].segment());
    else
      embedding_params += blocks[k].size();
  }
  REQUIRE(expected.size() == 6);  // W and b of 3 layers
  CHECK(local == expected);
  Eigen::Index local_size = 0;
  for (const auto& s : local) local_size += s.size;
  CHECK(local_size == (18 * 5 + 5) + (5 * 4 + 4) + (4 + 1));  // 6 fields × 3 dims in
  CHECK(local_size + embedding_params == m.num_parameters());
  // Independent of the batch.
  std::vector<Segment> other;
  const RowIndex one[] = {3};
  m.local_segments(RatingBatch{&ds, one}, other);
  CHECK(other == local);
}

TEST_CASE("Melu: prediction matches the formula by hand", "[models][mlp][melu]") {
  const Dataset ds = test::tiny_dataset();
  MeluModelOptions o{.embedding_dim = 2, .hidden = {3}};
  o.user_fields = {"gender"};
  o.item_fields = {"genre"};
  const Melu<double> m(ds, o);
  Vector<double> theta(m.num_parameters());
  Rng rng(4);
  m.initialize(theta, rng);
  const auto& blocks = m.layout().blocks();  // gender table, genre table, W1, b1, W2, b2
  REQUIRE(blocks.size() == 6);
  // Pick a row whose item has two genres (items with i % 3 == 0), to exercise mean pooling.
  RowIndex r = 0;
  while (ds.item(r) % 3 != 0) ++r;
  const std::uint32_t u = ds.user(r), i = ds.item(r);
  const auto G = blocks[0].map<double>(ConstVectorRef<double>(theta));
  const auto T = blocks[1].map<double>(ConstVectorRef<double>(theta));
  const auto genres = ds.item_features().find("genre")->of(i);
  REQUIRE(genres.size() == 2);
  Vector<double> x(4);
  x.head(2) = G.col(ds.user_features().find("gender")->of(u)[0]);
  x.tail(2) = 0.5 * (T.col(genres[0]) + T.col(genres[1]));
  const auto W1 = blocks[2].map<double>(ConstVectorRef<double>(theta));
  const auto b1 = blocks[3].map<double>(ConstVectorRef<double>(theta));
  const auto W2 = blocks[4].map<double>(ConstVectorRef<double>(theta));
  const auto b2 = blocks[5].map<double>(ConstVectorRef<double>(theta));
  const Vector<double> h = (W1 * x + b1).cwiseMax(0.0);
  const double expected = (W2 * h + b2)(0, 0);
  Vector<double> out(1);
  const RowIndex one[] = {r};
  m.predict(theta, RatingBatch{&ds, one}, out);
  CHECK(out[0] == Approx(expected).epsilon(1e-12));
  // Squared-error loss of that row.
  CHECK(m.loss(theta, RatingBatch{&ds, one}) ==
        Approx(std::pow(expected - ds.rating(r), 2)).epsilon(1e-12));
}

TEST_CASE("Melu: dropout is seeded during training and off at prediction", "[models][mlp][melu]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const Melu<double> with(ds, small_melu(nn::LossKind::squared_error, 0.5));
  const Melu<double> without(ds, small_melu());
  REQUIRE(with.num_parameters() == without.num_parameters());
  Vector<double> theta(with.num_parameters());
  Rng rng(8);
  with.initialize(theta, rng);
  Vector<double> p1(rows.size()), p2(rows.size());
  with.predict(theta, RatingBatch{&ds, rows, 1}, p1);
  without.predict(theta, RatingBatch{&ds, rows, 2}, p2);
  CHECK(p1 == p2);  // no dropout at prediction, whatever the seed
  const double l_a = with.loss(theta, RatingBatch{&ds, rows, 1});
  const double l_b = with.loss(theta, RatingBatch{&ds, rows, 1});
  const double l_c = with.loss(theta, RatingBatch{&ds, rows, 2});
  const double l_none = without.loss(theta, RatingBatch{&ds, rows, 1});
  CHECK(l_a == l_b);        // same seed, same masks
  CHECK(l_a != l_c);        // another seed, other masks
  CHECK(l_a != l_none);     // dropout is on in the training loss
  // A row's mask depends on its row number, not its position in the batch.
  std::vector<RowIndex> reversed(rows.rbegin(), rows.rend());
  CHECK(with.loss(theta, RatingBatch{&ds, reversed, 1}) == Approx(l_a).epsilon(1e-12));
}

TEST_CASE("Melu: errors at the boundary", "[models][mlp][melu]") {
  const Dataset ds = test::tiny_dataset();
  MeluModelOptions none;
  none.user_fields = {"nope"};
  none.item_fields = {};
  CHECK_THROWS_AS(Melu<float>(ds, none), std::invalid_argument);
  CHECK_THROWS_AS(Melu<float>(ds, {.embedding_dim = 0}), std::invalid_argument);
  CHECK_THROWS_AS(Melu<float>(ds, {.dropout = 1.0}), std::invalid_argument);
  const Melu<float> m(ds, small_melu());
  Vector<float> theta(m.num_parameters()), out(2);
  Rng rng(1);
  m.initialize(theta, rng);
  const auto rows = test::all_rows(ds);
  CHECK_THROWS_AS(m.predict(theta, RatingBatch{&ds, rows}, out), std::invalid_argument);
  CHECK_THROWS_AS(m.loss(theta, RatingBatch{nullptr, rows}), std::invalid_argument);
  // A data set without side features does not match the model.
  DatasetParts p;
  p.users = IdMap::from_ids({1});
  p.items = IdMap::from_ids({1});
  p.user = {0};
  p.item = {0};
  p.rating = {4};
  const Dataset bare(std::move(p));
  const RowIndex one[] = {0};
  CHECK_THROWS_AS(m.loss(theta, RatingBatch{&bare, one}), std::invalid_argument);
}

TEMPLATE_TEST_CASE("Melu: gradient and HVP reject wrong sizes", "[models][mlp][melu]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const Melu<TestType> m(ds, small_melu());
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows, 3}, "Melu");
}

// Prediction over many rows takes the first layer through per-field tables (W₁ x = Σ_f W₁,f e_f);
// one row at a time takes the plain route (embed, then multiply). Both must agree.
TEMPLATE_TEST_CASE("Melu: prediction over many rows (per-field tables) equals row by row", "[models][mlp][melu]",
                   float, double) {
  using S = TestType;
  const Dataset ds = test::tiny_dataset();
  std::vector<RowIndex> rows;
  for (int rep = 0; rep < 8; ++rep)
    for (const RowIndex r : test::all_rows(ds)) rows.push_back(r);
  for (const bool ids : {false, true}) {
    INFO("ids " << ids);
    MeluModelOptions o = small_melu();
    o.user_id = o.item_id = ids;
    o.pooling = ids ? nn::Pooling::sum : nn::Pooling::mean;
    const Melu<S> m(ds, o);
    const Eigen::Index h = o.hidden.front();
    const auto many = m.embeddings().linear_costs(h, static_cast<Eigen::Index>(rows.size()));
    const auto one = m.embeddings().linear_costs(h, 1);
    REQUIRE(many.first < many.second);  // the batch takes the table route
    REQUIRE(one.first > one.second);    // a single row the plain one
    Vector<S> theta(m.num_parameters());
    Rng rng(12);
    m.initialize(theta, rng);
    Vector<S> all(static_cast<Eigen::Index>(rows.size())), single(1);
    m.predict(theta, RatingBatch{&ds, rows}, all);
    for (std::size_t k = 0; k < rows.size(); ++k) {
      m.predict(theta, RatingBatch{&ds, std::span<const RowIndex>(&rows[k], 1)}, single);
      CHECK(all[static_cast<Eigen::Index>(k)] == Approx(single[0]).epsilon(std::is_same_v<S, float> ? 1e-5 : 1e-12));
    }
  }
}

}  // namespace unity_test_melu
