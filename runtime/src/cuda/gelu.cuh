#pragma once
// GELU, tanh approximation (GPT-2), elementwise over n floats of device memory on `stream`; the
// same formulas as runtime/src/cpu/gelu.h (tanhf differs from the host's by a few ulp).
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

// out (n) = gelu(in (n)). Overwrites out; out may alias in (in place).
void launch_gelu_forward(float* out, const float* in, std::size_t n, cudaStream_t stream);

// d_in (n) = d_out (n) * gelu'(in (n)). Overwrites d_in, which may alias in or d_out (in place).
void launch_gelu_backward(float* d_in, const float* in, const float* d_out, std::size_t n,
                          cudaStream_t stream);

}  // namespace pp::cuda
