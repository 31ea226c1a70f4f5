#include "embedding.h"

#include <algorithm>
#include <cstddef>

namespace pp::cpu {

void token_embedding_forward(float* out, const std::int32_t* tokens, const float* wte_piece, PieceRange range,
                             std::size_t n, int c) {
  for (std::size_t i = 0; i < n; ++i) {
    float* y = out + i * c;
    if (!range.contains(tokens[i])) {
      std::fill(y, y + c, 0.0f);
      continue;
    }
    const float* row = wte_piece + static_cast<std::size_t>(tokens[i] - range.begin) * c;
    std::copy(row, row + c, y);
  }
}

void token_embedding_backward(float* d_wte_piece, const float* d_out, const std::int32_t* tokens, PieceRange range,
                              std::size_t n, int c) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!range.contains(tokens[i])) continue;
    float* row = d_wte_piece + static_cast<std::size_t>(tokens[i] - range.begin) * c;
    const float* dy = d_out + i * c;
    for (int j = 0; j < c; ++j) row[j] += dy[j];
  }
}

void position_embedding_forward(float* out, const float* wpe, std::size_t first_row, std::size_t rows, int seq,
                                int c) {
  for (std::size_t i = 0; i < rows; ++i) {
    const float* position_row = wpe + ((first_row + i) % seq) * c;
    float* y = out + i * c;
    for (int j = 0; j < c; ++j) y[j] += position_row[j];
  }
}

void position_embedding_backward(float* d_wpe, const float* d_out, std::size_t first_row, std::size_t rows,
                                 int seq, int c) {
  for (std::size_t i = 0; i < rows; ++i) {
    float* position_row = d_wpe + ((first_row + i) % seq) * c;
    const float* dy = d_out + i * c;
    for (int j = 0; j < c; ++j) position_row[j] += dy[j];
  }
}

}  // namespace pp::cpu
