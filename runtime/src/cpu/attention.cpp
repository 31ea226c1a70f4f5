#include "attention.h"

#include <cmath>
#include <cstddef>

#include "causal_softmax.h"
#include "matmul.h"

namespace pp::cpu {

void attention_forward(float* out, float* att, const float* qkv, const AttentionShape& s) {
  const int c = s.channels;
  const int hd = c / s.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const std::size_t tt = static_cast<std::size_t>(s.seq) * s.seq;
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const float* q = qkv + static_cast<std::size_t>(b) * s.seq * 3 * c + h * hd;
      float* a = att + (static_cast<std::size_t>(b) * s.heads + h) * tt;
      gemm(false, true, s.seq, s.seq, hd, scale, q, 3 * c, q + c, 3 * c, 0.0f, a, s.seq);
      causal_softmax(a, s.seq);
      float* y = out + static_cast<std::size_t>(b) * s.seq * c + h * hd;
      gemm(false, false, s.seq, hd, s.seq, 1.0f, a, s.seq, q + 2 * c, 3 * c, 0.0f, y, c);
    }
  }
}

void attention_backward(float* d_qkv, const float* d_out, const float* qkv, const float* att,
                        const AttentionShape& s, float* d_att) {
  const int c = s.channels;
  const int hd = c / s.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const std::size_t tt = static_cast<std::size_t>(s.seq) * s.seq;
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const std::size_t offset = static_cast<std::size_t>(b) * s.seq * 3 * c + h * hd;
      const float* q = qkv + offset;
      float* dq = d_qkv + offset;
      const float* a = att + (static_cast<std::size_t>(b) * s.heads + h) * tt;
      const float* dy = d_out + static_cast<std::size_t>(b) * s.seq * c + h * hd;
      gemm(false, true, s.seq, s.seq, hd, 1.0f, dy, c, q + 2 * c, 3 * c, 0.0f, d_att, s.seq);
      gemm(true, false, s.seq, hd, s.seq, 1.0f, a, s.seq, dy, c, 0.0f, dq + 2 * c, 3 * c);
      causal_softmax_backward(d_att, a, s.seq, scale);
      gemm(false, false, s.seq, hd, s.seq, 1.0f, d_att, s.seq, q + c, 3 * c, 0.0f, dq, 3 * c);
      gemm(true, false, s.seq, hd, s.seq, 1.0f, d_att, s.seq, q, 3 * c, 0.0f, dq + c, 3 * c);
    }
  }
}

}  // namespace pp::cpu
