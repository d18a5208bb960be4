// Every building block of metarec/nn: gradient vs central differences and R-operator H·v vs
// differences of gradients, in double, on tiny random inputs. Each block is wrapped into the
// scalar L(θ) = Σ C∘Y + ½‖Y‖² of its output Y (C fixed and random), so ∂L/∂Y = C + Y and
// R{∂L/∂Y} = R{Y}; where a block's input matters, the input itself is a block of θ.
#include "../models/tiny_data.hpp"
#include "block_check.hpp"

#include <metarec/nn/activation.hpp>
#include <metarec/nn/bi_interaction.hpp>
#include <metarec/nn/cin.hpp>
#include <metarec/nn/dense.hpp>
#include <metarec/nn/dropout.hpp>
#include <metarec/nn/embedding.hpp>
#include <metarec/nn/loss.hpp>
#include <metarec/nn/mlp.hpp>

#include <catch.hpp>

#include <cmath>

using namespace metarec;
using nn::Activation;
using namespace metarec::test;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_layers {

namespace {

// Input X (in × B) and one Dense layer, both in θ.
struct DenseProbe {
  ParameterLayout layout;
  Block X;
  nn::Dense d;
  Eigen::Index B = 3;
  Matrix<double> Z, RZ, dX, RdX;
  DenseProbe() {
    X = layout.add("x", 4, B);
    d = nn::Dense::add(layout, "fc", 4, 2);
  }
  Eigen::Index n() const { return layout.size(); }
  Matrix<double> forward(const Vector<double>& t) {
    Z.resize(2, B);
    d.forward<double>(t, X.map<double>(ConstVectorRef<double>(t)), Z);
    return Z;
  }
  void backward(const Vector<double>& t, const Matrix<double>& G, Vector<double>& g) {
    DenseGradientSink<double> sink(g);
    dX.resize(4, B);
    nn::MatRef<double> dx(dX);
    d.backward<double>(t, X.map<double>(ConstVectorRef<double>(t)), G, sink, &dx);
    X.map<double>(VectorRef<double>(g)) += dX;
  }
  Matrix<double> r_forward(const Vector<double>& t, const Vector<double>& v) {
    RZ.resize(2, B);
    const nn::ConstMatRef<double> rx = X.map<double>(ConstVectorRef<double>(v));
    d.r_forward<double>(t, v, X.map<double>(ConstVectorRef<double>(t)), &rx, RZ);
    return RZ;
  }
  void r_backward(const Vector<double>& t, const Vector<double>& v, const Matrix<double>& G,
                  const Matrix<double>& RG, Vector<double>& hv) {
    DenseGradientSink<double> sink(hv);
    RdX.resize(4, B);
    nn::MatRef<double> rdx(RdX);
    const nn::ConstMatRef<double> rx = X.map<double>(ConstVectorRef<double>(v));
    d.r_backward<double>(t, v, X.map<double>(ConstVectorRef<double>(t)), &rx, G, RG, sink, &rdx);
    X.map<double>(VectorRef<double>(hv)) += RdX;
  }
};

// Input X in θ and an Mlp (any activations, optional dropout).
struct MlpProbe {
  ParameterLayout layout;
  Block X;
  nn::Mlp mlp;
  Eigen::Index B = 4;
  nn::MlpWorkspace<double> ws;
  std::vector<RowIndex> rows{0, 5, 2, 9};
  bool training = true;
  MlpProbe(std::vector<Eigen::Index> sizes, Activation hidden, Activation out, double dropout,
           bool batch_norm = false) {
    X = layout.add("x", sizes.front(), B);
    mlp = nn::Mlp(layout, "mlp",
                  {.sizes = sizes, .hidden = hidden, .output = out, .dropout = dropout,
                   .batch_norm = batch_norm});
    ws.reserve(mlp, B);
  }
  Eigen::Index n() const { return layout.size(); }
  Matrix<double> forward(const Vector<double>& t) {
    ws.a[0].leftCols(B) = X.map<double>(ConstVectorRef<double>(t));
    mlp.forward<double>(t, ws, {7, rows, training});
    return ws.a.back().leftCols(B);
  }
  void backward(const Vector<double>& t, const Matrix<double>& G, Vector<double>& g) {
    DenseGradientSink<double> sink(g);
    ws.g.back().leftCols(B) = G;
    mlp.backward<double>(t, ws, sink, true);
    X.map<double>(VectorRef<double>(g)) += ws.g[0].leftCols(B);
  }
  Matrix<double> r_forward(const Vector<double>& t, const Vector<double>& v) {
    ws.ra[0].leftCols(B) = X.map<double>(ConstVectorRef<double>(v));
    mlp.r_forward<double>(t, v, ws, true);
    return ws.ra.back().leftCols(B);
  }
  void r_backward(const Vector<double>& t, const Vector<double>& v, const Matrix<double>&,
                  const Matrix<double>& RG, Vector<double>& hv) {
    DenseGradientSink<double> sink(hv);
    ws.rg.back().leftCols(B) = RG;
    mlp.r_backward<double>(t, v, ws, sink, true, true);
    X.map<double>(VectorRef<double>(hv)) += ws.rg[0].leftCols(B);
  }
};

// Embedding tables of the tiny data set (ids and all side fields); θ = the tables.
struct EmbeddingProbe {
  Dataset ds = test::tiny_dataset();
  std::vector<RowIndex> rows{0, 3, 7, 12, 20};
  ParameterLayout layout;
  nn::EmbeddingFields emb;
  Matrix<double> Y;
  explicit EmbeddingProbe(nn::Pooling pooling) {
    emb = nn::EmbeddingFields::from_dataset(
        ds, {.user_fields = {"gender", "age", "occupation", "zip_prefix"},
             .item_fields = {"genre", "year"}, .pooling = pooling},
        2, layout, "emb");
  }
  RatingBatch batch() const { return {&ds, rows}; }
  Eigen::Index n() const { return layout.size(); }
  Matrix<double> forward(const Vector<double>& t) {
    Y.resize(emb.rows(), static_cast<Eigen::Index>(rows.size()));
    emb.gather<double>(t, batch(), Y);
    return Y;
  }
  void backward(const Vector<double>&, const Matrix<double>& G, Vector<double>& g) {
    DenseGradientSink<double> sink(g);
    emb.scatter<double>(G, batch(), sink);
  }
  Matrix<double> r_forward(const Vector<double>& t, const Vector<double>& v) {
    (void)t;
    return forward(v);
  }
  void r_backward(const Vector<double>&, const Vector<double>&, const Matrix<double>&,
                  const Matrix<double>& RG, Vector<double>& hv) {
    DenseGradientSink<double> sink(hv);
    emb.scatter<double>(RG, batch(), sink);
  }
};

// F stacked k-dimensional embeddings E in θ into the bi-interaction.
struct BiProbe {
  ParameterLayout layout;
  Block E;
  nn::BiInteraction bi{3};
  Eigen::Index B = 3;
  Matrix<double> s, P, dE, Rs, RP, RdE;
  BiProbe() { E = layout.add("E", 4 * 3, B); }
  Eigen::Index n() const { return layout.size(); }
  Matrix<double> forward(const Vector<double>& t) {
    s.resize(3, B);
    P.resize(3, B);
    bi.forward<double>(E.map<double>(ConstVectorRef<double>(t)), s, P);
    return P;
  }
  void backward(const Vector<double>& t, const Matrix<double>& G, Vector<double>& g) {
    dE.resize(E.rows, B);
    bi.backward<double>(E.map<double>(ConstVectorRef<double>(t)), s, G, dE);
    E.map<double>(VectorRef<double>(g)) += dE;
  }
  Matrix<double> r_forward(const Vector<double>& t, const Vector<double>& v) {
    Rs.resize(3, B);
    RP.resize(3, B);
    bi.r_forward<double>(E.map<double>(ConstVectorRef<double>(t)), s,
                         E.map<double>(ConstVectorRef<double>(v)), Rs, RP);
    return RP;
  }
  void r_backward(const Vector<double>& t, const Vector<double>& v, const Matrix<double>& G,
                  const Matrix<double>& RG, Vector<double>& hv) {
    RdE.resize(E.rows, B);
    bi.r_backward<double>(E.map<double>(ConstVectorRef<double>(t)), s,
                          E.map<double>(ConstVectorRef<double>(v)), Rs, G, RG, RdE);
    E.map<double>(VectorRef<double>(hv)) += RdE;
  }
};

// m = 3 fields of width D = 2 stacked in E (θ) into a two-layer CIN (H = 2, 3); output 1 × B.
struct CinProbe {
  ParameterLayout layout;
  Block E;
  nn::Cin cin;
  Eigen::Index B = 3;
  nn::CinWorkspace<double> ws;
  Matrix<double> y, ry, dE, RdE;
  CinProbe() {
    E = layout.add("E", 3 * 2, B);
    cin = nn::Cin(layout, "cin", 3, 2, {2, 3});
    ws.reserve(cin, B);
  }
  Eigen::Index n() const { return layout.size(); }
  Matrix<double> forward(const Vector<double>& t) {
    y.resize(1, B);
    cin.forward<double>(t, E.map<double>(ConstVectorRef<double>(t)), ws, y);
    return y;
  }
  void backward(const Vector<double>& t, const Matrix<double>& G, Vector<double>& g) {
    DenseGradientSink<double> sink(g);
    ws.out_grad.leftCols(B) = G;
    dE.resize(E.rows, B);
    cin.backward<double>(t, ws, sink, dE);
    E.map<double>(VectorRef<double>(g)) += dE;
  }
  Matrix<double> r_forward(const Vector<double>& t, const Vector<double>& v) {
    ry.resize(1, B);
    cin.r_forward<double>(t, v, E.map<double>(ConstVectorRef<double>(v)), ws, ry);
    return ry;
  }
  void r_backward(const Vector<double>& t, const Vector<double>& v, const Matrix<double>&,
                  const Matrix<double>& RG, Vector<double>& hv) {
    DenseGradientSink<double> sink(hv);
    ws.r_out_grad.leftCols(B) = RG;
    RdE.resize(E.rows, B);
    cin.r_backward<double>(t, v, ws, sink, RdE);
    E.map<double>(VectorRef<double>(hv)) += RdE;
  }
};

}  // namespace

TEST_CASE("CIN: gradient and R-operator HVP", "[nn][cin]") {
  CinProbe p;
  check_block(p);
  check_block(p, 9);
}

TEST_CASE("Dense: gradient and R-operator HVP", "[nn][dense]") {
  DenseProbe p;
  check_block(p);
}

TEST_CASE("Activations: gradient and HVP through a one-layer MLP", "[nn][activation]") {
  for (const Activation a : {Activation::identity, Activation::relu, Activation::selu,
                             Activation::tanh, Activation::sigmoid}) {
    INFO("activation " << nn::to_string(a));
    MlpProbe p({3, 4}, Activation::identity, a, 0.0);
    check_block(p, 3);
  }
}

TEST_CASE("Activations: derivatives match differences", "[nn][activation]") {
  Rng rng(5);
  const Matrix<double> z = 2.0 * random_matrix(3, 5, rng);
  const double h = 1e-6;
  for (const Activation a : {Activation::identity, Activation::relu, Activation::selu,
                             Activation::tanh, Activation::sigmoid}) {
    INFO("activation " << nn::to_string(a));
    Matrix<double> f(3, 5), d1(3, 5), d2(3, 5), fp(3, 5), fm(3, 5), d1p(3, 5), d1m(3, 5);
    nn::activation_forward<double>(a, z, f, d1);
    nn::activation_second<double>(a, z, d2);
    nn::activation_forward<double>(a, (z.array() + h).matrix(), fp, d1p);
    nn::activation_forward<double>(a, (z.array() - h).matrix(), fm, d1m);
    CHECK(((fp - fm) / (2 * h) - d1).cwiseAbs().maxCoeff() < 1e-6);
    CHECK(((d1p - d1m) / (2 * h) - d2).cwiseAbs().maxCoeff() < 1e-6);
  }
  Matrix<double> f(1, 3), d1(1, 3);
  nn::activation_forward<double>(Activation::sigmoid, Matrix<double>{{-800.0, 0.0, 800.0}}, f, d1);
  CHECK(f.allFinite());
  CHECK(f(0, 1) == 0.5);
}

TEST_CASE("Mlp: gradient and HVP, three layers, each hidden activation, with dropout",
          "[nn][mlp]") {
  for (const Activation a : {Activation::relu, Activation::selu, Activation::tanh,
                             Activation::sigmoid}) {
    for (const double p : {0.0, 0.4}) {
      INFO("hidden " << nn::to_string(a) << ", dropout " << p);
      MlpProbe probe({3, 5, 4, 2}, a, Activation::identity, p);
      check_block(probe, 11);
    }
  }
}

TEST_CASE("Mlp with batch normalisation (training mode): gradient and HVP", "[nn][mlp][batch_norm]") {
  for (const Activation a : {Activation::relu, Activation::tanh, Activation::selu}) {
    for (const double p : {0.0, 0.4}) {
      INFO("hidden " << nn::to_string(a) << ", dropout " << p);
      MlpProbe probe({3, 5, 4, 2}, a, Activation::identity, p, true);
      REQUIRE(probe.mlp.batch_norms().size() == 2);  // hidden layers only
      check_block(probe, 13);
    }
  }
}

TEST_CASE("Mlp with batch normalisation: running statistics and inference mode", "[nn][mlp][batch_norm]") {
  MlpProbe probe({3, 5, 2}, Activation::tanh, Activation::identity, 0.0, true);
  Vector<double> t(probe.n());
  Rng rng(4);
  for (Eigen::Index k = 0; k < t.size(); ++k) t[k] = rng.normal();
  probe.mlp.initialize<double>(t, rng);
  const auto& bn = probe.mlp.batch_norms()[0];
  CHECK(t.segment(bn.running_var.offset, 5).isOnes(0.0));
  probe.training = true;
  (void)probe.forward(t);
  const Vector<double> mu = probe.ws.bn[0].mean;
  probe.mlp.update_running<double>(t, probe.ws);
  CHECK(t.segment(bn.running_mean.offset, 5).isApprox(0.1 * mu, 1e-12));
  // Inference mode with running statistics = the batch's (biased) statistics gives the training output.
  const Matrix<double> y_train = probe.forward(t);
  t.segment(bn.running_mean.offset, 5) = probe.ws.bn[0].mean;
  t.segment(bn.running_var.offset, 5) = probe.ws.bn[0].var;
  probe.training = false;
  CHECK(probe.forward(t).isApprox(y_train, 1e-12));
}

TEST_CASE("Embedding fields: gradient and HVP (mean and sum pooling)", "[nn][embedding]") {
  for (const auto pooling : {nn::Pooling::mean, nn::Pooling::sum}) {
    EmbeddingProbe p(pooling);
    CHECK(p.emb.num_fields() == 8);
    check_block(p);
  }
}

TEST_CASE("Embedding fields: pooling, unknown values and touched columns", "[nn][embedding]") {
  const Dataset ds = test::tiny_dataset();
  ParameterLayout layout;
  const auto emb = nn::EmbeddingFields::from_dataset(
      ds, {.user_id = false, .item_id = false, .user_fields = {"occupation", "missing"},
           .item_fields = {"genre"}},
      2, layout, "emb");
  REQUIRE(emb.num_fields() == 2);  // "missing" is skipped
  Vector<double> theta(layout.size());
  for (Eigen::Index k = 0; k < theta.size(); ++k) theta[k] = double(k + 1);
  // A row of user 6 (occupation unknown) and an item with two genres.
  RowIndex r = 0;
  while (!(ds.user(r) == 6 && ds.item(r) % 3 == 0)) ++r;
  const RowIndex one[] = {r};
  Matrix<double> X(4, 1);
  emb.gather<double>(theta, RatingBatch{&ds, one}, X);
  CHECK(X.col(0).head(2).isZero());  // unknown value → zero embedding
  const auto genres = ds.item_features().find("genre")->of(ds.item(r));
  const auto T = emb.fields()[1].table;
  for (int j = 0; j < 2; ++j)
    CHECK(X(2 + j, 0) == Approx(0.5 * (theta[T.offset + 2 * genres[0] + j] +
                                       theta[T.offset + 2 * genres[1] + j])));
  SparseGradient<double> g(layout.size());
  emb.scatter<double>(Matrix<double>::Ones(4, 1), RatingBatch{&ds, one}, g);
  CHECK(g.touched().size() == 2);  // the two genre columns only
  CHECK(g.dense().sum() == Approx(2.0));  // 2 dims × (½ + ½)
}

TEST_CASE("Bi-interaction: value, gradient and HVP", "[nn][bi_interaction]") {
  BiProbe p;
  check_block(p);
  // p = Σ_{f<g} e_f∘e_g, checked directly.
  Rng rng(2);
  const Matrix<double> E = random_matrix(12, 2, rng);
  Matrix<double> s(3, 2), P(3, 2);
  p.bi.forward<double>(E, s, P);
  Matrix<double> expected = Matrix<double>::Zero(3, 2);
  for (int f = 0; f < 4; ++f)
    for (int g = f + 1; g < 4; ++g)
      expected += E.middleRows(3 * f, 3).cwiseProduct(E.middleRows(3 * g, 3));
  CHECK((P - expected).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("Dropout masks: seeded by (seed, row, layer), inverted scaling", "[nn][dropout]") {
  std::vector<RowIndex> rows(200);
  for (RowIndex k = 0; k < 200; ++k) rows[k] = k;
  Matrix<double> m1(50, 200), m2(50, 200), m3(50, 200);
  nn::dropout_mask<double>({9, rows, true}, 0.25, 1, m1);
  nn::dropout_mask<double>({9, rows, true}, 0.25, 1, m2);
  nn::dropout_mask<double>({9, rows, true}, 0.25, 2, m3);
  CHECK(m1 == m2);
  CHECK(m1 != m3);
  const double kept = (m1.array() > 0).cast<double>().mean();
  CHECK(kept == Approx(0.75).margin(0.02));
  CHECK((m1.array() == 0 || m1.array() == 1.0 / 0.75).all());
  const std::vector<RowIndex> reversed(rows.rbegin(), rows.rend());
  Matrix<double> mr(50, 200);
  nn::dropout_mask<double>({9, reversed, true}, 0.25, 1, mr);
  CHECK(mr.col(0) == m1.col(199));
}

TEST_CASE("Losses: derivatives match differences", "[nn][loss]") {
  const double h = 1e-6;
  for (const auto kind : {nn::LossKind::squared_error, nn::LossKind::bce}) {
    for (const double y : {-3.0, -0.2, 0.0, 1.7, 4.0}) {
      for (const double t : {0.0, 1.0, 3.5}) {
        if (kind == nn::LossKind::bce && t > 1) continue;
        const auto c = nn::loss_terms<double>(kind, y, t);
        const auto p = nn::loss_terms<double>(kind, y + h, t);
        const auto m = nn::loss_terms<double>(kind, y - h, t);
        CHECK((p.value - m.value) / (2 * h) == Approx(c.d1).margin(1e-7));
        CHECK((p.d1 - m.d1) / (2 * h) == Approx(c.d2).margin(1e-7));
      }
    }
  }
  CHECK(nn::loss_target(nn::LossKind::bce, 4.0, 3.0) == 1.0);
  CHECK(nn::loss_target(nn::LossKind::bce, 3.0, 3.0) == 0.0);
  CHECK(nn::loss_target(nn::LossKind::squared_error, 3.0, 3.0) == 3.0);
  CHECK(std::isfinite(nn::loss_terms<double>(nn::LossKind::bce, 1000.0, 0.0).value));
  CHECK(nn::loss_terms<double>(nn::LossKind::bce, 0.0, 1.0).value == Approx(std::log(2.0)));
}

}  // namespace unity_test_layers
