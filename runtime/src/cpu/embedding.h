#pragma once
// Token and position embeddings, vocabulary-parallel: a tensor-parallel rank holds the rows
// [vocab_begin, vocab_end) of the token table and looks up only the tokens in its range (zeros
// for the others), so the sum over ranks is the lookup (Megatron-LM's VocabParallelEmbedding).
// With one rank the range is the whole vocabulary.

#include <cstddef>
#include <cstdint>

#include "pp/runtime/sharding.h"

namespace pp::cpu {

// `range`: the rows of the token table a rank holds, wte_piece (range.size(), C).
// out (n, C) = wte_piece[tokens[i] - begin] for tokens in the range, 0 for the others. tokens (n)
// lie in [0, V) (checked by the caller).
void token_embedding_forward(float* out, const std::int32_t* tokens, const float* wte_piece, PieceRange range,
                             std::size_t n, int c);

// d_wte_piece += the scatter of d_out (n, C) to the rows of the tokens in the range. Accumulates.
void token_embedding_backward(float* d_wte_piece, const float* d_out, const std::int32_t* tokens, PieceRange range,
                              std::size_t n, int c);

// out (rows, C) += wpe (P, C) at each row's position: row i is token first_row + i of the (b, T)
// flattened micro-batch, at position (first_row + i) % seq.
void position_embedding_forward(float* out, const float* wpe, std::size_t first_row, std::size_t rows, int seq,
                                int c);

// d_wpe += d_out (rows, C) at the rows' positions (as above). Accumulates.
void position_embedding_backward(float* d_wpe, const float* d_out, std::size_t first_row, std::size_t rows,
                                 int seq, int c);

}  // namespace pp::cpu
