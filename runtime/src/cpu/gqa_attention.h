#pragma once
// Causal grouped-query self-attention (Ainslie et al. 2023; Hugging Face's LlamaAttention without
// its projections and rotary embedding, which are applied around it). q (N, Hq * hd), k and v
// (N, Hkv * hd), N = b * T rows, (b, T) flattened; query head h reads kv head h / (Hq / Hkv), so
// Hkv == Hq is plain multi-head attention. Scores are scaled by 1/sqrt(hd). Products via sgemm.

namespace pp::cpu {

struct GqaShape {
  int batch = 0;     // b
  int seq = 0;       // T
  int heads = 0;     // Hq, query heads
  int kv_heads = 0;  // Hkv, divides Hq
  int head_dim = 0;  // hd
};

// out (N, Hq * hd) = causal softmax(q k^T / sqrt(hd)) v per query head; att (b, Hq, T, T) keeps
// the softmax (zeros above the diagonal).
void gqa_attention_forward(float* out, float* att, const float* q, const float* k, const float* v,
                           const GqaShape& shape);

// d_q (N, Hq * hd), d_k and d_v (N, Hkv * hd): the gradients of d_out (N, Hq * hd) with respect
// to q, k and v (a kv head's gradients summed over the query heads that share it), from the
// forward's q, k, v and att. Overwrites all three. d_att (T, T): the caller's scratch, overwritten.
void gqa_attention_backward(float* d_q, float* d_k, float* d_v, const float* d_out, const float* q,
                            const float* k, const float* v, const float* att, const GqaShape& shape,
                            float* d_att);

}  // namespace pp::cpu
