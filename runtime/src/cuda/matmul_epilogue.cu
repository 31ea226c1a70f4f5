#include <algorithm>

#include "cuda_check.h"
#include "matmul_epilogue.cuh"

namespace pp::cuda {
namespace {


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

}  // namespace

void launch_bias_grad(float* d_bias, float* bias_sums, const float* d_out, int n, int out_dim,
                      float alpha, cudaStream_t stream) {
  if (out_dim <= 0) return;
  const dim3 threads(kColumns, kLanes);
  const dim3 blocks(static_cast<unsigned>((out_dim + kColumns - 1) / kColumns));
  bias_grad_kernel<<<blocks, threads, 0, stream>>>(d_bias, bias_sums, d_out, n, out_dim, alpha);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
