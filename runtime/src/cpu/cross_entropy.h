#pragma once
// Softmax cross-entropy over the vocabulary, per token.

#include <cstdint>

namespace pp::cpu {

// probs (n, V): logits in, softmax out (in place). targets (n) in [0, V) (checked by the caller).
// Returns the sum over the n tokens of -log softmax(logits)[target], accumulated in double.
double softmax_cross_entropy_forward(float* probs, const std::int32_t* targets, int n, int v);

// probs (n, V) in place: softmax in, d_logits = (softmax - onehot(target)) * scale out.
void softmax_cross_entropy_backward(float* probs, const std::int32_t* targets, float scale, int n, int v);

}  // namespace pp::cpu
