#include <algorithm>

#include "cuda_check.h"
#include "matmul_epilogue.cuh"

namespace pp::cuda {
namespace {

constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2 / pi), as cpu/gelu.cpp
constexpr float kGeluCubic = 0.044715f;

// Column sums: a block owns kColumns columns and has kColumns x kLanes threads. Thread
// (x, y) sums rows y, y + kLanes, y + 2 kLanes, ... of column x in that order; then one thread
// per column adds the kLanes partial sums in lane order. The order depends only on n.
constexpr int kColumns = 32;
constexpr int kLanes = 32;

__global__ void bias_grad_kernel(float* d_bias, float* bias_sums, const float* d_out, int n,
                                 int out_dim, float alpha) {
  __shared__ float partial[kLanes][kColumns + 1];
  const int column = blockIdx.x * kColumns + threadIdx.x;
  float sum = 0.0f;
  if (column < out_dim) {
    for (int row = threadIdx.y; row < n; row += kLanes) {
      sum += d_out[static_cast<std::size_t>(row) * out_dim + column];
    }
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < out_dim) {
    float total = 0.0f;
    for (int lane = 0; lane < kLanes; ++lane) total += partial[lane][threadIdx.x];
    bias_sums[column] = total;
    d_bias[column] += alpha * total;
  }
}

__device__ float gelu_tanh(float x) {
  return tanhf(kGeluScale * (x + kGeluCubic * x * x * x));
}

__global__ void gelu_forward_kernel(float* out, const float* pre_gelu, std::size_t count) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float x = pre_gelu[i];
    out[i] = 0.5f * x * (1.0f + gelu_tanh(x));
  }
}

__global__ void gelu_backward_inplace_kernel(float* d, const float* pre_gelu, std::size_t count) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float x = pre_gelu[i];
    const float t = gelu_tanh(x);
    const float sech2 = 1.0f - t * t;
    const float local =
        0.5f * (1.0f + t) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
    d[i] = local * d[i];
  }
}

unsigned elementwise_blocks(std::size_t count, unsigned threads) {
  return static_cast<unsigned>(std::min<std::size_t>((count + threads - 1) / threads, 4096));
}

}  // namespace

void launch_bias_grad(float* d_bias, float* bias_sums, const float* d_out, int n, int out_dim,
                      float alpha, cudaStream_t stream) {
  if (out_dim <= 0) return;
  const dim3 threads(kColumns, kLanes);
  const dim3 blocks(static_cast<unsigned>((out_dim + kColumns - 1) / kColumns));
  bias_grad_kernel<<<blocks, threads, 0, stream>>>(d_bias, bias_sums, d_out, n, out_dim, alpha);
  PP_CUDA_CHECK_LAUNCH();
}

void launch_gelu_forward(float* out, const float* pre_gelu, std::size_t count,
                         cudaStream_t stream) {
  if (count == 0) return;
  const unsigned threads = 256;
  gelu_forward_kernel<<<elementwise_blocks(count, threads), threads, 0, stream>>>(out, pre_gelu,
                                                                                  count);
  PP_CUDA_CHECK_LAUNCH();
}

void launch_gelu_backward_inplace(float* d, const float* pre_gelu, std::size_t count,
                                  cudaStream_t stream) {
  if (count == 0) return;
  const unsigned threads = 256;
  gelu_backward_inplace_kernel<<<elementwise_blocks(count, threads), threads, 0, stream>>>(
      d, pre_gelu, count);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
