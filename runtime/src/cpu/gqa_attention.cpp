#include "gqa_attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "causal_softmax.h"
#include "matmul.h"

namespace pp::cpu {
namespace {

// Where one (batch element, query head) pair's operands start, and their leading dimensions.
struct HeadView {
  std::size_t q;    // offset into q, d_q, out, d_out
  std::size_t kv;   // offset into k, v, d_k, d_v
  std::size_t att;  // offset into att
  int q_ld;         // Hq * hd
  int kv_ld;        // Hkv * hd
};

HeadView head_view(const GqaShape& s, int b, int h) {
  const int group = s.heads / s.kv_heads;
  const std::size_t row = static_cast<std::size_t>(b) * s.seq;
  const int q_ld = s.heads * s.head_dim;
  const int kv_ld = s.kv_heads * s.head_dim;
  return {row * q_ld + static_cast<std::size_t>(h) * s.head_dim,
          row * kv_ld + static_cast<std::size_t>(h / group) * s.head_dim,
          (static_cast<std::size_t>(b) * s.heads + h) * s.seq * s.seq, q_ld, kv_ld};
}

float score_scale(const GqaShape& s) { return 1.0f / std::sqrt(static_cast<float>(s.head_dim)); }

}  // namespace

void gqa_attention_forward(float* out, float* att, const float* q, const float* k, const float* v,
                           const GqaShape& s) {
  const int t = s.seq;
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const HeadView o = head_view(s, b, h);
      float* a = att + o.att;
      gemm(false, true, t, t, s.head_dim, score_scale(s), q + o.q, o.q_ld, k + o.kv, o.kv_ld, 0.0f, a, t);
      causal_softmax(a, t);
      gemm(false, false, t, s.head_dim, t, 1.0f, a, t, v + o.kv, o.kv_ld, 0.0f, out + o.q, o.q_ld);
    }
  }
}

void gqa_attention_backward(float* d_q, float* d_k, float* d_v, const float* d_out, const float* q,
                            const float* k, const float* v, const float* att, const GqaShape& s,
                            float* d_att) {
  const int t = s.seq;
  const std::size_t kv_size = static_cast<std::size_t>(s.batch) * t * s.kv_heads * s.head_dim;
  std::fill(d_k, d_k + kv_size, 0.0f);  // query heads of a group add into their kv head
  std::fill(d_v, d_v + kv_size, 0.0f);
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const HeadView o = head_view(s, b, h);
      const float* a = att + o.att;
      const float* dy = d_out + o.q;
      gemm(false, true, t, t, s.head_dim, 1.0f, dy, o.q_ld, v + o.kv, o.kv_ld, 0.0f, d_att, t);
      gemm(true, false, t, s.head_dim, t, 1.0f, a, t, dy, o.q_ld, 1.0f, d_v + o.kv, o.kv_ld);
      causal_softmax_backward(d_att, a, t, score_scale(s));
      gemm(false, false, t, s.head_dim, t, 1.0f, d_att, t, k + o.kv, o.kv_ld, 0.0f, d_q + o.q, o.q_ld);
      gemm(true, false, t, s.head_dim, t, 1.0f, d_att, t, q + o.q, o.q_ld, 1.0f, d_k + o.kv, o.kv_ld);
    }
  }
}

}  // namespace pp::cpu
