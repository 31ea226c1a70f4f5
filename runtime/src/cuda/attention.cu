#include <cmath>

#include "attention.cuh"
#include "attention_tiles.cuh"
#include "cuda_check.h"

namespace pp::cuda {
namespace {

using namespace attention_detail;

// Block (blockIdx.x, h = blockIdx.y, b = blockIdx.z) computes the queries
// [blockIdx.x * kTile, +kTile) of head h of sequence b. For each tile of kTile keys, each of
// a warp's rows takes an online-softmax step: lane l scores key k0 + l, the row's running max m
// and sum l are updated, and the output accumulator (lane holds dims lane, lane + 32, ...) is
// rescaled by exp(m_old - m_new) and adds p_j v_j for the tile's keys in order.
// Shared memory: q (kTile, HD), k (kTile, HD + 1) (padded: lanes read different rows),
// v (kTile, HD).
template <int HD>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(float* out, float* lse, const float* qkv, int t_len, int channels,
                             float scale) {
  constexpr int kPad = HD + 1;
  constexpr int kDims = (HD + 31) / 32;  // output dims per lane
  extern __shared__ float smem[];
  float* q_s = smem;
  float* k_s = q_s + kTile * HD;
  float* v_s = k_s + kTile * kPad;

  const int q0 = blockIdx.x * kTile;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const int heads = gridDim.y;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const std::size_t stride = 3 * static_cast<std::size_t>(channels);  // qkv row
  const float* q_base = qkv + static_cast<std::size_t>(b) * t_len * stride + h * HD;
  const float* k_base = q_base + channels;
  const float* v_base = q_base + 2 * channels;

  float m[kRowsPerWarp];
  float l[kRowsPerWarp];
  float acc[kRowsPerWarp][kDims];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    m[rr] = -INFINITY;
    l[rr] = 0.0f;
#pragma unroll
    for (int c = 0; c < kDims; ++c) acc[rr][c] = 0.0f;
  }

  load_tile<HD, HD>(q_s, q_base, stride, q0, t_len);
  const int last_query = min(q0 + kTile, t_len) - 1;
  for (int k0 = 0; k0 <= last_query; k0 += kTile) {
    __syncthreads();  // the previous tile is no longer read
    load_tile<HD, kPad>(k_s, k_base, stride, k0, t_len);
    load_tile<HD, HD>(v_s, v_base, stride, k0, t_len);
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp + kWarps * rr;
      const int i = q0 + r;
      if (i >= t_len || k0 > i) continue;  // warp-uniform: no key of this tile is visible
      const int j = k0 + lane;
      const bool visible = j <= i;  // implies j < t_len
      float s = dot<HD>(q_s + r * HD, k_s + lane * kPad) * scale;
      if (!visible) s = -INFINITY;
      const float m_new = fmaxf(m[rr], warp_max(s));  // finite: key k0 <= i is visible
      const float correction = expf(m[rr] - m_new);   // 0 on the first tile (m = -inf)
      const float p = visible ? expf(s - m_new) : 0.0f;
      l[rr] = l[rr] * correction + warp_sum(p);
#pragma unroll
      for (int c = 0; c < kDims; ++c) acc[rr][c] *= correction;
      for (int jj = 0; jj < kTile; ++jj) {
        const float p_j = __shfl_sync(kFullMask, p, jj);
#pragma unroll
        for (int c = 0; c < kDims; ++c) {
          const int d = lane + 32 * c;
          if (d < HD) acc[rr][c] += p_j * v_s[jj * HD + d];
        }
      }
      m[rr] = m_new;
    }
  }

#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int i = q0 + warp + kWarps * rr;
    if (i >= t_len) continue;
    float* y = out + (static_cast<std::size_t>(b) * t_len + i) * channels + h * HD;
#pragma unroll
    for (int c = 0; c < kDims; ++c) {
      const int d = lane + 32 * c;
      if (d < HD) y[d] = acc[rr][c] / l[rr];
    }
    if (lane == 0) lse[(static_cast<std::size_t>(b) * heads + h) * t_len + i] = m[rr] + logf(l[rr]);
  }
}

template <int HD>
void launch_forward(float* out, float* lse, const float* qkv, const AttentionShape& s,
                    float scale, cudaStream_t stream) {
  const std::size_t bytes = sizeof(float) * kTile * (2 * HD + (HD + 1));
  allow_shared_memory(attention_forward_kernel<HD>, bytes);
  const dim3 blocks(static_cast<unsigned>((s.seq + kTile - 1) / kTile),
                    static_cast<unsigned>(s.heads), static_cast<unsigned>(s.batch));
  attention_forward_kernel<HD><<<blocks, kThreads, bytes, stream>>>(out, lse, qkv, s.seq,
                                                                    s.channels, scale);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace

void launch_attention_forward(float* out, float* lse, const float* qkv,
                              const AttentionShape& shape, cudaStream_t stream) {
  const int hd = head_dim(shape);
  if (shape.batch == 0 || shape.seq == 0) return;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));  // as cpu/attention.cpp
  switch (hd) {
    case 16: launch_forward<16>(out, lse, qkv, shape, scale, stream); break;
    case 32: launch_forward<32>(out, lse, qkv, shape, scale, stream); break;
    case 64: launch_forward<64>(out, lse, qkv, shape, scale, stream); break;
    default: launch_forward<128>(out, lse, qkv, shape, scale, stream); break;  // head_dim checked
  }
}

}  // namespace pp::cuda
