// Every model of the MLP family under every MAML variant: the second-order meta-gradient (exact
// HVPs through k inner steps) against central differences, first-order MAML against the query
// gradient at the adapted parameters, Reptile against θ − θ_k, Meta-SGD's α-gradient against
// differences in α. Tiny tanh networks (smooth, so differences are reliable), double precision.

#include <metarec/meta.hpp>
#include <metarec/models/mlp/deepfm.hpp>
#include <metarec/models/mlp/ncf.hpp>
#include <metarec/models/mlp/nfm.hpp>
#include <metarec/models/mlp/wide_deep.hpp>
#include <metarec/models/mlp/xdeepfm.hpp>

#include "meta/meta_test_support.hpp"
#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <string>
#include <vector>

using namespace metarec;
using metarec::test::check_against_differences;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_maml_mlp_family {

namespace {

struct Fixture {
  Dataset ds = test::tiny_dataset();
  std::vector<RowIndex> support, query;
  Fixture() {
    for (const std::uint32_t u : {2u, 4u}) {
      const auto rows = ds.by_user()[u];
      for (std::size_t k = 0; k < rows.size(); ++k) (k < 4 ? support : query).push_back(rows[k]);
    }
  }
  [[nodiscard]] RatingBatch sb() const { return {&ds, support, 1}; }
  [[nodiscard]] RatingBatch qb() const { return {&ds, query, 2}; }
};

template <class Mod>
Vector<double> init_theta(const Mod& model, std::uint64_t seed) {
  Vector<double> t(model.num_parameters());
  Rng rng(seed);
  model.initialize(t, rng);
  for (Eigen::Index k = 0; k < t.size(); ++k) t[k] += 0.2 * rng.normal();  // away from 0
  return t;
}

template <class Mod>
void check_all_variants(const Mod& model, const Fixture& fx, double lr) {
  const Eigen::Index n = model.num_parameters();
  const Vector<double> theta = init_theta(model, 17);
  for (const AdaptedSet set : {AdaptedSet::local, AdaptedSet::all}) {
    for (const int k : {1, 3}) {
      INFO((set == AdaptedSet::local ? "local" : "all") << ", k = " << k);
      const MamlOptions o{.inner_steps = k, .inner_lr = lr, .adapted = set};

      // second order: d/dθ L_q(adapt_k(θ)) by central differences
      Maml<Mod, SecondOrderMaml> second(model, o);
      Vector<double> g(n);
      const double lq = second.meta_gradient(theta, fx.sb(), fx.qb(), g);
      const auto opts = second.adapt_options();
      const auto f = [&](const Vector<double>& t) {
        return static_cast<double>(model.loss(adapt(model, t, fx.sb(), opts), fx.qb()));
      };
      CHECK(lq == Approx(f(theta)).epsilon(1e-12));
      const auto r = check_against_differences(f, theta, g);
      INFO("second order: worst scaled error " << r.worst << ", largest |derivative| " << r.largest);
      CHECK(r.worst <= 1.0);
      CHECK(r.largest > 1e-3);

      // first order: the query gradient at θ_k
      const Vector<double> tk = adapt(model, theta, fx.sb(), opts);
      CHECK((tk - theta).norm() > 1e-4);
      Vector<double> expected(n), got(n);
      (void)model.loss_and_gradient(tk, fx.qb(), expected);
      Maml<Mod, FirstOrderMaml> first(model, o);
      (void)first.meta_gradient(theta, fx.sb(), fx.qb(), got);
      CHECK((got - expected).cwiseAbs().maxCoeff() <= 1e-12 * (1 + expected.cwiseAbs().maxCoeff()));

      // Reptile: θ − θ_k
      Maml<Mod, Reptile> reptile(model, o);
      (void)reptile.meta_gradient(theta, fx.sb(), fx.qb(), got);
      CHECK((got - (theta - tk)).cwiseAbs().maxCoeff() <= 1e-13 * (1 + theta.cwiseAbs().maxCoeff()));

      // Meta-SGD: ∂L_q/∂α against differences in α; with α = lr everywhere its θ-gradient is
      // the second-order one
      Maml<Mod, MetaSgd> msgd(model, o);
      const Vector<double> alpha = Vector<double>::Constant(n, lr);
      msgd.set_alpha(alpha);
      Vector<double> gt(n), ga(n);
      (void)msgd.meta_gradient(theta, fx.sb(), fx.qb(), gt, &ga);
      CHECK((gt - g).norm() <= 1e-10 * (1 + g.norm()));
      const auto fa = [&](const Vector<double>& a) {
        return static_cast<double>(model.loss(adapt(model, theta, fx.sb(), opts, &a), fx.qb()));
      };
      const auto ra = check_against_differences(fa, alpha, ga);
      INFO("Meta-SGD alpha: worst scaled error " << ra.worst << ", largest |derivative| " << ra.largest);
      CHECK(ra.worst <= 1.0);
      CHECK(ra.largest > 1e-4);
    }
  }
}

FieldNetworkOptions tiny_fields() {
  return FieldNetworkOptions{.embedding_dim = 3, .hidden = {4}, .activation = nn::Activation::tanh,
                             .loss = nn::LossKind::squared_error, .embedding_std = 0.3,
                             .cin_layers = {2}};
}

}  // namespace

TEST_CASE("NFM, DeepFM, Wide&Deep and xDeepFM under every MAML variant", "[meta][gradient][mlp]") {
  const Fixture fx;
  SECTION("NFM") { check_all_variants(Nfm<double>(fx.ds, tiny_fields()), fx, 0.05); }
  SECTION("DeepFM") { check_all_variants(DeepFm<double>(fx.ds, tiny_fields()), fx, 0.05); }
  SECTION("Wide&Deep") { check_all_variants(WideDeep<double>(fx.ds, tiny_fields()), fx, 0.05); }
  SECTION("xDeepFM") { check_all_variants(XDeepFm<double>(fx.ds, tiny_fields()), fx, 0.05); }
}

TEST_CASE("NCF (GMF, MLP, NeuMF) under every MAML variant", "[meta][gradient][mlp]") {
  const Fixture fx;
  for (const NcfVariant v : {NcfVariant::gmf, NcfVariant::mlp, NcfVariant::neumf}) {
    INFO("variant " << static_cast<int>(v));
    const Ncf<double> ncf(fx.ds, NcfOptions{.variant = v, .gmf_dim = 3, .mlp_dim = 3, .hidden = {4, 3},
                                            .activation = nn::Activation::tanh,
                                            .loss = nn::LossKind::squared_error,
                                            .embedding_std = 0.3});
    check_all_variants(ncf, fx, 0.05);
  }
}

TEST_CASE("a wrong Hessian term in the second-order meta-gradient fails the check (DeepFM)",
          "[meta][gradient][mlp]") {
  const Fixture fx;
  const DeepFm<double> model(fx.ds, tiny_fields());
  const Vector<double> theta = init_theta(model, 17);
  for (const AdaptedSet set : {AdaptedSet::local, AdaptedSet::all}) {
    Maml<DeepFm<double>, SecondOrderMaml> broken(
        model, MamlOptions{.inner_steps = 3, .inner_lr = 0.05, .adapted = set,
                           .debug = MamlDebug::flip_hessian_term});
    Vector<double> g(model.num_parameters());
    (void)broken.meta_gradient(theta, fx.sb(), fx.qb(), g);
    const auto opts = broken.adapt_options();
    const auto f = [&](const Vector<double>& t) {
      return static_cast<double>(model.loss(adapt(model, t, fx.sb(), opts), fx.qb()));
    };
    const auto r = check_against_differences(f, theta, g);
    INFO("worst scaled error " << r.worst);
    CHECK(r.worst > 10.0);
  }
}

}  // namespace unity_test_maml_mlp_family
