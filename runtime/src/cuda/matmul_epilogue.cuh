#pragma once
// The work that completes a linear layer's product when cuBLASLt does not do it in an epilogue
// (LtMatmul, matmul.cuh): the bias gradient (GELU without an epilogue uses gelu.cuh). float32
// device memory, asynchronous on `stream`,
// deterministic (no atomics; every sum in a fixed order).
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

// bias_sums (out) = column sums of d_out (n, out), each summed over the rows in a fixed order;
// then d_bias (out) += alpha * bias_sums. Overwrites bias_sums, accumulates into d_bias.
// n may be 0 (the sums are then 0).
void launch_bias_grad(float* d_bias, float* bias_sums, const float* d_out, int n, int out_dim,
                      float alpha, cudaStream_t stream);

}  // namespace pp::cuda
