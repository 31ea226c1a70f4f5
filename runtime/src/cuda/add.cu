#include <algorithm>

#include "cuda/add.cuh"
#include "cuda/cuda_check.h"

namespace pp::cuda {
namespace {

constexpr unsigned kThreads = 256;

unsigned grid_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>((n + kThreads - 1) / kThreads, 65536));
}

// Each element is read, then written, by one thread: out may alias a or b.
__global__ void add_kernel(float* out, const float* a, const float* b, std::size_t n) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    out[i] = a[i] + b[i];
  }
}

}  // namespace

void launch_add(float* out, const float* a, const float* b, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<grid_for(n), kThreads, 0, stream>>>(out, a, b, n);
  PP_CUDA_CHECK_LAUNCH();
}

void launch_accumulate(float* y, const float* x, std::size_t n, cudaStream_t stream) {
  launch_add(y, y, x, n, stream);
}

}  // namespace pp::cuda
