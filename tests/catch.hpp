#pragma once
// The one place that knows which Catch2 is installed: Debian 12 ships v2.13 (single header);
// v3 splits the headers and renames Approx's home. Tests include this file only.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
using Catch::Approx;
#define METAREC_CATCH_V3 1
#else
#include <catch2/catch.hpp>
#endif

#include <cstdlib>
#include <filesystem>
#include <string>

namespace metarec::test {

/// Directory of the shared real data sets (../shared/data beside the repository), overridable with
/// METAREC_REAL_DATA. Empty when absent: real-data checks then print METAREC-SKIP and return, and
/// ctest reports them as skipped.
inline std::filesystem::path real_data_dir() {
  if (const char* env = std::getenv("METAREC_REAL_DATA")) return env;
#ifdef METAREC_SOURCE_DIR
  return std::filesystem::path(METAREC_SOURCE_DIR) / ".." / "shared" / "data";
#else
  return {};
#endif
}

/// Path to a real data set directory, or an empty path when it is not on this machine.
inline std::filesystem::path real_data(const std::string& name) {
  const auto dir = real_data_dir();
  if (dir.empty()) return {};
  const auto p = dir / name;
  return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

/// Directory of the small fixtures committed under tests/fixtures.
inline std::filesystem::path fixtures() {
#ifdef METAREC_SOURCE_DIR
  return std::filesystem::path(METAREC_SOURCE_DIR) / "tests" / "fixtures";
#else
  return "tests/fixtures";
#endif
}

/// The shipped synthetic sample in ML-1M format (data/sample).
inline std::filesystem::path sample_data() {
#ifdef METAREC_SOURCE_DIR
  return std::filesystem::path(METAREC_SOURCE_DIR) / "data" / "sample";
#else
  return "data/sample";
#endif
}

}  // namespace metarec::test

/// Skips the rest of a real-data test case cleanly when the data is absent.
#define METAREC_REQUIRE_REAL_DATA(var, name)                                        \
  const auto var = ::metarec::test::real_data(name);                                \
  if (var.empty()) {                                                                \
    WARN("METAREC-SKIP: real data set '" << name << "' not found; skipping");       \
    return;                                                                         \
  }
