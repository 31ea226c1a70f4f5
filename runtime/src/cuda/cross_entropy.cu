#include "cuda/cross_entropy.cuh"
#include "cuda/cuda_check.h"
#include "cuda/reduce.cuh"

namespace pp::cuda {
namespace {

constexpr unsigned kRowThreads = 512;
constexpr unsigned kSumThreads = 1024;

// Block i owns row i. Every read of the row (target logit, max, sum) happens before the
// __syncthreads inside block_sum, and every write after it, so the in-place update is safe.
__global__ void cross_entropy_fused_kernel(float* logits, float* losses,
                                           const std::int32_t* targets, int v) {
  __shared__ float shared_max[kWarpSize];
  __shared__ double shared_sum[kWarpSize];
  const std::size_t row = blockIdx.x;
  float* x = logits + row * v;
  const int target = targets[row];
  const bool valid = target >= 0 && target < v;
  const float target_logit = valid ? x[target] : 0.0f;

  float row_max = -INFINITY;
  for (int j = static_cast<int>(threadIdx.x); j < v; j += static_cast<int>(blockDim.x)) {
    row_max = fmaxf(row_max, x[j]);
  }
  row_max = block_max(row_max, shared_max);
  double sum = 0.0;
  for (int j = static_cast<int>(threadIdx.x); j < v; j += static_cast<int>(blockDim.x)) {
    sum += static_cast<double>(expf(x[j] - row_max));
  }
  sum = block_sum(sum, shared_sum);

  const float inv = static_cast<float>(1.0 / sum);
  for (int j = static_cast<int>(threadIdx.x); j < v; j += static_cast<int>(blockDim.x)) {
    float p = expf(x[j] - row_max) * inv;
    if (j == target) p -= 1.0f;
    x[j] = p;
  }
  if (threadIdx.x == 0) {
    losses[row] =
        valid ? static_cast<float>(log(sum) - static_cast<double>(target_logit - row_max)) : NAN;
  }
}

__global__ void loss_sum_kernel(double* total, const float* losses, int n) {
  __shared__ double shared[kWarpSize];
  double sum = 0.0;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x)) {
    sum += static_cast<double>(losses[i]);
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *total = sum;
}

}  // namespace

void launch_cross_entropy_fused(float* logits, float* losses, const std::int32_t* targets, int n,
                                int v, cudaStream_t stream) {
  if (n <= 0 || v <= 0) return;
  cross_entropy_fused_kernel<<<static_cast<unsigned>(n), kRowThreads, 0, stream>>>(logits, losses,
                                                                                   targets, v);
  PP_CUDA_CHECK_LAUNCH();
}

void launch_loss_sum(double* total, const float* losses, int n, cudaStream_t stream) {
  loss_sum_kernel<<<1, kSumThreads, 0, stream>>>(total, losses, n < 0 ? 0 : n);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
