#pragma once
// The causal softmax of one head's attention scores, shared by GPT-2's attention and Llama's
// grouped-query attention. A (T, T) row-major score matrix per call; row r sees columns 0..r.

namespace pp::cpu {

// Row-wise causal softmax of the (T, T) scores, in place; zeros above the diagonal.
void causal_softmax(float* att, int t);

// d_scores (T, T) from d_att (T, T) in place: att * (d_att - sum_j att * d_att) * scale (scale: the
// factor the scores were multiplied by before the softmax); zeros above the diagonal.
void causal_softmax_backward(float* d_att, const float* att, int t, float scale);

}  // namespace pp::cpu
