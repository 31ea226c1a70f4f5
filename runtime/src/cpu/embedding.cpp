#include "embedding.h"

#include <cstddef>

namespace pp::cpu {

void embedding_forward(float* out, const std::int32_t* tokens, const float* wte, const float* wpe, int b,
                       int t, int c) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(b) * t; ++i) {
    const float* token_row = wte + static_cast<std::size_t>(tokens[i]) * c;
    const float* position_row = wpe + (i % t) * c;
    float* y = out + i * c;
    for (int j = 0; j < c; ++j) y[j] = token_row[j] + position_row[j];
  }
}

void embedding_backward(float* d_wte, float* d_wpe, const float* d_out, const std::int32_t* tokens, int b,
                        int t, int c) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(b) * t; ++i) {
    float* token_row = d_wte + static_cast<std::size_t>(tokens[i]) * c;
    float* position_row = d_wpe + (i % t) * c;
    const float* dy = d_out + i * c;
    for (int j = 0; j < c; ++j) {
      token_row[j] += dy[j];
      position_row[j] += dy[j];
    }
  }
}

}  // namespace pp::cpu
