#pragma once
// SwiGLU, the gate of Llama's MLP (Shazeer 2020; Hugging Face's LlamaMLP with hidden_act "silu"):
// out = silu(gate) * up, silu(x) = x / (1 + e^-x). Elementwise over n floats.

#include <cstddef>

namespace pp::cpu {

// out (n) = silu(gate (n)) * up (n). Overwrites out.
void swiglu_forward(float* out, const float* gate, const float* up, std::size_t n);

// d_gate (n) = d_out * up * silu'(gate); d_up (n) = d_out * silu(gate). Overwrites both; d_gate may
// alias gate and d_up may alias up (in place).
void swiglu_backward(float* d_gate, float* d_up, const float* d_out, const float* gate, const float* up,
                     std::size_t n);

}  // namespace pp::cpu
