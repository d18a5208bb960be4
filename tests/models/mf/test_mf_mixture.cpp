#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/mixture_mf.hpp>

#include <cmath>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_mf_mixture {

static_assert(Model<MixtureMF<float>>);
static_assert(Model<MixtureMF<double>>);
static_assert(HasSparseHessianVectorProduct<MixtureMF<float>>);
static_assert(HasSparseHessianVectorProduct<MixtureMF<double>>);
static_assert(HasLocalSegments<MixtureMF<double>>);
static_assert(has_exact_gradient<MixtureMF<double>>);

TEMPLATE_TEST_CASE("MixtureMF conforms", "[models][mf][mixture]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MixtureMF<TestType> mix(ds.num_users(), ds.num_items(),
                                {.dims = 4, .tastes = 3, .reg = 0.05, .bias_reg = 0.03,
                                 .init_std = 0.5, .global_mean = ds.mean_rating()});
  test::conforms(mix, RatingBatch{&ds, rows});
}

TEMPLATE_TEST_CASE("MixtureMF (shared user, one taste) conforms", "[models][mf][mixture]", float,
                   double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MixtureMF<TestType> mix(ds.num_users(), ds.num_items(),
                                {.dims = 3, .tastes = 1, .init_std = 0.5, .shared_user = true});
  CHECK(mix.num_parameters() == 3 * 2 + 3 * ds.num_items() + 1 + ds.num_items());
  test::conforms(mix, RatingBatch{&ds, rows});
}

TEST_CASE("MixtureMF: HVP is symmetric (uᵀHv = vᵀHu) and linear in v", "[models][mf][mixture]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MixtureMF<double> mix(ds.num_users(), ds.num_items(), {.dims = 3, .tastes = 4, .init_std = 0.7});
  const Eigen::Index n = mix.num_parameters();
  Vector<double> theta(n);
  Rng rng(8);
  mix.initialize(theta, rng);
  const Vector<double> u = test::random_direction<double>(n, rng);
  const Vector<double> v = test::random_direction<double>(n, rng);
  Vector<double> hu(n), hv(n), huv(n);
  const RatingBatch batch{&ds, rows};
  mix.hessian_vector_product(theta, batch, u, hu);
  mix.hessian_vector_product(theta, batch, v, hv);
  mix.hessian_vector_product(theta, batch, (u + 2.0 * v).eval(), huv);
  CHECK(u.dot(hv) == Approx(v.dot(hu)).epsilon(1e-10));
  CHECK((huv - hu - 2.0 * hv).norm() <= 1e-10 * huv.norm());
}

TEST_CASE("MixtureMF: prediction formula with two tastes", "[models][mf][mixture]") {
  const Dataset ds = test::tiny_dataset();
  const MixtureMF<double> mix(ds.num_users(), ds.num_items(),
                              {.dims = 2, .tastes = 2, .global_mean = 3.5});
  Vector<double> theta = Vector<double>::Zero(mix.num_parameters());
  const auto& L = mix.layout().blocks();  // tastes, attention, items, user bias, item bias
  const RowIndex r = 5;
  const auto u = ds.user(r), i = ds.item(r);
  // q_i = (1, 1); tastes t1 = (2, 0), t2 = (0, −4); attention a1 = (ln 3, 0), a2 = (0, 0).
  // Scores: a1ᵀq = ln 3, a2ᵀq = 0 → α = (3/(3+1), 1/(3+1)) = (0.75, 0.25).
  // Taste scores: s1 = 2, s2 = −4 → Σ α s = 1.5 − 1 = 0.5.
  // r̂ = μ + b_u + b_i + 0.5 = 3.5 + 0.25 − 0.5 + 0.5 = 3.75.
  const Eigen::Index t0 = L[0].offset + 4 * u, a0 = L[1].offset + 4 * u, q0 = L[2].offset + 2 * i;
  theta[t0 + 0] = 2.0;   // t1
  theta[t0 + 3] = -4.0;  // t2
  theta[a0 + 0] = std::log(3.0);
  theta[q0 + 0] = 1.0;
  theta[q0 + 1] = 1.0;
  theta[L[3].offset + u] = 0.25;
  theta[L[4].offset + i] = -0.5;
  Vector<double> out(1);
  const RowIndex one[] = {r};
  mix.predict(theta, RatingBatch{&ds, one}, out);
  CHECK(out[0] == Approx(3.75).epsilon(1e-14));
  CHECK(mix.score(theta, u, i) == Approx(3.75).epsilon(1e-14));
  Vector<double> alpha(2);
  mix.attention(theta, u, i, alpha);
  CHECK(alpha[0] == Approx(0.75).epsilon(1e-14));
  CHECK(alpha[1] == Approx(0.25).epsilon(1e-14));
  // Loss of that one rating (rating r, no penalties): (3.75 − r)².
  const MixtureMF<double> nopen(ds.num_users(), ds.num_items(),
                                {.dims = 2, .tastes = 2, .reg = 0.0, .bias_reg = 0.0,
                                 .global_mean = 3.5});
  const double e = 3.75 - ds.rating(r);
  CHECK(nopen.loss(theta, RatingBatch{&ds, one}) == Approx(e * e).epsilon(1e-14));
}

TEST_CASE("MixtureMF: with one taste it is biased MF (score and factor gradients)",
          "[models][mf][mixture]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const RatingBatch batch{&ds, rows};
  const MatrixFactorization<double> mf(ds.num_users(), ds.num_items(),
                                       {.dims = 3, .reg = 0.04, .bias_reg = 0.02,
                                        .global_mean = 3.0});
  const MixtureMF<double> mix(ds.num_users(), ds.num_items(),
                              {.dims = 3, .tastes = 1, .reg = 0.04, .bias_reg = 0.02,
                               .global_mean = 3.0});
  Vector<double> th_mf(mf.num_parameters()), th_mix(mix.num_parameters());
  Rng rng(4);
  mf.initialize(th_mf, rng);
  th_mf.tail(ds.num_users() + ds.num_items()).setConstant(0.1);  // nonzero biases
  mix.initialize(th_mix, rng);                                    // attention: anything
  const auto& M = mf.layout().blocks();   // P, Q, bu, bi
  const auto& X = mix.layout().blocks();  // tastes, attention, Q, bu, bi
  th_mix.segment(X[0].offset, X[0].size()) = th_mf.segment(M[0].offset, M[0].size());
  th_mix.segment(X[2].offset, X[2].size()) = th_mf.segment(M[1].offset, M[1].size());
  th_mix.segment(X[3].offset, X[3].size()) = th_mf.segment(M[2].offset, M[2].size());
  th_mix.segment(X[4].offset, X[4].size()) = th_mf.segment(M[3].offset, M[3].size());
  Vector<double> p_mf(rows.size()), p_mix(rows.size());
  mf.predict(th_mf, batch, p_mf);
  mix.predict(th_mix, batch, p_mix);
  CHECK((p_mf - p_mix).cwiseAbs().maxCoeff() <= 1e-12);
  // α ≡ 1, so ∂r̂/∂a = α(s − Σαs) q = 0: the factor and bias gradients are MF's.
  Vector<double> g_mf(mf.num_parameters()), g_mix(mix.num_parameters());
  (void)mf.loss_and_gradient(th_mf, batch, g_mf);
  (void)mix.loss_and_gradient(th_mix, batch, g_mix);
  CHECK((g_mix.segment(X[0].offset, X[0].size()) - g_mf.segment(M[0].offset, M[0].size()))
            .cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((g_mix.segment(X[2].offset, X[2].size()) - g_mf.segment(M[1].offset, M[1].size()))
            .cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((g_mix.tail(X[3].size() + X[4].size()) - g_mf.tail(M[2].size() + M[3].size()))
            .cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("MixtureMF: local segments and argument checks", "[models][mf][mixture]") {
  const Dataset ds = test::tiny_dataset();
  CHECK_THROWS_AS(MixtureMF<float>(ds.num_users(), ds.num_items(), {.tastes = 0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(MixtureMF<float>(ds.num_users(), 0), std::invalid_argument);
  const MixtureMF<float> mix(ds.num_users(), ds.num_items(), {.dims = 2, .tastes = 3});
  const auto& L = mix.layout().blocks();
  const auto u = ds.user(0);
  std::vector<Segment> local;
  mix.local_segments(RatingBatch{&ds, ds.by_user()[u]}, local);
  REQUIRE(local.size() == 3);  // tastes, attention, bias; once although the user has many rows
  CHECK(local[0] == Segment{L[0].offset + 6 * u, 6});
  CHECK(local[1] == Segment{L[1].offset + 6 * u, 6});
  CHECK(local[2] == Segment{L[3].offset + u, 1});
  Vector<float> theta(mix.num_parameters()), alpha(2), v(mix.num_parameters()), hv(3);
  CHECK_THROWS_AS(mix.attention(theta, 0, 0, alpha), std::invalid_argument);
  const auto rows = test::all_rows(ds);
  CHECK_THROWS_AS(mix.hessian_vector_product(theta, RatingBatch{&ds, rows}, v, hv),
                  std::invalid_argument);
  Vector<float> out(2);
  CHECK_THROWS_AS(mix.predict(theta, RatingBatch{&ds, rows}, out), std::invalid_argument);
}

TEMPLATE_TEST_CASE("MixtureMF: gradient and HVP reject wrong sizes",
                   "[models][mf][mixture]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const MixtureMF<TestType> m(ds.num_users(), ds.num_items(), {.dims = 3, .tastes = 2});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows}, "MixtureMF");
}

}  // namespace unity_test_mf_mixture
