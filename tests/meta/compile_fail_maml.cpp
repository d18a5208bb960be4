// Compile-time checks of Maml: ctest builds this file three times (tests/meta/CMakeLists.txt).
//   METAREC_CASE 0: control, first-order MAML and Reptile on a model without HVP — must compile.
//   METAREC_CASE 1: second-order MAML on a model without HVP — must fail with the static_assert
//                   "... need the model's exact Hessian-vector product ... Use
//                   metarec::FirstOrderMaml or metarec::Reptile instead".
//   METAREC_CASE 2: Meta-SGD on a model whose gradient is not exact (exact_gradient = false) —
//                   must fail with "... this model's gradient is not exact ...".
//   METAREC_CASE 3: second-order MAML on the RBM (RbmCf: CD-k direction, no HVP) — must fail with
//                   the static_asserts that name metarec::FirstOrderMaml and metarec::Reptile
//                   (case 0 builds the RBM with both).

#include <metarec/meta.hpp>
#include <metarec/models/boltzmann/rbm_cf.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>

#include "meta/meta_test_support.hpp"

using MF = metarec::MatrixFactorization<double>;
using NoHvp = metarec::test::Capabilities<MF, true, false, false>;

struct ContrastiveDivergenceLike : metarec::test::Capabilities<MF, true, true, true> {
  using Capabilities::Capabilities;
  static constexpr bool exact_gradient = false;
};

int main() {
  const MF mf(3, 4, {.dims = 2});
#if METAREC_CASE == 0
  const NoHvp model(mf);
  metarec::Maml<NoHvp, metarec::FirstOrderMaml> first(model);
  metarec::Maml<NoHvp, metarec::Reptile> reptile(model);
  const metarec::RbmCf<double> rbm(4, {.hidden = 2});
  metarec::Maml<metarec::RbmCf<double>, metarec::FirstOrderMaml> rbm_first(rbm);
  metarec::Maml<metarec::RbmCf<double>, metarec::Reptile> rbm_reptile(rbm);
  return first.step() + reptile.step() + rbm_first.step() + rbm_reptile.step() == 0 ? 0 : 1;
#elif METAREC_CASE == 1
  const NoHvp model(mf);
  metarec::Maml<NoHvp, metarec::SecondOrderMaml> maml(model);
  return static_cast<int>(maml.step());
#elif METAREC_CASE == 3
  const metarec::RbmCf<double> rbm(4, {.hidden = 2});
  metarec::Maml<metarec::RbmCf<double>, metarec::SecondOrderMaml> maml(rbm);
  return static_cast<int>(maml.step());
#else
  const ContrastiveDivergenceLike model(mf);
  metarec::Maml<ContrastiveDivergenceLike, metarec::MetaSgd> maml(model);
  return static_cast<int>(maml.step());
#endif
}
