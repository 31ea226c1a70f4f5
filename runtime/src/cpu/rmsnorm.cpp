#include "rmsnorm.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace pp::cpu {

void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, int n, int c, float eps) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const float* x = in + i * c;
    double squares = 0.0;
    for (int j = 0; j < c; ++j) squares += double(x[j]) * x[j];
    rstd[i] = static_cast<float>(1.0 / std::sqrt(squares / c + eps));
    float* y = out + i * c;
    for (int j = 0; j < c; ++j) y[j] = x[j] * rstd[i] * weight[j];
  }
}

// d_in = (dnorm - xhat * mean(dnorm * xhat)) * rstd, with xhat = in * rstd, dnorm = weight * d_out.
void rmsnorm_backward_input(float* d_in, const float* d_out, const float* in, const float* rstd,
                            const float* weight, int n, int c) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const float* x = in + i * c;
    const float* dy = d_out + i * c;
    float dnorm_xhat_mean = 0.0f;
    for (int j = 0; j < c; ++j) dnorm_xhat_mean += weight[j] * dy[j] * (x[j] * rstd[i]);
    dnorm_xhat_mean /= static_cast<float>(c);
    float* dx = d_in + i * c;
    for (int j = 0; j < c; ++j) {
      const float xhat = x[j] * rstd[i];
      dx[j] += (weight[j] * dy[j] - xhat * dnorm_xhat_mean) * rstd[i];
    }
  }
}

void rmsnorm_backward_weight(float* d_weight, const float* d_out, const float* in, const float* rstd, int n,
                             int c, float* sums) {
  std::fill(sums, sums + c, 0.0f);
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const float* x = in + i * c;
    const float* dy = d_out + i * c;
    for (int j = 0; j < c; ++j) sums[j] += dy[j] * (x[j] * rstd[i]);
  }
  for (int j = 0; j < c; ++j) d_weight[j] += sums[j];
}

}  // namespace pp::cpu
