#pragma once
// Softmax cross-entropy over the vocabulary, per token, vocabulary-parallel (Megatron-LM's
// VocabParallelCrossEntropy): a tensor-parallel rank holds the logits of its vocabulary rows
// `range` only; the row maxima, the sums of exponentials and the target logits are combined over
// the group, so the full logits are never gathered. With tp 1 the range is the whole vocabulary.

#include <cstdint>
#include <vector>

#include "pp/runtime/sharding.h"
#include "tensor_parallel.h"

namespace pp::cpu {

// probs (n, V_l), V_l = range.size(): this rank's logits in, its columns of the softmax out (in
// place). targets (n) in [0, V) (checked by the caller). Returns the sum over the n tokens of
// -log softmax(logits)[target], accumulated in double: the same on every rank of `tp`. stats:
// the caller's scratch (3 n tp doubles once grown; kept by the caller so a steady state allocates
// nothing).
double softmax_cross_entropy_forward(float* probs, const std::int32_t* targets, PieceRange range, int n,
                                     const TensorParallel& tp, std::vector<double>* stats);

// probs (n, V_l) in place: softmax in, d_logits = (softmax - onehot(target)) * scale out.
void softmax_cross_entropy_backward(float* probs, const std::int32_t* targets, PieceRange range, float scale, int n);

}  // namespace pp::cpu
