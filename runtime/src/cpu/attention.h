#pragma once
// Causal multi-head self-attention of GPT-2 (no projections: those are linears around it).
// qkv (b, T, 3C) holds q, k, v in that order along the last dimension; head h uses the columns
// [h*hd, (h+1)*hd) of each, hd = C / heads. Scores are scaled by 1/sqrt(hd). Products via sgemm.

namespace pp::cpu {

struct AttentionShape {
  int batch = 0;  // b
  int seq = 0;    // T
  int channels = 0;  // C
  int heads = 0;  // H, divides C
};

// out (b, T, C) = causal softmax(q k^T / sqrt(hd)) v per head; att (b, H, T, T) keeps the softmax
// (zeros above the diagonal).
void attention_forward(float* out, float* att, const float* qkv, const AttentionShape& shape);

// d_qkv (b, T, 3C) = gradient of d_out (b, T, C) with respect to qkv, from the forward's qkv and
// att. Overwrites d_qkv. d_att (T, T): the caller's scratch, overwritten.
void attention_backward(float* d_qkv, const float* d_out, const float* qkv, const float* att,
                        const AttentionShape& shape, float* d_att);

}  // namespace pp::cpu
