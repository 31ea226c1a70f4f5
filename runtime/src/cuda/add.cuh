#pragma once
// Elementwise sums over n floats of device memory on `stream`. Each result is one IEEE float
// addition, so it equals the host's a + b bit for bit.
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

// out (n) = a (n) + b (n). Overwrites out; out may alias a or b.
void launch_add(float* out, const float* a, const float* b, std::size_t n, cudaStream_t stream);

// y (n) += x (n). Accumulates; x must not overlap y except as the same array (y += y doubles).
void launch_accumulate(float* y, const float* x, std::size_t n, cudaStream_t stream);

}  // namespace pp::cuda
