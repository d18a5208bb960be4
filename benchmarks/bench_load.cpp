// bench_load: how long `metarec::load_movielens` takes on a MovieLens directory.
//
// Usage: bench_load [DIR] [REPEATS]
//   DIR      a MovieLens directory (default: ../shared/data/ml-1m beside the repository)
//   REPEATS  number of timed loads (default 5)
// Prints the machine and compiler, then min / median wall seconds, min / median process CPU
// seconds (std::clock; on a shared machine the wall time also counts time spent waiting for a
// core, the CPU time does not) and ratings per second. Each load runs in full (files read,
// parsed, Dataset built with its indexes). Writes no files.
// Exits 0 with a message when the directory is absent, so it can run in any checkout.

#include <metarec/data/movielens.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

#ifndef METAREC_SOURCE_DIR
#define METAREC_SOURCE_DIR "."
#endif

const char* build_type() {
#ifdef NDEBUG
  return "NDEBUG (optimised)";
#else
  return "assertions on (not a Release build: figures are not representative)";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path dir =
      argc > 1 ? std::filesystem::path(argv[1])
               : std::filesystem::path(METAREC_SOURCE_DIR "/../shared/data/ml-1m");
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  if (!std::filesystem::is_directory(dir)) {
    std::printf("bench_load: %s not found; nothing to measure (pass a MovieLens directory)\n",
                dir.string().c_str());
    return 0;
  }

  std::printf("bench_load: metarec::load_movielens(\"%s\"), %d repeats\n", dir.string().c_str(),
              repeats);
#if defined(__clang__)
  std::printf("compiler:   %s\n", __VERSION__);  // "Clang x.y.z ..." already
#elif defined(__GNUC__)
  std::printf("compiler:   GCC %s\n", __VERSION__);
#else
  std::printf("compiler:   %s\n", __VERSION__);
#endif
  std::printf("build:      %s\n", build_type());
  std::printf("threads:    hardware_concurrency = %u (the loader uses one)\n",
              std::thread::hardware_concurrency());

  std::vector<double> seconds;
  std::vector<double> cpu_seconds;
  std::size_t ratings = 0;
  std::string name;
  try {
    for (int k = 0; k < repeats; ++k) {
      const std::clock_t c0 = std::clock();
      const auto t0 = std::chrono::steady_clock::now();
      const metarec::Dataset ds = metarec::load_movielens(dir);
      const auto t1 = std::chrono::steady_clock::now();
      const std::clock_t c1 = std::clock();
      seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
      cpu_seconds.push_back(static_cast<double>(c1 - c0) / CLOCKS_PER_SEC);
      ratings = ds.num_ratings();
      name = ds.name();
      if (k == 0)
        std::printf("data:       %s: %u users, %u items, %zu ratings, %s\n", name.c_str(),
                    ds.num_users(), ds.num_items(), ratings,
                    ds.has_times() ? "with times" : "no times");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_load: %s\n", e.what());
    return 1;
  }
  auto min_median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return std::pair{v.front(), n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])};
  };
  const auto [min, median] = min_median(seconds);
  const auto [cpu_min, cpu_median] = min_median(cpu_seconds);
  // The first load of a process also pays the page faults of fresh memory; later ones reuse
  // what the allocator kept. Both are shown.
  std::printf("\n%-10s %10s %10s %9s %9s %9s %9s %16s\n", "data set", "1st wall", "1st cpu",
              "wall min", "wall med", "cpu min", "cpu med", "ratings/s (wall)");
  std::printf("%-10s %10.3f %10.3f %9.3f %9.3f %9.3f %9.3f %16.3g\n", name.c_str(), seconds[0],
              cpu_seconds[0], min, median, cpu_min, cpu_median, static_cast<double>(ratings) / min);
  return 0;
}
