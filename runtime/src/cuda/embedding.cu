#include <algorithm>
#include <cstddef>

#include "cuda/cuda_check.h"
#include "cuda/embedding.cuh"

namespace pp::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kChannelThreads = 128;
constexpr int kTokenBuckets = 64;  // d_wte: threads per channel, each owning tokens % 64

// out (b*T, C): thread per element (grid-stride).
__global__ void embedding_forward_kernel(float* out, const std::int32_t* tokens, const float* wte,
                                         const float* wpe, int t, int c, std::size_t total) {
  for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t position = k / c;  // index into (b*T)
    const std::size_t j = k % c;
    const std::size_t token = static_cast<std::size_t>(tokens[position]);
    out[k] = wte[token * c + j] + wpe[(position % t) * c + j];
  }
}

// d_wpe (T, C): thread per (t, j) = k, adding the b batch rows in order.
__global__ void embedding_backward_wpe_kernel(float* d_wpe, const float* d_out, int b, int t,
                                              int c) {
  const std::size_t rows = static_cast<std::size_t>(t) * c;
  const std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (k >= rows) return;
  float sum = d_wpe[k];
  for (int batch = 0; batch < b; ++batch) sum += d_out[batch * rows + k];
  d_wpe[k] = sum;
}

// d_wte (V, C): block (channel block, bucket); thread j walks all positions in order and adds
// into the rows of its bucket. No other thread writes column j of those rows.
__global__ void embedding_backward_wte_kernel(float* d_wte, const float* d_out,
                                              const std::int32_t* tokens, std::size_t positions,
                                              int c) {
  const int j = static_cast<int>(blockIdx.x * kChannelThreads + threadIdx.x);
  const int bucket = static_cast<int>(blockIdx.y);
  if (j >= c) return;
  for (std::size_t p = 0; p < positions; ++p) {
    const int token = tokens[p];
    if (token % kTokenBuckets != bucket) continue;
    d_wte[static_cast<std::size_t>(token) * c + j] += d_out[p * c + j];
  }
}

}  // namespace

void launch_embedding_forward(float* out, const std::int32_t* tokens, const float* wte,
                              const float* wpe, int b, int t, int c, cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(b) * t * c;
  if (total == 0 || b <= 0 || t <= 0 || c <= 0) return;
  const auto blocks =
      static_cast<unsigned>(std::min<std::size_t>((total + kThreads - 1) / kThreads, 65536));
  embedding_forward_kernel<<<blocks, kThreads, 0, stream>>>(out, tokens, wte, wpe, t, c, total);
  PP_CUDA_CHECK_LAUNCH();
}

void launch_embedding_backward(float* d_wte, float* d_wpe, const float* d_out,
                               const std::int32_t* tokens, int b, int t, int c,
                               cudaStream_t stream) {
  if (b <= 0 || t <= 0 || c <= 0) return;
  const std::size_t rows = static_cast<std::size_t>(t) * c;
  embedding_backward_wpe_kernel<<<static_cast<unsigned>((rows + kThreads - 1) / kThreads), kThreads,
                                  0, stream>>>(d_wpe, d_out, b, t, c);
  PP_CUDA_CHECK_LAUNCH();
  const dim3 grid(static_cast<unsigned>((c + kChannelThreads - 1) / kChannelThreads),
                  kTokenBuckets);
  embedding_backward_wte_kernel<<<grid, kChannelThreads, 0, stream>>>(
      d_wte, d_out, tokens, static_cast<std::size_t>(b) * t, c);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
