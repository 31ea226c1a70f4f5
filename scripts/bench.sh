#!/usr/bin/env bash
# Builds pp with its benchmarks and runs them on one core. Extra arguments go to the benchmark
# binary, e.g. --benchmark_filter=Simulate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build.sh -DPP_BUILD_TESTS=ON -DPP_BUILD_BENCHMARKS=ON >/dev/null
exec taskset -c 0 "${PP_BUILD_DIR:-build}/tests/pp_bench" --benchmark_min_time=0.5 "$@"
