#pragma once
// GPT-2's head on the CPU: final LayerNorm, logits = ln_f(x) @ wte^T (tied to the token
// embedding), softmax cross-entropy per token; vocabulary-parallel over a tensor-parallel group:
// a rank holds the wte rows `vocab` and computes only those logits (cpu/cross_entropy.h). The
// LayerNorm runs on the rank's local rows; its output is gathered (sequence parallelism) into
// all N = b * T rows before the product.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "buffer_pool.h"
#include "pp/runtime/parameters.h"
#include "tensor_parallel.h"

namespace pp::cpu {

struct HeadParams {
  Tensor* ln_f_weight;  // (C)
  Tensor* ln_f_bias;    // (C)
  Tensor* wte;          // (V_l, C), the stage's "wte.weight" piece
};

// Looks up ln_f.* and wte.weight; throws pp::Error(kInternal) for a missing tensor.
HeadParams head_params(ParameterSet* parameters);

struct HeadShape {
  int rows = 0;      // N = b * T
  int channels = 0;  // C
  PieceRange vocab;  // this rank's vocabulary rows, V_l = vocab.size()
};

// One micro-batch's state of the head; its float buffers come from the stage's BufferPool.
struct HeadCache {
  std::vector<float> x;                   // (n_l, C) head input
  std::vector<float> ln, mean, rstd;      // (n_l, C), (n_l), (n_l)
  std::vector<float> ln_full;             // (N, C), sequence parallelism only
  std::vector<float> probs;               // (N, V_l) softmax; d_logits after backward_input
  std::vector<std::int32_t> targets;      // (N)
  std::vector<float> d_ln;                // (n_l, C) gradient of the ln_f output
  std::vector<double> ce_stats;           // the cross-entropy's scratch (kept with the slot)
};

// Forward from cache->x with `targets` (N, in [0, V)); returns the sum of the token losses (the
// same on every rank of tp).
double head_forward(const HeadParams& p, const HeadShape& shape, const TensorParallel& tp,
                    const std::int32_t* targets, HeadCache* cache, BufferPool* pool);

// I: d_x (n_l, C) = gradient of loss_scale * (sum of token losses) with respect to the input.
// Overwrites d_x; turns cache->probs into d_logits.
void head_backward_input(const HeadParams& p, const HeadShape& shape, const TensorParallel& tp, float loss_scale,
                         HeadCache* cache, float* d_x, BufferPool* pool);

// Gives back every float buffer of the cache, x included (after the head's W).
void head_release(HeadCache* cache, BufferPool* pool);

// Bytes of the buffers the cache holds (targets included).
std::size_t head_cache_bytes(const HeadCache& cache);

// W: adds wte's (tied) and ln_f's gradients into the tensors' grad (ln_f: this rank's rows' share
// with sequence parallelism).
void head_backward_weight(const HeadParams& p, const HeadShape& shape, const TensorParallel& tp,
                          const HeadCache& cache, BufferPool* pool);

}  // namespace pp::cpu
