#pragma once
// GPT-2's learned token and position embeddings.

#include <cstdint>

namespace pp::cpu {

// out (b, T, C) = wte[tokens[b, t]] (V, C) + wpe[t] (P, C). tokens (b, T) must lie in [0, V)
// (checked by the caller).
void embedding_forward(float* out, const std::int32_t* tokens, const float* wte, const float* wpe, int b,
                       int t, int c);

// d_wte (V, C) and d_wpe (P, C) += the scatter of d_out (b, T, C) to the rows used. Accumulates.
void embedding_backward(float* d_wte, float* d_wpe, const float* d_out, const std::int32_t* tokens, int b,
                        int t, int c);

}  // namespace pp::cpu
