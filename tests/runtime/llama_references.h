#pragma once
// Test support for the CPU Llama layers: tolerances, and each layer written out directly in double
// (from Hugging Face's modeling_llama.py and the Llama 3 rope scaling), the references the kernel
// and layer tests compare with.
//
// Forward tolerances: the kernels compute in float32 (sums of at most a few dozen terms, a few
// products each); each operation rounds by at most 2^-24 ~ 6e-8 relative, so a chain of < 100 of
// them stays within 1e-5 of the largest magnitude involved (kForwardTolerance). The whole layer
// chains two norms, four products, softmax and SwiGLU: 1e-4 (kBlockForwardTolerance). Backward:
// gradient_check.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "cpu/gqa_attention.h"
#include "gradient_check.h"
#include "pp/model.h"

namespace pp::llama_test {

inline constexpr double kForwardTolerance = 1e-5;
inline constexpr double kBlockForwardTolerance = 1e-4;

using Floats = std::vector<float>;
using Doubles = std::vector<double>;

inline Doubles to_double(const Floats& v) { return Doubles(v.begin(), v.end()); }

inline double dot(const Floats& a, const Floats& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// |got - want| <= tolerance * max(1, max |want|), elementwise.
inline void expect_near_all(const Floats& got, const Doubles& want, double tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tolerance * scale) << what << "[" << i << "]";
  }
}

// The gradient check of gradient_check.h, and a gradient that is not zero everywhere.
inline void expect_gradient(const Floats& analytic, const Doubles& numeric, const std::string& what) {
  test::expect_gradient_close(analytic, numeric, what);
  EXPECT_GT(test::norm(numeric), 0.0) << what << " has no gradient at all";
}


inline Doubles ref_rmsnorm(const Doubles& x, const Doubles& w, int n, int c, double eps) {
  Doubles y(x.size());
  for (int i = 0; i < n; ++i) {
    double ms = 0;
    for (int j = 0; j < c; ++j) ms += x[i * c + j] * x[i * c + j] / c;
    for (int j = 0; j < c; ++j) y[i * c + j] = x[i * c + j] / std::sqrt(ms + eps) * w[j];
  }
  return y;
}

// Hugging Face's _compute_llama3_parameters, written as it is there: every frequency's three
// candidates, then the masks pick one.
inline Doubles ref_inv_freq(const ModelConfig& m) {
  const int d = static_cast<int>(m.head_dim());
  Doubles inv(d / 2);
  for (int i = 0; i < d / 2; ++i) inv[i] = std::exp(-std::log(m.rope_theta) * (2.0 * i) / d);
  if (m.rope_scaling.type != "llama3") return inv;
  const RopeScaling& s = m.rope_scaling;
  const double old_context = static_cast<double>(s.original_max_positions);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2 * std::numbers::pi / f;
    const double llama = wavelen > low_freq_wavelen ? f / s.factor : f;
    const double smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    const double smoothed = (1 - smooth) * llama / s.factor + smooth * llama;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    f = medium ? smoothed : llama;
  }
  return inv;
}

// q * cos + rotate_half(q) * sin, rotate_half(x) = cat(-x2, x1) per head (apply_rotary_pos_emb).
inline Doubles ref_rope(const Doubles& x, int rows, int seq, int heads, int hd, const Doubles& inv_freq) {
  Doubles y(x.size());
  for (int r = 0; r < rows; ++r) {
    for (int h = 0; h < heads; ++h) {
      const std::size_t base = (std::size_t(r) * heads + h) * hd;
      for (int j = 0; j < hd; ++j) {
        const double angle = (r % seq) * inv_freq[j % (hd / 2)];
        const double rotated = j < hd / 2 ? -x[base + j + hd / 2] : x[base + j - hd / 2];
        y[base + j] = x[base + j] * std::cos(angle) + rotated * std::sin(angle);
      }
    }
  }
  return y;
}

inline Doubles ref_attention(const Doubles& q, const Doubles& k, const Doubles& v, const cpu::GqaShape& s) {
  const int qw = s.heads * s.head_dim;
  const int kw = s.kv_heads * s.head_dim;
  Doubles out(q.size(), 0.0);
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const int g = h / (s.heads / s.kv_heads);
      for (int t = 0; t < s.seq; ++t) {
        Doubles p(t + 1);
        double total = 0;
        for (int u = 0; u <= t; ++u) {
          double score = 0;
          for (int j = 0; j < s.head_dim; ++j) {
            score += q[(b * s.seq + t) * qw + h * s.head_dim + j] * k[(b * s.seq + u) * kw + g * s.head_dim + j];
          }
          p[u] = std::exp(score / std::sqrt(double(s.head_dim)));
          total += p[u];
        }
        for (int u = 0; u <= t; ++u) {
          for (int j = 0; j < s.head_dim; ++j) {
            out[(b * s.seq + t) * qw + h * s.head_dim + j] +=
                p[u] / total * v[(b * s.seq + u) * kw + g * s.head_dim + j];
          }
        }
      }
    }
  }
  return out;
}

inline Doubles ref_swiglu(const Doubles& gate, const Doubles& up) {
  Doubles y(gate.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
  return y;
}

// x (n, in) W^T, W (out, in).
inline Doubles ref_linear_t(const Doubles& x, const Doubles& w, int n, int in, int out) {
  Doubles y(std::size_t(n) * out, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int o = 0; o < out; ++o) {
      for (int j = 0; j < in; ++j) y[i * out + o] += x[i * in + j] * w[o * in + j];
    }
  }
  return y;
}

inline Doubles add(const Doubles& a, const Doubles& b) {
  Doubles y(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

}  // namespace pp::llama_test
