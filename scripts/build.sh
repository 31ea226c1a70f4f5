#!/usr/bin/env bash
# Configures and builds pp into build/ (or $PP_BUILD_DIR). CUDA parts are built when the CUDA
# toolkit is at /usr/local/cuda (no GPU needed), otherwise PP_ENABLE_CUDA=OFF.
# Extra arguments go to cmake's configure step, e.g. -DPP_BUILD_BENCHMARKS=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${PP_BUILD_DIR:-build}
cuda=OFF
if [ -x /usr/local/cuda/bin/nvcc ]; then
  cuda=ON
  export PATH=/usr/local/cuda/bin:$PATH
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPP_ENABLE_CUDA=$cuda "$@"
cmake --build "$build_dir" -j "$(nproc)"
