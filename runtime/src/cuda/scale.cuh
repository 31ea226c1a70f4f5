#pragma once
// x (n) *= s, in place, float32 device memory (one rounding per element, as the CPU's x * s).
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

void launch_scale(float* x, float s, std::size_t n, cudaStream_t stream);

}  // namespace pp::cuda
