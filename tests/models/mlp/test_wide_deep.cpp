#include "fm_family_common.hpp"

#include <metarec/models/mlp/wide_deep.hpp>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_wide_deep {

static_assert(Model<WideDeep<float>> && Model<WideDeep<double>>);

TEMPLATE_TEST_CASE("WideDeep conforms", "[models][mlp][wide_deep]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  test::conforms(WideDeep<TestType>(ds, test::small_fm(false)), RatingBatch{&ds, rows});
  test::conforms(WideDeep<TestType>(ds, test::small_fm(true, nn::LossKind::squared_error)),
                        RatingBatch{&ds, rows});
}

TEST_CASE("WideDeep with ReLU conforms - double", "[models][mlp]") {
  test::run_relu_conformance<WideDeep<double>>();
}

}  // namespace unity_test_wide_deep
