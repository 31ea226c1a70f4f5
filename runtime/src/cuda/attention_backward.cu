#include <cmath>

#include "attention.cuh"
#include "attention_tiles.cuh"
#include "cuda_check.h"

namespace pp::cuda {
namespace {

using namespace attention_detail;

// With P_ij = exp(s_ij - lse_i) (s the scaled scores), dP_ij = d_out_i . v_j and
// D_i = d_out_i . out_i = sum_j P_ij dP_ij, the score gradient is dS_ij = P_ij (dP_ij - D_i) scale
// (the CPU's causal_softmax_backward), and
//   dq_i = sum_{j<=i} dS_ij k_j,   dk_j = sum_{i>=j} dS_ij q_i,   dv_j = sum_{i>=j} P_ij d_out_i.
// dq is summed by a kernel over query blocks, dk and dv by one over key blocks: no atomics.

// d_rows (b, H, T): D_i per head, one warp per row, lanes over the head's dims.
__global__ void row_dot_kernel(float* d_rows, const float* d_out, const float* out, int batch,
                               int t_len, int channels, int heads) {
  const std::size_t row = static_cast<std::size_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= static_cast<std::size_t>(batch) * heads * t_len) return;  // warp-uniform
  const int hd = channels / heads;
  const int i = static_cast<int>(row % t_len);
  const std::size_t bh = row / t_len;
  const int h = static_cast<int>(bh % heads);
  const std::size_t b = bh / heads;
  const std::size_t offset = (b * t_len + i) * channels + h * hd;
  float sum = 0.0f;
  for (int d = lane; d < hd; d += 32) sum += d_out[offset + d] * out[offset + d];
  sum = warp_sum(sum);
  if (lane == 0) d_rows[row] = sum;
}

// Block (blockIdx.x, h, b): dq for the queries [blockIdx.x * kTile, +kTile), over tiles of keys.
// Shared memory: q, d_out (kTile, HD); k, v (kTile, HD + 1).
template <int HD>
__global__ void __launch_bounds__(kThreads)
    attention_dq_kernel(float* d_qkv, const float* d_out, const float* qkv, const float* lse,
                        const float* d_rows, int t_len, int channels, float scale) {
  constexpr int kPad = HD + 1;
  constexpr int kDims = (HD + 31) / 32;
  extern __shared__ float smem[];
  float* q_s = smem;
  float* do_s = q_s + kTile * HD;
  float* k_s = do_s + kTile * HD;
  float* v_s = k_s + kTile * kPad;

  const int q0 = blockIdx.x * kTile;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const std::size_t stride = 3 * static_cast<std::size_t>(channels);
  const std::size_t seq0 = static_cast<std::size_t>(b) * t_len;  // first row of sequence b
  const float* q_base = qkv + seq0 * stride + h * HD;
  const std::size_t row_stat0 = (static_cast<std::size_t>(b) * gridDim.y + h) * t_len;

  float lse_r[kRowsPerWarp];
  float d_r[kRowsPerWarp];
  float acc[kRowsPerWarp][kDims];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int i = q0 + warp + kWarps * rr;
    lse_r[rr] = i < t_len ? lse[row_stat0 + i] : 0.0f;
    d_r[rr] = i < t_len ? d_rows[row_stat0 + i] : 0.0f;
#pragma unroll
    for (int c = 0; c < kDims; ++c) acc[rr][c] = 0.0f;
  }

  load_tile<HD, HD>(q_s, q_base, stride, q0, t_len);
  load_tile<HD, HD>(do_s, d_out + seq0 * channels + h * HD, channels, q0, t_len);
  const int last_query = min(q0 + kTile, t_len) - 1;
  for (int k0 = 0; k0 <= last_query; k0 += kTile) {
    __syncthreads();
    load_tile<HD, kPad>(k_s, q_base + channels, stride, k0, t_len);
    load_tile<HD, kPad>(v_s, q_base + 2 * channels, stride, k0, t_len);
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp + kWarps * rr;
      const int i = q0 + r;
      if (i >= t_len || k0 > i) continue;  // warp-uniform
      const bool visible = k0 + lane <= i;
      const float s = dot<HD>(q_s + r * HD, k_s + lane * kPad) * scale;
      const float p = visible ? expf(s - lse_r[rr]) : 0.0f;
      const float dp = dot<HD>(do_s + r * HD, v_s + lane * kPad);
      const float ds = visible ? p * (dp - d_r[rr]) * scale : 0.0f;
      for (int jj = 0; jj < kTile; ++jj) {
        const float ds_j = __shfl_sync(kFullMask, ds, jj);
#pragma unroll
        for (int c = 0; c < kDims; ++c) {
          const int d = lane + 32 * c;
          if (d < HD) acc[rr][c] += ds_j * k_s[jj * kPad + d];
        }
      }
    }
  }

#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int i = q0 + warp + kWarps * rr;
    if (i >= t_len) continue;
    float* dq = d_qkv + (seq0 + i) * stride + h * HD;
#pragma unroll
    for (int c = 0; c < kDims; ++c) {
      const int d = lane + 32 * c;
      if (d < HD) dq[d] = acc[rr][c];
    }
  }
}

// Block (blockIdx.x, h, b): dk and dv for the keys [blockIdx.x * kTile, +kTile), over tiles of
// queries from the block's first key on. Shared memory: k, v (kTile, HD); q, d_out
// (kTile, HD + 1); lse and D of the query tile (kTile each).
template <int HD>
__global__ void __launch_bounds__(kThreads)
    attention_dkv_kernel(float* d_qkv, const float* d_out, const float* qkv, const float* lse,
                         const float* d_rows, int t_len, int channels, float scale) {
  constexpr int kPad = HD + 1;
  constexpr int kDims = (HD + 31) / 32;
  extern __shared__ float smem[];
  float* k_s = smem;
  float* v_s = k_s + kTile * HD;
  float* q_s = v_s + kTile * HD;
  float* do_s = q_s + kTile * kPad;
  float* lse_s = do_s + kTile * kPad;
  float* d_s = lse_s + kTile;

  const int k0 = blockIdx.x * kTile;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const std::size_t stride = 3 * static_cast<std::size_t>(channels);
  const std::size_t seq0 = static_cast<std::size_t>(b) * t_len;
  const float* q_base = qkv + seq0 * stride + h * HD;
  const float* do_base = d_out + seq0 * channels + h * HD;
  const std::size_t row_stat0 = (static_cast<std::size_t>(b) * gridDim.y + h) * t_len;

  float dk[kRowsPerWarp][kDims];
  float dv[kRowsPerWarp][kDims];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
#pragma unroll
    for (int c = 0; c < kDims; ++c) dk[rr][c] = dv[rr][c] = 0.0f;
  }

  load_tile<HD, HD>(k_s, q_base + channels, stride, k0, t_len);
  load_tile<HD, HD>(v_s, q_base + 2 * channels, stride, k0, t_len);
  // Queries before k0 see none of these keys; tile i0 = k0 holds the first that do.
  for (int i0 = k0; i0 < t_len; i0 += kTile) {
    __syncthreads();
    load_tile<HD, kPad>(q_s, q_base, stride, i0, t_len);
    load_tile<HD, kPad>(do_s, do_base, channels, i0, t_len);
    if (threadIdx.x < kTile) {
      const int i = i0 + threadIdx.x;
      lse_s[threadIdx.x] = i < t_len ? lse[row_stat0 + i] : 0.0f;
      d_s[threadIdx.x] = i < t_len ? d_rows[row_stat0 + i] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp + kWarps * rr;
      const int j = k0 + r;
      if (j >= t_len) continue;  // warp-uniform
      const int i = i0 + lane;
      const bool visible = i >= j && i < t_len;
      const float s = dot<HD>(q_s + lane * kPad, k_s + r * HD) * scale;
      const float p = visible ? expf(s - lse_s[lane]) : 0.0f;
      const float dp = dot<HD>(do_s + lane * kPad, v_s + r * HD);
      const float ds = visible ? p * (dp - d_s[lane]) * scale : 0.0f;
      for (int ii = 0; ii < kTile; ++ii) {
        const float p_i = __shfl_sync(kFullMask, p, ii);
        const float ds_i = __shfl_sync(kFullMask, ds, ii);
#pragma unroll
        for (int c = 0; c < kDims; ++c) {
          const int d = lane + 32 * c;
          if (d < HD) {
            dv[rr][c] += p_i * do_s[ii * kPad + d];
            dk[rr][c] += ds_i * q_s[ii * kPad + d];
          }
        }
      }
    }
  }

#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int j = k0 + warp + kWarps * rr;
    if (j >= t_len) continue;
    float* row = d_qkv + (seq0 + j) * stride + h * HD;
#pragma unroll
    for (int c = 0; c < kDims; ++c) {
      const int d = lane + 32 * c;
      if (d < HD) {
        row[channels + d] = dk[rr][c];
        row[2 * channels + d] = dv[rr][c];
      }
    }
  }
}

template <int HD>
void launch_backward(float* d_qkv, const float* d_out, const float* qkv, const float* lse,
                     const float* d_rows, const AttentionShape& s, float scale,
                     cudaStream_t stream) {
  const dim3 blocks(static_cast<unsigned>((s.seq + kTile - 1) / kTile),
                    static_cast<unsigned>(s.heads), static_cast<unsigned>(s.batch));
  const std::size_t dq_bytes = sizeof(float) * kTile * (2 * HD + 2 * (HD + 1));
  allow_shared_memory(attention_dq_kernel<HD>, dq_bytes);
  attention_dq_kernel<HD><<<blocks, kThreads, dq_bytes, stream>>>(d_qkv, d_out, qkv, lse, d_rows,
                                                                  s.seq, s.channels, scale);
  PP_CUDA_CHECK_LAUNCH();
  const std::size_t dkv_bytes = sizeof(float) * kTile * (2 * HD + 2 * (HD + 1) + 2);
  allow_shared_memory(attention_dkv_kernel<HD>, dkv_bytes);
  attention_dkv_kernel<HD><<<blocks, kThreads, dkv_bytes, stream>>>(
      d_qkv, d_out, qkv, lse, d_rows, s.seq, s.channels, scale);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t attention_backward_scratch_floats(const AttentionShape& shape) {
  return static_cast<std::size_t>(shape.batch) * shape.heads * shape.seq;
}

void launch_attention_backward(float* d_qkv, const float* d_out, const float* qkv,
                               const float* out, const float* lse, const AttentionShape& shape,
                               float* scratch, cudaStream_t stream) {
  const int hd = head_dim(shape);
  if (shape.batch == 0 || shape.seq == 0) return;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));  // as cpu/attention.cpp
  const std::size_t rows = attention_backward_scratch_floats(shape);
  const unsigned row_blocks = static_cast<unsigned>((rows + kWarps - 1) / kWarps);
  row_dot_kernel<<<row_blocks, kThreads, 0, stream>>>(scratch, d_out, out, shape.batch, shape.seq,
                                                      shape.channels, shape.heads);
  PP_CUDA_CHECK_LAUNCH();
  switch (hd) {
    case 16: launch_backward<16>(d_qkv, d_out, qkv, lse, scratch, shape, scale, stream); break;
    case 32: launch_backward<32>(d_qkv, d_out, qkv, lse, scratch, shape, scale, stream); break;
    case 64: launch_backward<64>(d_qkv, d_out, qkv, lse, scratch, shape, scale, stream); break;
    default: launch_backward<128>(d_qkv, d_out, qkv, lse, scratch, shape, scale, stream); break;
  }
}

}  // namespace pp::cuda
