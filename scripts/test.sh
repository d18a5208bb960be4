#!/usr/bin/env bash
# The README's test command: installs missing packages, builds the tests and examples in Release
# with warnings as errors, runs the test suite, runs it again under AddressSanitizer +
# UndefinedBehaviorSanitizer, and builds the test_package consumer against the installed package.
#   METAREC_FAST=1  skip the sanitizer build (quicker local runs)
#   METAREC_BENCH=1 also build the benchmarks (with warnings as errors)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() { echo "== $1 (at $(( $(date +%s) - start )) s)"; }
bash scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

stage "Release build and tests"
# The benchmarks (four large programs no test runs) are built only with METAREC_BENCH=1: they took
# about 5 of the 39 minutes this script needed on the 2-core CI machine.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DMETAREC_WARNINGS_AS_ERRORS=ON \
  -DMETAREC_BUILD_BENCHMARKS="$([ "${METAREC_BENCH:-0}" = "1" ] && echo ON || echo OFF)" >/dev/null
cmake --build build/release -j"$jobs"
(cd build/release && ctest --output-on-failure -j"$jobs")

stage "test_package: find_package(metarec) from an installed copy"
rm -rf build/install build/test_package
cmake --install build/release --prefix build/install >/dev/null
cmake -S test_package -B build/test_package -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/test_package >/dev/null
build/test_package/consumer

if [ "${METAREC_FAST:-0}" != "1" ]; then
  stage "AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
  # Build type "Sanitize": -O1 -g1 and no NDEBUG, so Eigen's bounds assertions are live too. Against
  # RelWithDebInfo (-O2 -g) this halves the compile time and memory of the Eigen-heavy test files.
  cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Sanitize -DMETAREC_BUILD_BENCHMARKS=OFF \
    -DMETAREC_CHECK_HEADERS=OFF -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
    >/dev/null
  cmake --build build/asan -j"$jobs"
  (cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j"$jobs" -LE real)
fi
total=$(( $(date +%s) - start ))
echo "== total: ${total} s ($(( total / 60 )) min $(( total % 60 )) s)"
