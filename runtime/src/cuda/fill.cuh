#pragma once
// fill: sets n floats of device memory to value, on `stream`.
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

void launch_fill(float* data, std::size_t n, float value, cudaStream_t stream);

}  // namespace pp::cuda
