#include <algorithm>

#include "cuda/cuda_check.h"
#include "cuda/gelu.cuh"

namespace pp::cuda {
namespace {

constexpr float kScale = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kCubic = 0.044715f;
constexpr unsigned kThreads = 256;

unsigned grid_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>((n + kThreads - 1) / kThreads, 65536));
}

// Each element is read, then written, by one thread: out may alias in.
__global__ void gelu_forward_kernel(float* out, const float* in, std::size_t n) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float x = in[i];
    out[i] = 0.5f * x * (1.0f + tanhf(kScale * (x + kCubic * x * x * x)));
  }
}

__global__ void gelu_backward_kernel(float* d_in, const float* in, const float* d_out,
                                     std::size_t n) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float x = in[i];
    const float t = tanhf(kScale * (x + kCubic * x * x * x));
    const float sech2 = 1.0f - t * t;
    const float local =
        0.5f * (1.0f + t) + 0.5f * x * sech2 * kScale * (1.0f + 3.0f * kCubic * x * x);
    d_in[i] = local * d_out[i];
  }
}

}  // namespace

void launch_gelu_forward(float* out, const float* in, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  gelu_forward_kernel<<<grid_for(n), kThreads, 0, stream>>>(out, in, n);
  PP_CUDA_CHECK_LAUNCH();
}

void launch_gelu_backward(float* d_in, const float* in, const float* d_out, std::size_t n,
                          cudaStream_t stream) {
  if (n == 0) return;
  gelu_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(d_in, in, d_out, n);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
