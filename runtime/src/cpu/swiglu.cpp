#include "swiglu.h"

#include <cmath>

namespace pp::cpu {

void swiglu_forward(float* out, const float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// silu'(g) = s (1 + g (1 - s)), s = sigmoid(g).
void swiglu_backward(float* d_gate, float* d_up, const float* d_out, const float* gate, const float* up,
                     std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float u = up[i];
    const float s = 1.0f / (1.0f + std::exp(-g));
    d_gate[i] = d_out[i] * u * s * (1.0f + g * (1.0f - s));
    d_up[i] = d_out[i] * g * s;
  }
}

}  // namespace pp::cpu
