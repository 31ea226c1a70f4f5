#include "gelu.h"

#include <cmath>

namespace pp::cpu {
namespace {

constexpr float kScale = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kCubic = 0.044715f;

}  // namespace

void gelu_forward(float* out, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float x = in[i];
    out[i] = 0.5f * x * (1.0f + std::tanh(kScale * (x + kCubic * x * x * x)));
  }
}

void gelu_backward(float* d_in, const float* in, const float* d_out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float x = in[i];
    const float t = std::tanh(kScale * (x + kCubic * x * x * x));
    const float sech2 = 1.0f - t * t;
    const float local = 0.5f * (1.0f + t) + 0.5f * x * sech2 * kScale * (1.0f + 3.0f * kCubic * x * x);
    d_in[i] = local * d_out[i];
  }
}

}  // namespace pp::cpu
