#include <algorithm>

#include "fill.cuh"

namespace pp::cuda {
namespace {

__global__ void fill_kernel(float* data, std::size_t n, float value) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    data[i] = value;
  }
}

}  // namespace

void launch_fill(float* data, std::size_t n, float value, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned threads = 256;
  const unsigned blocks =
      static_cast<unsigned>(std::min<std::size_t>((n + threads - 1) / threads, 4096));
  fill_kernel<<<blocks, threads, 0, stream>>>(data, n, value);
}

}  // namespace pp::cuda
