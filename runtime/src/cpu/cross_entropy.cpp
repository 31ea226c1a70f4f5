#include "cross_entropy.h"

#include <cmath>
#include <cstddef>

namespace pp::cpu {

double softmax_cross_entropy_forward(float* probs, const std::int32_t* targets, int n, int v) {
  double loss = 0.0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    float* row = probs + i * v;
    float max = row[0];
    for (int j = 1; j < v; ++j) max = std::fmax(max, row[j]);
    const float target_logit = row[targets[i]];
    double sum = 0.0;
    for (int j = 0; j < v; ++j) {
      row[j] = std::exp(row[j] - max);
      sum += row[j];
    }
    loss += std::log(sum) - static_cast<double>(target_logit - max);
    const float inv = static_cast<float>(1.0 / sum);
    for (int j = 0; j < v; ++j) row[j] *= inv;
  }
  return loss;
}

void softmax_cross_entropy_backward(float* probs, const std::int32_t* targets, float scale, int n, int v) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    float* row = probs + i * v;
    row[targets[i]] -= 1.0f;
    for (int j = 0; j < v; ++j) row[j] *= scale;
  }
}

}  // namespace pp::cpu
