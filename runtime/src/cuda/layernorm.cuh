#pragma once
// LayerNorm over the last dimension on the GPU (GPT-2: eps = cpu::kLayerNormEps, biased
// variance), the same contracts as runtime/src/cpu/layernorm.h. n rows of c features, float32
// device memory, all work queued on `stream`. Deterministic: every launcher gives the same bits
// for the same inputs (fixed reduction orders, no atomics).
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

// out (n, c) = (in - mean) * rstd * weight (c) + bias (c); writes mean (n) and
// rstd (n) = 1 / sqrt(var + eps). Overwrites out, mean, rstd. The row statistics are accumulated
// in double, as on the CPU.
void launch_layernorm_forward(float* out, float* mean, float* rstd, const float* in,
                              const float* weight, const float* bias, int n, int c,
                              cudaStream_t stream);

// The residual add fused with the LayerNorm that follows it, in one kernel:
//   residual_out (n, c) = a (n, c) + b (n, c)
//   ln_out (n, c), mean (n), rstd (n) = layernorm_forward(residual_out, weight, bias)
// Overwrites residual_out, ln_out, mean, rstd. residual_out may alias a or b (each element is
// read, then written, by one thread); ln_out must not alias a, b or residual_out.
void launch_residual_layernorm_forward(float* residual_out, float* ln_out, float* mean, float* rstd,
                                       const float* a, const float* b, const float* weight,
                                       const float* bias, int n, int c, cudaStream_t stream);

// d_in (n, c) += the gradient through the normalisation of d_out (n, c), given the forward's
// in (n, c), mean (n), rstd (n) and weight (c). Accumulates. The two row means are float sums.
void launch_layernorm_backward_input(float* d_in, const float* d_out, const float* in,
                                     const float* mean, const float* rstd, const float* weight,
                                     int n, int c, cudaStream_t stream);

// Floats of scratch launch_layernorm_backward_weight needs for n rows of c features:
// 2 * c * ceil(n / 32) (one (d_weight, d_bias) partial per column per chunk of 32 rows).
std::size_t layernorm_backward_weight_scratch_floats(int n, int c);

// d_weight (c) += sum over rows of d_out * xhat; d_bias (c) += sum over rows of d_out.
// Accumulates (each element once per call). Two passes, no atomics: each thread sums one column
// over a chunk of 32 rows in row order into `scratch`, then one thread per column adds the chunk
// partials in chunk order. scratch: layernorm_backward_weight_scratch_floats(n, c) floats of
// device memory, overwritten.
void launch_layernorm_backward_weight(float* d_weight, float* d_bias, const float* d_out,
                                      const float* in, const float* mean, const float* rstd, int n,
                                      int c, float* scratch, cudaStream_t stream);

}  // namespace pp::cuda
