// Built with EIGEN_RUNTIME_NO_MALLOC: once the first outer steps have sized the workspaces, slots
// and optimiser state, meta-training steps (inner loop, backward pass with HVPs, ordered
// reduction, outer step, epoch changes of the sampler) make no Eigen heap allocation. Checked on
// one thread: each thread sizes its own workspace on its first task, which dynamic scheduling may
// hand it after any fixed warm-up.
#undef NDEBUG  // eigen_assert must fire for EIGEN_RUNTIME_NO_MALLOC to check anything
#include "no_malloc.hpp"  // first: makes Eigen's malloc check live in every build type
#include <metarec/data/tasks.hpp>
#include <metarec/meta.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mlp/melu.hpp>

#include "meta/meta_test_support.hpp"
#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <cstdint>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_maml_no_malloc {

namespace {
/// Forbids Eigen allocations from the end of outer step `at` on.
struct ForbidMallocAfter {
  std::uint64_t at;
  void on_step(const MamlStepInfo& info) const {
    if (info.step == at) test::MallocForbidden::forbid();
  }
};
}  // namespace

TEMPLATE_TEST_CASE("meta-training steps do not allocate after warm-up", "[meta][alloc]",
                   SecondOrderMaml, MetaSgd, FirstOrderMaml, Reptile) {
  using MF = MatrixFactorization<double>;
  const Dataset ds = test::planted_dataset(40, 20, 12, 3, 5);
  const auto rows = test::rows_of_users(ds, 0, 40);
  const MF mf(40, 20, MF::Options{.dims = 3, .global_mean = 3.0});
  for (const AdaptedSet set : {AdaptedSet::all, AdaptedSet::local}) {
    Vector<double> theta(mf.num_parameters());
    Rng rng(1);
    mf.initialize(theta, rng);
    TaskSampler sampler(ds, rows, TaskOptions{.support = 4, .query = 6, .meta_batch = 8}, 2);
    // One thread (as Melu's check below): a thread's workspace is sized on its own first task,
    // and with dynamic scheduling under load a thread can meet its first task after any warm-up
    // (this check failed so once, in a CI rehearsal beside a benchmark, session 7).
    Maml<MF, TestType> maml(mf, MamlOptions{.inner_steps = 3, .inner_lr = 0.1, .adapted = set,
                                            .epochs = 3, .min_parallel_work = SIZE_MAX},
                            Adam<double>(AdamOptions{.lr = 0.01}));
    MamlResult r;
    {
      const test::MallocForbidden reallow_on_exit(false);
      r = maml.train(theta, ds, sampler, ForbidMallocAfter{2});
    }
    CHECK(r.steps == 15);
    CHECK(theta.allFinite());
  }
}

// Melu's task kernel (embedded inputs gathered once per task, per-step passes cached for the HVPs)
// must not allocate either, once its per-thread cache has seen the largest support set. The check
// runs the meta-batch on one thread: a thread's cache is sized on ITS first task, and with dynamic
// scheduling a thread can meet its first task after any warm-up (seen under load in CI).
TEMPLATE_TEST_CASE("meta-training steps on Melu's task kernel do not allocate after warm-up",
                   "[meta][alloc][melu]", SecondOrderMaml, MetaSgd, FirstOrderMaml, Reptile) {
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  MeluModelOptions mo;  // (a designated initialiser here crashes gcc 12 in a template test case)
  mo.embedding_dim = 3;
  mo.hidden = {5, 4};
  const Melu<double> melu(ds, mo);
  static_assert(HasLocalTaskKernel<Melu<double>>);
  Vector<double> theta(melu.num_parameters());
  Rng rng(1);
  melu.initialize(theta, rng);
  TaskSampler sampler(ds, rows, TaskOptions{.support = 3, .query = 2, .meta_batch = 4}, 2);
  Maml<Melu<double>, TestType> maml(melu, MamlOptions{.inner_steps = 3, .inner_lr = 0.05,
                                                      .adapted = AdaptedSet::local, .epochs = 3,
                                                      .min_parallel_work = SIZE_MAX},
                                    Adam<double>(AdamOptions{.lr = 0.01}));
  MamlResult r;
  {
    const test::MallocForbidden reallow_on_exit(false);
    r = maml.train(theta, ds, sampler, ForbidMallocAfter{2});
  }
  CHECK(r.steps >= 3);
  CHECK(theta.allFinite());
}

}  // namespace unity_test_maml_no_malloc
