#include <algorithm>

#include "cuda/cuda_check.h"
#include "cuda/scale.cuh"

namespace pp::cuda {
namespace {

__global__ void scale_kernel(float* x, float s, std::size_t n) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    x[i] = __fmul_rn(x[i], s);
  }
}

}  // namespace

void launch_scale(float* x, float s, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned threads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<std::size_t>((n + threads - 1) / threads, 4096));
  scale_kernel<<<blocks, threads, 0, stream>>>(x, s, n);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
