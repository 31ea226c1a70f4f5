#include "layernorm.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace pp::cpu {

void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                       const float* bias, int n, int c) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const float* x = in + i * c;
    double sum = 0.0;
    for (int j = 0; j < c; ++j) sum += x[j];
    const double m = sum / c;
    double var = 0.0;
    for (int j = 0; j < c; ++j) var += (x[j] - m) * (x[j] - m);
    mean[i] = static_cast<float>(m);
    rstd[i] = static_cast<float>(1.0 / std::sqrt(var / c + kLayerNormEps));
    float* y = out + i * c;
    for (int j = 0; j < c; ++j) y[j] = (x[j] - mean[i]) * rstd[i] * weight[j] + bias[j];
  }
}

void layernorm_backward_input(float* d_in, const float* d_out, const float* in, const float* mean,
                              const float* rstd, const float* weight, int n, int c) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const float* x = in + i * c;
    const float* dy = d_out + i * c;
    float dnorm_mean = 0.0f;
    float dnorm_xhat_mean = 0.0f;
    for (int j = 0; j < c; ++j) {
      const float xhat = (x[j] - mean[i]) * rstd[i];
      const float dnorm = weight[j] * dy[j];
      dnorm_mean += dnorm;
      dnorm_xhat_mean += dnorm * xhat;
    }
    dnorm_mean /= static_cast<float>(c);
    dnorm_xhat_mean /= static_cast<float>(c);
    float* dx = d_in + i * c;
    for (int j = 0; j < c; ++j) {
      const float xhat = (x[j] - mean[i]) * rstd[i];
      const float dnorm = weight[j] * dy[j];
      dx[j] += (dnorm - dnorm_mean - xhat * dnorm_xhat_mean) * rstd[i];
    }
  }
}

void layernorm_backward_weight(float* d_weight, float* d_bias, const float* d_out, const float* in,
                               const float* mean, const float* rstd, int n, int c, float* sums) {
  float* dw = sums;     // (c)
  float* db = sums + c;  // (c)
  std::fill(sums, sums + 2 * static_cast<std::size_t>(c), 0.0f);
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const float* x = in + i * c;
    const float* dy = d_out + i * c;
    for (int j = 0; j < c; ++j) {
      dw[j] += dy[j] * ((x[j] - mean[i]) * rstd[i]);
      db[j] += dy[j];
    }
  }
  for (int j = 0; j < c; ++j) {
    d_weight[j] += dw[j];
    d_bias[j] += db[j];
  }
}

}  // namespace pp::cpu
