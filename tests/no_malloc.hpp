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

/// Forbids Eigen's allocator for its lifetime (from construction, or from `forbid()` when built
/// with `false`) and allows it again on destruction, also when a failed check or an Eigen
/// assertion unwinds the stack: one failure never leaves the allocator forbidden for the tests
/// that follow in the same executable.
class MallocForbidden {
 public:
  explicit MallocForbidden(bool now = true) {
    if (now) forbid();
  }
  ~MallocForbidden() { Eigen::internal::set_is_malloc_allowed(true); }
  MallocForbidden(const MallocForbidden&) = delete;
  MallocForbidden& operator=(const MallocForbidden&) = delete;
  static void forbid() { Eigen::internal::set_is_malloc_allowed(false); }
};

/// Runs `steps` once (the warm-up that sizes workspaces), then three times with Eigen's allocator
/// forbidden; true when one of those three allocated. Call it on the calling thread only (an
/// assertion must not be thrown inside a parallel region).
template <class Steps>
bool allocates(Steps&& steps) {
  steps();
  bool threw = false;
  try {
    const MallocForbidden forbidden;
    for (int k = 0; k < 3; ++k) steps();
  } catch (const std::runtime_error&) {
    threw = true;
  }
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
