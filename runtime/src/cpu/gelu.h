#pragma once
// GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Elementwise
// over n floats.

#include <cstddef>

namespace pp::cpu {

// out (n) = gelu(in (n)).
void gelu_forward(float* out, const float* in, std::size_t n);

// d_in (n) = d_out (n) * gelu'(in (n)). Overwrites d_in, which may alias in (in place).
void gelu_backward(float* d_in, const float* in, const float* d_out, std::size_t n);

}  // namespace pp::cpu
