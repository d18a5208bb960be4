// The training path is batched (one GEMM per layer over the mini-batch, sparse embedding
// gathers/scatters); the loss is the MEAN of per-example losses and the dropout mask of a row
// depends on (batch seed, data-set row, layer) only. So for every model, B · ∇L(batch) must equal
// Σ_b ∇L({row b}) with the same seed, and likewise B · H·v — the batched path and the per-example
// path (the one a MAML task of one rating takes) agree.
#include "fm_family_common.hpp"

#include <metarec/models/mlp.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_batched_gradient {

namespace {

template <class M>
void check_batched_equals_sum(const M& model, const Dataset& ds) {
  const auto all = test::all_rows(ds);
  const std::vector<RowIndex> rows(all.begin(), all.begin() + 12);
  const std::uint64_t seed = 7;
  const Eigen::Index n = model.num_parameters();
  Vector<double> theta(n), v(n);
  Rng rng(5);
  model.initialize(theta, rng);
  for (Eigen::Index k = 0; k < n; ++k) v[k] = rng.normal();

  Vector<double> g_batch(n), hv_batch(n), g_sum = Vector<double>::Zero(n), hv_sum = Vector<double>::Zero(n);
  const RatingBatch batch{&ds, rows, seed};
  const double l_batch = model.loss_and_gradient(theta, batch, g_batch);
  model.hessian_vector_product(theta, batch, v, hv_batch);
  double l_sum = 0;
  Vector<double> g(n), hv(n);
  for (const RowIndex r : rows) {
    const RowIndex one[] = {r};
    const RatingBatch b{&ds, one, seed};
    l_sum += model.loss_and_gradient(theta, b, g);
    model.hessian_vector_product(theta, b, v, hv);
    g_sum += g;
    hv_sum += hv;
  }
  const double B = static_cast<double>(rows.size());
  REQUIRE(g_sum.norm() > 0);
  REQUIRE(hv_sum.norm() > 0);
  CHECK(B * l_batch == Approx(l_sum).epsilon(1e-12));
  CHECK((B * g_batch - g_sum).norm() <= 1e-12 * (1 + g_sum.norm()));
  CHECK((B * hv_batch - hv_sum).norm() <= 1e-12 * (1 + hv_sum.norm()));

  // Sparse gradient of the batch: the same numbers, touching only the rows the batch uses.
  SparseGradient<double> sg(n);
  (void)model.loss_and_gradient(theta, batch, sg);
  CHECK((sg.dense() - g_batch).norm() <= 1e-14 * (1 + g_batch.norm()));
}

FieldNetworkOptions with_dropout() {
  FieldNetworkOptions o = test::small_fm(true);
  o.hidden = {5, 4};
  o.dropout = 0.3;
  return o;
}

}  // namespace

TEST_CASE("Batched gradient and HVP equal the sums over single examples (FM family)",
          "[models][mlp][batched]") {
  const Dataset ds = test::tiny_dataset();
  check_batched_equals_sum(Nfm<double>(ds, with_dropout()), ds);
  check_batched_equals_sum(DeepFm<double>(ds, with_dropout()), ds);
  check_batched_equals_sum(WideDeep<double>(ds, with_dropout()), ds);
  check_batched_equals_sum(XDeepFm<double>(ds, with_dropout()), ds);
}

TEST_CASE("Batched gradient and HVP equal the sums over single examples (NCF, MeLU)",
          "[models][mlp][batched]") {
  const Dataset ds = test::tiny_dataset();
  check_batched_equals_sum(Ncf<double>(ds, {.variant = NcfVariant::neumf, .gmf_dim = 3, .mlp_dim = 3,
                                            .hidden = {4, 3}, .dropout = 0.3, .side_features = true,
                                            .embedding_std = 0.5}),
                           ds);
  check_batched_equals_sum(Melu<double>(ds, {.embedding_dim = 3, .hidden = {4, 3}, .user_id = true,
                                             .item_id = true, .dropout = 0.3}),
                           ds);
}

}  // namespace unity_test_batched_gradient
