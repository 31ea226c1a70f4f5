#pragma once
// Causal multi-head self-attention of GPT-2 on the GPU: the CUDA twin of cpu/attention.h,
// without its (b, H, T, T) probability matrix. qkv (b, T, 3C) holds q, k, v in that order along
// the last dimension; head h uses the columns [h*hd, (h+1)*hd) of each, hd = C / H. Scores are
// scaled by 1/sqrt(hd); query i sees keys 0..i. float32 device memory, asynchronous on `stream`.
//
// The forward keeps, instead of the probabilities, each row's log-sum-exp of the scaled scores
// (online softmax over tiles of keys, as flash attention); the backward recomputes the
// probabilities from q, k and it. Nothing of size T x T is stored. Deterministic: every output
// element is summed by one thread in a fixed order (no atomics).
// Supported head dimensions: 16, 32, 64, 128 (others throw pp::Error(kInternal)).
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

struct AttentionShape {
  int batch = 0;     // b
  int seq = 0;       // T
  int channels = 0;  // C
  int heads = 0;     // H, divides C
};

// out (b, T, C) = causal softmax(q k^T / sqrt(hd)) v per head; lse (b, H, T) = log sum_j<=i
// exp(q_i . k_j / sqrt(hd)) per row (natural log). Overwrites out and lse, which must not
// overlap qkv.
void launch_attention_forward(float* out, float* lse, const float* qkv,
                              const AttentionShape& shape, cudaStream_t stream);

// Floats of scratch launch_attention_backward needs: b * H * T.
std::size_t attention_backward_scratch_floats(const AttentionShape& shape);

// d_qkv (b, T, 3C) = gradient of d_out (b, T, C) with respect to qkv, from the forward's qkv,
// out and lse. Overwrites d_qkv (every element); d_qkv must not overlap the inputs. scratch:
// attention_backward_scratch_floats floats, overwritten (the rows' D_i = d_out_i . out_i per
// head). Launches three kernels: D, then dq (over query blocks), then dk and dv (over key blocks).
void launch_attention_backward(float* d_qkv, const float* d_out, const float* qkv,
                               const float* out, const float* lse, const AttentionShape& shape,
                               float* scratch, cudaStream_t stream);

}  // namespace pp::cuda
