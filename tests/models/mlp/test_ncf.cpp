#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mlp/ncf.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_ncf {

static_assert(Model<Ncf<float>>);
static_assert(Model<Ncf<double>>);
static_assert(HasSparseHessianVectorProduct<Ncf<double>>);
static_assert(HasLocalSegments<Ncf<float>>);

namespace {
NcfOptions small_ncf(NcfVariant variant) {
  // Smooth tower (tanh) so float central differences stay meaningful; larger embeddings at
  // initialisation so every term of the gradient is well above the tolerance.
  return {.variant = variant, .gmf_dim = 3, .mlp_dim = 3, .hidden = {4, 3},
          .activation = nn::Activation::tanh, .embedding_std = 0.5};
}
}  // namespace

TEMPLATE_TEST_CASE("Ncf GMF conforms", "[models][mlp][ncf]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::conforms(Ncf<TestType>(ds, small_ncf(NcfVariant::gmf)), RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("Ncf MLP (side features, dropout) conforms", "[models][mlp][ncf]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  NcfOptions o = small_ncf(NcfVariant::mlp);
  o.side_features = true;
  o.dropout = 0.2;
  test::conforms(Ncf<TestType>(ds, o), RatingBatch{&ds, rows, 9});
}

TEMPLATE_TEST_CASE("Ncf NeuMF conforms (BCE and squared error)", "[models][mlp][ncf]", float,
                   double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::conforms(Ncf<TestType>(ds, small_ncf(NcfVariant::neumf)), RatingBatch{&ds, rows});
  NcfOptions o = small_ncf(NcfVariant::neumf);
  o.loss = nn::LossKind::squared_error;
  test::conforms(Ncf<TestType>(ds, o), RatingBatch{&ds, rows});
}

TEST_CASE("Ncf NeuMF with the paper's ReLU tower conforms - double", "[models][mlp][ncf]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  NcfOptions o = small_ncf(NcfVariant::neumf);
  o.activation = nn::Activation::relu;
  test::conforms(Ncf<double>(ds, o), RatingBatch{&ds, rows});
}

TEST_CASE("Ncf: GMF and MLP embedding tables are separate", "[models][mlp][ncf]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const RatingBatch batch{&ds, rows};

  // NeuMF has two user tables and two item tables, at different places in θ.
  const Ncf<double> neumf(ds, small_ncf(NcfVariant::neumf));
  const auto& gmf = neumf.gmf_embeddings().fields();
  const auto& mlp = neumf.mlp_embeddings().fields();
  REQUIRE(gmf.size() == 2);
  REQUIRE(mlp.size() == 2);
  for (const auto& g : gmf)
    for (const auto& m : mlp) {
      const bool disjoint = g.table.offset + g.table.size() <= m.table.offset ||
                            m.table.offset + m.table.size() <= g.table.offset;
      CHECK(disjoint);
    }

  // GMF-only: every touched segment lies in a GMF table or the output layer, never elsewhere.
  const Ncf<double> gmf_only(ds, small_ncf(NcfVariant::gmf));
  CHECK(gmf_only.mlp_embeddings().num_fields() == 0);
  Vector<double> t(gmf_only.num_parameters());
  Rng rng(3);
  gmf_only.initialize(t, rng);
  SparseGradient<double> sg(gmf_only.num_parameters());
  (void)gmf_only.loss_and_gradient(t, batch, sg);
  for (const auto& s : sg.touched()) {
    bool inside = false;
    for (const auto& f : gmf_only.gmf_embeddings().fields())
      inside |= s.offset >= f.table.offset && s.offset + s.size <= f.table.offset + f.table.size();
    const auto& names = gmf_only.layout().names();
    const auto& blocks = gmf_only.layout().blocks();
    for (std::size_t k = 0; k < names.size(); ++k)
      if (names[k].rfind("predict.", 0) == 0) inside |= s == blocks[k].segment();
    CHECK(inside);
  }

  // In NeuMF, a gradient flowing only through the GMF path (the output weights on the MLP part
  // set to zero) never touches the MLP embedding rows — and vice versa.
  Vector<double> theta(neumf.num_parameters());
  neumf.initialize(theta, rng);
  const auto& names = neumf.layout().names();
  const auto& blocks = neumf.layout().blocks();
  Block head_w;
  for (std::size_t k = 0; k < names.size(); ++k)
    if (names[k] == "predict.0.weight") head_w = blocks[k];
  REQUIRE(head_w.size() == 3 + 3);  // [φ_G (3); φ_M (3)]
  auto table_norm = [&](const Vector<double>& g, const std::vector<nn::FieldSpec>& fields) {
    double s = 0;
    for (const auto& f : fields) s += g.segment(f.table.offset, f.table.size()).squaredNorm();
    return s;
  };
  Vector<double> g(theta.size());
  Vector<double> gmf_path = theta;
  gmf_path.segment(head_w.offset + 3, 3).setZero();
  (void)neumf.loss_and_gradient(gmf_path, batch, g);
  CHECK(table_norm(g, gmf) > 0);
  CHECK(table_norm(g, mlp) == 0.0);
  Vector<double> mlp_path = theta;
  mlp_path.segment(head_w.offset, 3).setZero();
  (void)neumf.loss_and_gradient(mlp_path, batch, g);
  CHECK(table_norm(g, gmf) == 0.0);
  CHECK(table_norm(g, mlp) > 0);
}

TEST_CASE("Ncf: GMF prediction by hand; local segments are the users' rows", "[models][mlp][ncf]") {
  const Dataset ds = test::tiny_dataset();
  const Ncf<double> m(ds, small_ncf(NcfVariant::gmf));
  Vector<double> theta(m.num_parameters());
  Rng rng(6);
  m.initialize(theta, rng);
  const RowIndex r = 11;
  const auto& f = m.gmf_embeddings().fields();
  const Vector<double> p = theta.segment(f[0].table.column(ds.user(r)).offset, 3);
  const Vector<double> q = theta.segment(f[1].table.column(ds.item(r)).offset, 3);
  const Block W = m.layout().blocks()[2], b = m.layout().blocks()[3];
  const double logit = theta.segment(W.offset, 3).dot(p.cwiseProduct(q)) + theta[b.offset];
  Vector<double> out(1);
  const RowIndex one[] = {r};
  m.predict(theta, RatingBatch{&ds, one}, out);
  CHECK(out[0] == Approx(1.0 / (1.0 + std::exp(-logit))).epsilon(1e-12));

  const Ncf<double> neumf(ds, small_ncf(NcfVariant::neumf));
  const auto user_rows = ds.by_user()[2];
  std::vector<Segment> local;
  neumf.local_segments(RatingBatch{&ds, user_rows}, local);
  REQUIRE(local.size() == 2);
  CHECK(local[0] == neumf.gmf_embeddings().fields()[0].table.column(2));
  CHECK(local[1] == neumf.mlp_embeddings().fields()[0].table.column(2));
}

TEMPLATE_TEST_CASE("Ncf: gradient and HVP reject wrong sizes", "[models][mlp][ncf]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const Ncf<TestType> m(ds, small_ncf(NcfVariant::neumf));
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows, 3}, "Ncf");
}

}  // namespace unity_test_ncf
