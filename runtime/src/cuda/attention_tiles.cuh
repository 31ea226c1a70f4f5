#pragma once
// Device helpers shared by attention.cu and attention_backward.cu (device code only; include
// from .cu files). A block works on kTile rows of one (batch, head) with kWarps warps; warp w
// owns the block's rows w, w + kWarps, w + 2 kWarps, ... (interleaved, so the causal work is
// spread evenly). In an inner tile, lane l stands for the tile's row l (a key or a query).
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "attention.cuh"
#include "cuda_check.h"
#include "pp/error.h"

namespace pp::cuda::attention_detail {

constexpr int kTile = 32;  // rows per block and per inner tile: one per lane
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = kTile / kWarps;
constexpr unsigned kFullMask = 0xffffffffu;

// Butterfly reductions: every lane ends with the same bits (each step adds the same two values).
__device__ inline float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) {
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  }
  return v;
}
__device__ inline float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// a . b over HD floats, in index order.
template <int HD>
__device__ inline float dot(const float* a, const float* b) {
  float sum = 0.0f;
#pragma unroll
  for (int d = 0; d < HD; ++d) sum += a[d] * b[d];
  return sum;
}

// tile (kTile, HD) with row stride LD = rows [row0, row0 + kTile) of a matrix whose row t (of
// rows < t_end) starts at base + t * stride; zeros past t_end. All threads of the block take part.
template <int HD, int LD>
__device__ inline void load_tile(float* tile, const float* base, std::size_t stride, int row0,
                                 int t_end) {
  for (int idx = threadIdx.x; idx < kTile * HD; idx += blockDim.x) {
    const int r = idx / HD;
    const int d = idx % HD;
    const int t = row0 + r;
    tile[r * LD + d] = t < t_end ? base[static_cast<std::size_t>(t) * stride + d] : 0.0f;
  }
}

// Checks the shape; returns hd. Throws pp::Error(kInternal) for an unsupported one.
inline int head_dim(const AttentionShape& s) {
  if (s.batch < 0 || s.seq < 0 || s.heads <= 0 || s.channels <= 0 || s.channels % s.heads != 0) {
    throw Error(ErrorCategory::kInternal, "attention: bad shape (C must be a multiple of H)");
  }
  const int hd = s.channels / s.heads;
  if (hd != 16 && hd != 32 && hd != 64 && hd != 128) {
    throw Error(ErrorCategory::kInternal, "attention: head dimension " + std::to_string(hd) +
                                              " is not supported (16, 32, 64 or 128)");
  }
  return hd;
}

// Opts the kernel into `bytes` of dynamic shared memory (above 48 KiB needs it).
template <class Kernel>
void allow_shared_memory(Kernel kernel, std::size_t bytes) {
  PP_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(bytes)));
}

}  // namespace pp::cuda::attention_detail
