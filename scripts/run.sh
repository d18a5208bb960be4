#!/usr/bin/env bash
# The README's main command: installs missing packages, builds metarec in Release, and runs the
# flagship example on the shipped synthetic sample, or on MovieLens-1M when METAREC_DATA (or the
# first argument) names its directory.
#   bash scripts/run.sh                    # data/sample
#   bash scripts/run.sh ../shared/data/ml-1m
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
data="${1:-${METAREC_DATA:-data/sample}}"
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ -f examples/cold_start.cpp ]; then
  cmake --build build/release -j"$jobs" --target cold_start metarec_cli
  build/release/bin/cold_start --data "$data"
else
  cmake --build build/release -j"$jobs" --target metarec_cli
  build/release/bin/metarec data-stats --data "$data"
  build/release/bin/metarec split --data "$data" --protocol melu-user-cold --seed 1 --out build/split-melu-user-cold
fi
