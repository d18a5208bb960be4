#pragma once
// What every benchmark prints beside its figures: the machine, the compiler, and CPU clocks (the
// machine may be shared, so speed is reported in CPU seconds as well as wall seconds).
#include <metarec/core/detail/atomic_file.hpp>

#include <ctime>
#include <fstream>
#include <string>

namespace metarec::bench {

/// CPU seconds of the calling thread.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// CPU seconds of the whole process (all threads).
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// The widest SIMD instruction set the binary was compiled for (METAREC_NATIVE=ON builds use
/// the build machine's; the default x86-64 build is SSE2).
inline std::string simd() {
#if defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "AVX2+FMA";
#elif defined(__AVX__)
  return "AVX";
#elif defined(__SSE2__)
  return "SSE2";
#else
  return "scalar";
#endif
}

/// The compiler and the SIMD set compiled for, e.g. "gcc 12.2.0 (SSE2)".
inline std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__ " (" + simd() + ")";
#elif defined(__GNUC__)
  return "gcc " __VERSION__ " (" + simd() + ")";
#else
  return "unknown (" + simd() + ")";
#endif
}

/// The CPU's model name from /proc/cpuinfo ("unknown" elsewhere).
inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace metarec::bench
