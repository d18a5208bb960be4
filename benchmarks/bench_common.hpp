#pragma once
// What every benchmark prints beside its figures: the machine, the compiler, and CPU clocks (the
// machine may be shared, so speed is reported in CPU seconds as well as wall seconds).
#include <metarec/core/detail/atomic_file.hpp>

#include <cstdio>
#include <ctime>
#include <filesystem>
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

/// A MovieLens directory: the value of `flag` (e.g. --data), by default ../shared/data/`name`
/// beside the source tree.
template <class Args>
std::string data_dir(const Args& args, const char* flag, const char* name) {
  return args.get_or(flag, std::string(METAREC_SOURCE_DIR) + "/../shared/data/" + name);
}

/// True, after saying so, when `dir` holds no ratings.dat: MovieLens is not part of the repository,
/// so the benchmark has nothing to do and exits 0.
inline bool ml1m_missing(const std::string& dir, const char* bench) {
  if (std::filesystem::exists(std::filesystem::path(dir) / "ratings.dat")) return false;
  std::printf("%s: ML-1M not found at %s (pass --data DIR); nothing to do\n", bench, dir.c_str());
  return true;
}

}  // namespace metarec::bench
