#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds pp with its tests and runs the whole suite.
# GPU tests report "skipped" where there is no GPU. Usage: bash scripts/test.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh -DPP_BUILD_TESTS=ON -DPP_BUILD_BENCHMARKS=ON -DPP_WARNINGS_AS_ERRORS=ON
cd "${PP_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
