// Built with EIGEN_RUNTIME_NO_MALLOC: the fused per-rating SGD steps (`sgd_update`, and the
// whole-epoch `sgd_update_rows`) of side MF, FM, mixture MF and variational MF allocate nothing
// (Eigen's allocator is switched off around them) at the sizes their stack scratch covers.
#undef NDEBUG  // eigen_assert must fire for EIGEN_RUNTIME_NO_MALLOC to check anything
#include "no_malloc.hpp"  // first: makes Eigen's malloc check live in every build type
#include <metarec/train/fused_sgd.hpp>
#include <metarec/models/mf/factorization_machine.hpp>
#include <metarec/models/mf/mixture_mf.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/models/mf/variational_mf.hpp>

#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <span>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_sgd_update_no_malloc {

namespace {

// update(theta, row) runs one fused step; rows(theta, all rows) one whole-epoch call.
template <class M, class One, class All>
void run_without_malloc(const M& model, const Dataset& ds, One&& update, All&& epoch) {
  Vector<float> theta(model.num_parameters());
  Rng rng(1);
  model.initialize(theta, rng);
  const Vector<float> start = theta;
  std::vector<RowIndex> rows(ds.num_ratings());
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<RowIndex>(r);
  std::size_t done = 0;
  {
    const test::MallocForbidden forbidden;
    for (const RowIndex r : rows) (void)update(VectorRef<float>(theta), r);
    done = epoch(VectorRef<float>(theta), std::span<const RowIndex>(rows));
  }
  CHECK(done == rows.size());
  CHECK(theta.allFinite());
  CHECK((theta - start).cwiseAbs().maxCoeff() > 1e-4f);  // the steps did something
}

template <class M>
void plain(const M& model, const Dataset& ds) {
  double sum = 0;
  run_without_malloc(
      model, ds, [&](VectorRef<float> t, RowIndex r) { return model.sgd_update(t, ds, r, 0.01f); },
      [&](VectorRef<float> t, std::span<const RowIndex> rows) { return model.sgd_update_rows(t, ds, rows, 0.01f, sum); });
}

}  // namespace

TEST_CASE("fused SGD steps of the MF family do not allocate", "[train][sgd_update][alloc]") {
  const Dataset ds = test::tiny_dataset();
  const double mean = ds.mean_rating();
  plain(SideFeatureMF<float>(ds, {.dims = 32, .global_mean = mean}), ds);
  plain(FactorizationMachine<float>(ds, {.dims = 32, .global_mean = mean}), ds);
  plain(MixtureMF<float>(ds.num_users(), ds.num_items(), {.dims = 16, .tastes = 4, .global_mean = mean}), ds);
  plain(MixtureMF<float>(ds.num_users(), ds.num_items(), {.dims = 64, .tastes = 8, .global_mean = mean}), ds);
  for (const int samples : {1, 4}) {
    const VariationalMF<float> vmf(ds.num_users(), ds.num_items(), {.dims = 64, .samples = samples, .global_mean = mean});
    double sum = 0;
    run_without_malloc(
        vmf, ds, [&](VectorRef<float> t, RowIndex r) { return vmf.sgd_update(t, ds, r, 0.01f, 5 + r); },
        [&](VectorRef<float> t, std::span<const RowIndex> rows) {
          return vmf.sgd_update_rows(t, ds, rows, 0.01f, sum, BatchSeeds{3, 1});
        });
  }
}

}  // namespace unity_test_sgd_update_no_malloc
