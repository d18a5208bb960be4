#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mf/variational_mf.hpp>

#include <cmath>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_mf_variational {

static_assert(Model<VariationalMF<float>>);
static_assert(Model<VariationalMF<double>>);
static_assert(HasSparseHessianVectorProduct<VariationalMF<float>>);
static_assert(HasSparseHessianVectorProduct<VariationalMF<double>>);
static_assert(HasLocalSegments<VariationalMF<double>>);
static_assert(has_exact_gradient<VariationalMF<double>>);

TEMPLATE_TEST_CASE("VariationalMF conforms", "[models][mf][variational]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const VariationalMF<TestType> vmf(ds.num_users(), ds.num_items(),
                                    {.dims = 4, .kl_weight = 0.05, .prior_std = 0.8,
                                     .bias_reg = 0.03, .init_std = 0.5, .init_sigma = 0.3,
                                     .global_mean = ds.mean_rating()});
  test::conforms(vmf, RatingBatch{&ds, rows, 77});
}

TEMPLATE_TEST_CASE("VariationalMF (two samples, shared user) conforms",
                   "[models][mf][variational]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const VariationalMF<TestType> vmf(ds.num_users(), ds.num_items(),
                                    {.dims = 3, .samples = 2, .kl_weight = 0.1,
                                     .init_std = 0.5, .init_sigma = 0.5, .shared_user = true});
  CHECK(vmf.num_parameters() == 2 * 3 * (1 + ds.num_items()) + 1 + ds.num_items());
  test::conforms(vmf, RatingBatch{&ds, rows, 5});
}

TEST_CASE("VariationalMF: HVP is symmetric and linear in v", "[models][mf][variational]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const VariationalMF<double> vmf(ds.num_users(), ds.num_items(),
                                  {.dims = 3, .kl_weight = 0.2, .init_std = 0.6, .init_sigma = 0.4});
  const Eigen::Index n = vmf.num_parameters();
  Vector<double> theta(n);
  Rng rng(8);
  vmf.initialize(theta, rng);
  const Vector<double> u = test::random_direction<double>(n, rng);
  const Vector<double> v = test::random_direction<double>(n, rng);
  Vector<double> hu(n), hv(n), huv(n);
  const RatingBatch batch{&ds, rows, 3};
  vmf.hessian_vector_product(theta, batch, u, hu);
  vmf.hessian_vector_product(theta, batch, v, hv);
  vmf.hessian_vector_product(theta, batch, (u + 2.0 * v).eval(), huv);
  CHECK(u.dot(hv) == Approx(v.dot(hu)).epsilon(1e-10));
  CHECK((huv - hu - 2.0 * hv).norm() <= 1e-10 * huv.norm());
}

TEST_CASE("VariationalMF: the loss is a function of (theta, batch seed)",
          "[models][mf][variational]") {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const VariationalMF<double> vmf(ds.num_users(), ds.num_items(), {.dims = 4, .init_sigma = 0.3});
  Vector<double> theta(vmf.num_parameters());
  Rng rng(2);
  vmf.initialize(theta, rng);
  const double a = vmf.loss(theta, RatingBatch{&ds, rows, 10});
  const double b = vmf.loss(theta, RatingBatch{&ds, rows, 10});
  const double c = vmf.loss(theta, RatingBatch{&ds, rows, 11});
  CHECK(a == b);
  CHECK(a != c);
  Vector<double> g1(vmf.num_parameters()), g2(vmf.num_parameters());
  CHECK(vmf.loss_and_gradient(theta, RatingBatch{&ds, rows, 10}, g1) == a);
  (void)vmf.loss_and_gradient(theta, RatingBatch{&ds, rows, 10}, g2);
  CHECK(g1 == g2);
  // The noise of a rating depends on its row, not on its position in the batch.
  const RowIndex fwd[] = {3, 8}, rev[] = {8, 3};
  CHECK(vmf.loss(theta, RatingBatch{&ds, fwd, 4}) ==
        Approx(vmf.loss(theta, RatingBatch{&ds, rev, 4})).epsilon(1e-15));
}

TEST_CASE("VariationalMF: prediction is the posterior mean, free of noise",
          "[models][mf][variational]") {
  const Dataset ds = test::tiny_dataset();
  const VariationalMF<double> vmf(ds.num_users(), ds.num_items(),
                                  {.dims = 2, .init_sigma = 0.7, .global_mean = 3.5});
  Vector<double> theta(vmf.num_parameters());
  Rng rng(1);
  vmf.initialize(theta, rng);
  const auto& L = vmf.layout().blocks();  // user mean, user rho, item mean, item rho, bu, bi
  const RowIndex r = 5;
  const auto u = ds.user(r), i = ds.item(r);
  theta.segment(L[0].offset + 2 * u, 2) << 0.5, -1.0;
  theta.segment(L[2].offset + 2 * i, 2) << 2.0, 0.25;
  theta[L[4].offset + u] = 0.25;
  theta[L[5].offset + i] = -0.5;
  // E[r̂] = μ + b_u + b_i + m_uᵀm_i = 3.5 + 0.25 − 0.5 + (1 − 0.25) = 4.0, whatever σ and seed.
  const RowIndex one[] = {r};
  Vector<double> out(1);
  vmf.predict(theta, RatingBatch{&ds, one, 1}, out);
  CHECK(out[0] == Approx(4.0).epsilon(1e-14));
  vmf.predict(theta, RatingBatch{&ds, one, 999}, out);
  CHECK(out[0] == Approx(4.0).epsilon(1e-14));
  CHECK(vmf.score(theta, u, i) == Approx(4.0).epsilon(1e-14));

  // The sampled loss is unbiased: averaged over seeds, 1/S Σ (r̂_s − r)² → (E r̂ − r)² + Var(z_uᵀz_i),
  // Var = Σ_j σ_uj² m_ij² + σ_ij² m_uj² + σ_uj² σ_ij² for independent Gaussians (σ = 0.7 here).
  const VariationalMF<double> no_pen(ds.num_users(), ds.num_items(),
                                     {.dims = 2, .samples = 4, .kl_weight = 0.0, .bias_reg = 0.0,
                                      .global_mean = 3.5});
  const double s2 = 0.49;
  const double var = s2 * (4.0 + 0.0625) + s2 * (0.25 + 1.0) + 2 * s2 * s2;
  const double expected = (4.0 - ds.rating(r)) * (4.0 - ds.rating(r)) + var;
  double mean = 0.0;
  const int seeds = 4000;
  for (int s = 0; s < seeds; ++s)
    mean += no_pen.loss(theta, RatingBatch{&ds, one, static_cast<std::uint64_t>(s)});
  mean /= seeds;
  CHECK(mean == Approx(expected).epsilon(0.05));
}

TEST_CASE("VariationalMF: the KL term is the closed form and counts at the default weight",
          "[models][mf][variational]") {
  const Dataset ds = test::tiny_dataset();
  // Hand case, prior N(0, 1): m = (0.5, −1), σ = (0.5, 2):
  // KL = Σ_j [−log σ_j + (σ_j² + m_j²)/2 − 1/2]
  //    = [log 2 + 0.25 − 0.5] + [−log 2 + 2.5 − 0.5] = 1.75.
  const VariationalMF<double> unit(ds.num_users(), ds.num_items(), {.dims = 2});
  Vector<double> m(2), rho(2);
  m << 0.5, -1.0;
  rho << VariationalMF<double>::inverse_softplus(0.5), VariationalMF<double>::inverse_softplus(2.0);
  CHECK(softplus(rho[0]) == Approx(0.5).epsilon(1e-14));
  CHECK(softplus(rho[1]) == Approx(2.0).epsilon(1e-14));
  CHECK(unit.kl_divergence(m, rho) == Approx(1.75).epsilon(1e-14));
  // Prior N(0, 2²): Σ_j [log 2 − log σ_j + (σ_j² + m_j²)/8 − 1/2] = 2 log 2 + 5.5/8 − 1.
  const VariationalMF<double> wide(ds.num_users(), ds.num_items(), {.dims = 2, .prior_std = 2.0});
  CHECK(wide.kl_divergence(m, rho) == Approx(2 * std::log(2.0) + 5.5 / 8 - 1).epsilon(1e-14));

  // In the loss: one rating whose user and item both have that posterior.
  const RowIndex r = 5;
  const auto u = ds.user(r), i = ds.item(r);
  const RowIndex one[] = {r};
  const VariationalMF<double> with_kl(ds.num_users(), ds.num_items(),
                                      {.dims = 2, .kl_weight = 0.3, .bias_reg = 0.0});
  const VariationalMF<double> without(ds.num_users(), ds.num_items(),
                                      {.dims = 2, .kl_weight = 0.0, .bias_reg = 0.0});
  Vector<double> theta(with_kl.num_parameters());
  Rng rng(3);
  with_kl.initialize(theta, rng);
  const auto& L = with_kl.layout().blocks();
  theta.segment(L[0].offset + 2 * u, 2) = m;
  theta.segment(L[1].offset + 2 * u, 2) = rho;
  theta.segment(L[2].offset + 2 * i, 2) = m;
  theta.segment(L[3].offset + 2 * i, 2) = rho;
  const RatingBatch batch{&ds, one, 12};
  CHECK(with_kl.loss(theta, batch) - without.loss(theta, batch) ==
        Approx(0.3 * 2 * 1.75).epsilon(1e-12));

  // At the default weight and initialisation the KL is a real part of the loss and of the
  // gradient (the original study's 1e-10 made both vanish).
  const auto rows = test::all_rows(ds);
  const RatingBatch all{&ds, rows, 1};
  const VariationalMF<double> dflt(ds.num_users(), ds.num_items(),
                                   {.global_mean = ds.mean_rating()});
  CHECK(dflt.options().kl_weight >= 1e-4);
  VariationalMF<double>::Options off_opt = dflt.options();
  off_opt.kl_weight = 0.0;
  const VariationalMF<double> off(ds.num_users(), ds.num_items(), off_opt);
  Vector<double> th(dflt.num_parameters());
  Rng rng2(5);
  dflt.initialize(th, rng2);
  Vector<double> g_on(th.size()), g_off(th.size());
  const double l_on = dflt.loss_and_gradient(th, all, g_on);
  const double l_off = off.loss_and_gradient(th, all, g_off);
  INFO("loss with KL " << l_on << ", without " << l_off);
  CHECK(l_on - l_off >= 0.02 * l_off);
  // On σ (through ρ) the data term's pull is mostly noise (sign of ε); averaged over seeds, the
  // expected gradient on the users' ρ must be changed substantially by the KL.
  const auto& D = dflt.layout().blocks();
  Vector<double> mean_on = Vector<double>::Zero(D[1].size());
  Vector<double> mean_off = Vector<double>::Zero(D[1].size());
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const RatingBatch b{&ds, rows, seed};
    (void)dflt.loss_and_gradient(th, b, g_on);
    (void)off.loss_and_gradient(th, b, g_off);
    mean_on += g_on.segment(D[1].offset, D[1].size()) / 200.0;
    mean_off += g_off.segment(D[1].offset, D[1].size()) / 200.0;
  }
  INFO("|E dL/drho_user| with KL " << mean_on.norm() << ", without " << mean_off.norm()
                                   << ", KL part " << (mean_on - mean_off).norm());
  CHECK((mean_on - mean_off).norm() >= 0.5 * mean_off.norm());
}

TEST_CASE("VariationalMF: local segments and argument checks", "[models][mf][variational]") {
  const Dataset ds = test::tiny_dataset();
  CHECK_THROWS_AS(VariationalMF<float>(ds.num_users(), ds.num_items(), {.samples = 0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(VariationalMF<float>(ds.num_users(), ds.num_items(), {.kl_weight = -1.0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(VariationalMF<float>(ds.num_users(), ds.num_items(), {.prior_std = 0.0}),
                  std::invalid_argument);
  const VariationalMF<float> vmf(ds.num_users(), ds.num_items(), {.dims = 3});
  const auto& L = vmf.layout().blocks();
  const auto u = ds.user(0);
  std::vector<Segment> local;
  vmf.local_segments(RatingBatch{&ds, ds.by_user()[u]}, local);
  REQUIRE(local.size() == 3);  // mean, rho, bias of the one user
  CHECK(local[0] == Segment{L[0].offset + 3 * u, 3});
  CHECK(local[1] == Segment{L[1].offset + 3 * u, 3});
  CHECK(local[2] == Segment{L[4].offset + u, 1});
  Vector<float> theta(vmf.num_parameters()), v(vmf.num_parameters()), hv(5);
  const auto rows = test::all_rows(ds);
  CHECK_THROWS_AS(vmf.hessian_vector_product(theta, RatingBatch{&ds, rows}, v, hv),
                  std::invalid_argument);
  Vector<float> m(3), rho(2);
  CHECK_THROWS_AS((void)vmf.kl_divergence(m, rho), std::invalid_argument);
}

TEMPLATE_TEST_CASE("VariationalMF: gradient and HVP reject wrong sizes",
                   "[models][mf][variational]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const VariationalMF<TestType> m(ds.num_users(), ds.num_items(), {.dims = 3, .samples = 2});
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows, 9}, "VariationalMF");
}

}  // namespace unity_test_mf_variational
