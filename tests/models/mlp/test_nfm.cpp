#include "fm_family_common.hpp"
#include "models/entry_point_sizes.hpp"

#include <metarec/models/mlp/nfm.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_nfm {

static_assert(Model<Nfm<float>> && Model<Nfm<double>>);
static_assert(HasSparseHessianVectorProduct<Nfm<double>>);

TEMPLATE_TEST_CASE("Nfm conforms", "[models][mlp][nfm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::conforms(Nfm<TestType>(ds, test::small_fm(false)), RatingBatch{&ds, rows});
  test::conforms(Nfm<TestType>(ds, test::small_fm(true, nn::LossKind::squared_error)),
                        RatingBatch{&ds, rows});
}

TEST_CASE("Nfm with ReLU conforms - double", "[models][mlp]") {
  test::run_relu_conformance<Nfm<double>>();
}

TEST_CASE("FM family: local segments are the user's rows", "[models][mlp]") {
  const Dataset ds = test::tiny_dataset();
  const Nfm<double> m(ds, test::small_fm(true));
  std::vector<Segment> local;
  m.local_segments(RatingBatch{&ds, ds.by_user()[4]}, local);
  REQUIRE(local.size() == 2);
  CHECK(local[0] == m.embeddings().fields()[0].table.column(4));
  CHECK(local[1] == m.linear_weights().fields()[0].table.column(4));
  CHECK_THROWS_AS(Nfm<double>(ds, {.user_id = false, .item_id = false}), std::invalid_argument);
}

TEMPLATE_TEST_CASE("Nfm: gradient and HVP reject wrong sizes", "[models][mlp][nfm]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const Nfm<TestType> m(ds, test::small_fm(true));
  test::check_entry_point_sizes(m, RatingBatch{&ds, rows, 3}, "Nfm");
}

}  // namespace unity_test_nfm
