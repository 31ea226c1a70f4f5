#pragma once
// Rotary position embeddings as Hugging Face's Llama applies them (LlamaRotaryEmbedding,
// apply_rotary_pos_emb with rotate_half): in each head, dimension i and dimension i + hd/2 form a
// pair (the first and second halves, NOT interleaved pairs), rotated by the angle
// position * inv_freq[i]:
//   out[i]        = x[i] cos - x[i + hd/2] sin
//   out[i + hd/2] = x[i + hd/2] cos + x[i] sin           (i < hd/2)
// inv_freq[i] = 1 / theta^(2i / hd), then Llama 3's scaling when the model has one (see
// pp::RopeScaling). Angles are computed in double and stored as float.

#include <vector>

#include "pp/model.h"

namespace pp::cpu {

struct RopeTable {
  int seq = 0;             // positions 0..seq-1
  int half = 0;            // head_dim / 2
  std::vector<float> cos;  // (seq, half)
  std::vector<float> sin;  // (seq, half)
};

// inv_freq (head_dim / 2) of `model` (rope_theta, head_dim, rope_scaling), in double.
std::vector<double> rope_inv_freq(const ModelConfig& model);

// cos and sin of position * inv_freq for positions 0..seq_len-1.
RopeTable make_rope_table(const ModelConfig& model, int seq_len);

// Rotates x (rows, heads * head_dim) in place; rows are (b, T) flattened, so row r has position
// r % seq. Needs table.seq >= seq and table.half == head_dim / 2.
void rope_forward(float* x, int rows, int seq, int heads, int head_dim, const RopeTable& table);

// The transpose of rope_forward (a rotation by the negative angle), in place: turns the gradient
// of rope_forward's output into that of its input.
void rope_backward(float* x, int rows, int seq, int heads, int head_dim, const RopeTable& table);

}  // namespace pp::cpu
