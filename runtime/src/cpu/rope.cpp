#include "rope.h"

#include <cmath>
#include <cstddef>
#include <numbers>

namespace pp::cpu {
namespace {

// Hugging Face's _compute_llama3_parameters on one frequency.
double llama3_scaled(double inv_freq, const RopeScaling& s) {
  const double original = static_cast<double>(s.original_max_positions);
  const double wavelen = 2.0 * std::numbers::pi / inv_freq;
  if (wavelen < original / s.high_freq_factor) return inv_freq;
  if (wavelen > original / s.low_freq_factor) return inv_freq / s.factor;
  const double smooth = (original / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return (1.0 - smooth) * inv_freq / s.factor + smooth * inv_freq;
}

// Rotates each head's (first half, second half) pairs of x (rows, heads * head_dim) by the angle
// of the row's position, negated when `sign` is -1.
void rotate(float* x, int rows, int seq, int heads, int head_dim, const RopeTable& t, float sign) {
  const int half = head_dim / 2;
  for (int r = 0; r < rows; ++r) {
    const std::size_t pos = static_cast<std::size_t>(r % seq) * t.half;
    const float* cos = t.cos.data() + pos;
    const float* sin = t.sin.data() + pos;
    for (int h = 0; h < heads; ++h) {
      float* a = x + (static_cast<std::size_t>(r) * heads + h) * head_dim;
      float* b = a + half;
      for (int i = 0; i < half; ++i) {
        const float s = sign * sin[i];
        const float first = a[i];
        a[i] = first * cos[i] - b[i] * s;
        b[i] = b[i] * cos[i] + first * s;
      }
    }
  }
}

}  // namespace

std::vector<double> rope_inv_freq(const ModelConfig& model) {
  const long long d = model.head_dim();
  std::vector<double> inv_freq(static_cast<std::size_t>(d / 2));
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    inv_freq[i] = 1.0 / std::pow(model.rope_theta, static_cast<double>(2 * i) / static_cast<double>(d));
    if (model.rope_scaling.type == "llama3") inv_freq[i] = llama3_scaled(inv_freq[i], model.rope_scaling);
  }
  return inv_freq;
}

RopeTable make_rope_table(const ModelConfig& model, int seq_len) {
  const std::vector<double> inv_freq = rope_inv_freq(model);
  RopeTable t;
  t.seq = seq_len;
  t.half = static_cast<int>(inv_freq.size());
  t.cos.resize(static_cast<std::size_t>(seq_len) * t.half);
  t.sin.resize(t.cos.size());
  for (int p = 0; p < seq_len; ++p) {
    for (int i = 0; i < t.half; ++i) {
      const double angle = p * inv_freq[static_cast<std::size_t>(i)];
      t.cos[static_cast<std::size_t>(p) * t.half + i] = static_cast<float>(std::cos(angle));
      t.sin[static_cast<std::size_t>(p) * t.half + i] = static_cast<float>(std::sin(angle));
    }
  }
  return t;
}

void rope_forward(float* x, int rows, int seq, int heads, int head_dim, const RopeTable& table) {
  rotate(x, rows, seq, heads, head_dim, table, 1.0f);
}

void rope_backward(float* x, int rows, int seq, int heads, int head_dim, const RopeTable& table) {
  rotate(x, rows, seq, heads, head_dim, table, -1.0f);
}

}  // namespace pp::cpu
