#include "causal_softmax.h"

#include <cmath>
#include <cstddef>

namespace pp::cpu {

void causal_softmax(float* att, int t) {
  for (int r = 0; r < t; ++r) {
    float* row = att + static_cast<std::size_t>(r) * t;
    float max = row[0];
    for (int j = 1; j <= r; ++j) max = std::fmax(max, row[j]);
    float sum = 0.0f;
    for (int j = 0; j <= r; ++j) {
      row[j] = std::exp(row[j] - max);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j <= r; ++j) row[j] *= inv;
    for (int j = r + 1; j < t; ++j) row[j] = 0.0f;
  }
}

void causal_softmax_backward(float* d_att, const float* att, int t, float scale) {
  for (int r = 0; r < t; ++r) {
    float* d = d_att + static_cast<std::size_t>(r) * t;
    const float* a = att + static_cast<std::size_t>(r) * t;
    float dot = 0.0f;
    for (int j = 0; j <= r; ++j) dot += a[j] * d[j];
    for (int j = 0; j <= r; ++j) d[j] = a[j] * (d[j] - dot) * scale;
    for (int j = r + 1; j < t; ++j) d[j] = 0.0f;
  }
}

}  // namespace pp::cpu
