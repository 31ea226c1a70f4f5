#include "cuda/cuda_check.h"
#include "cuda/norm.cuh"
#include "cuda/reduce.cuh"

namespace pp::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kChunks =
    64;  // blocks per tensor (fixed: the partition never depends on the device)
constexpr unsigned kSumThreads = 1024;

// Block (chunk, tensor): thread k of chunk c sums elements (c * 256 + k) + i * 64 * 256.
__global__ void squared_norm_partials_kernel(double* scratch, const NormTensor* tensors) {
  __shared__ double shared[kWarpSize];
  const NormTensor d = tensors[blockIdx.y];
  double sum = 0.0;
  for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < d.count;
       k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const double g = d.data[k];
    sum += g * g;
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0)
    scratch[static_cast<std::size_t>(blockIdx.y) * gridDim.x + blockIdx.x] = sum;
}

// One block: thread k sums partials k, k + 1024, ... in order, then a fixed tree.
__global__ void squared_norm_total_kernel(double* total, const double* partials,
                                          std::size_t count) {
  __shared__ double shared[kWarpSize];
  double sum = 0.0;
  for (std::size_t k = threadIdx.x; k < count; k += blockDim.x) sum += partials[k];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *total = sum;
}

}  // namespace

std::size_t squared_norm_scratch_doubles(int num_tensors) {
  return num_tensors <= 0 ? 0 : static_cast<std::size_t>(num_tensors) * kChunks;
}

void launch_squared_norm(double* total, const NormTensor* tensors, int num_tensors, double* scratch,
                         cudaStream_t stream) {
  const std::size_t partials = squared_norm_scratch_doubles(num_tensors);
  if (partials > 0) {
    const dim3 grid(kChunks, static_cast<unsigned>(num_tensors));
    squared_norm_partials_kernel<<<grid, kThreads, 0, stream>>>(scratch, tensors);
    PP_CUDA_CHECK_LAUNCH();
  }
  squared_norm_total_kernel<<<1, kSumThreads, 0, stream>>>(total, scratch, partials);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
