#pragma once
// For tests built with EIGEN_RUNTIME_NO_MALLOC; include it FIRST, before any Eigen or metarec
// header. Release builds define NDEBUG, which silences eigen_assert and with it Eigen's malloc
// check: here eigen_assert throws instead, so the check is live in every build type.
#ifdef EIGEN_WORLD_VERSION
#error "include no_malloc.hpp before any Eigen or metarec header"
#endif
#include <stdexcept>
#define eigen_assert(x) \
  if (!(x)) throw std::runtime_error("Eigen assertion failed: " #x)
#include <Eigen/Core>

namespace metarec::test {

/// Runs `steps` once (the warm-up that sizes workspaces), then three times with Eigen's allocator
/// forbidden; true when one of those three allocated. Call it on the calling thread only (an
/// assertion must not be thrown inside a parallel region).
template <class Steps>
bool allocates(Steps&& steps) {
  steps();
  Eigen::internal::set_is_malloc_allowed(false);
  bool threw = false;
  try {
    for (int k = 0; k < 3; ++k) steps();
  } catch (const std::runtime_error&) {
    threw = true;
  }
  Eigen::internal::set_is_malloc_allowed(true);
  return threw;
}

/// True when this build catches an Eigen allocation (so that `allocates` can fail at all).
inline bool malloc_check_is_live() {
  return allocates([] {
    Eigen::VectorXf x(100);
    x.setZero();
  });
}

}  // namespace metarec::test
