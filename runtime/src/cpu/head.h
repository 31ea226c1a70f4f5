#pragma once
// The LM head on the CPU: the final norm (GPT-2's LayerNorm ln_f, or Llama's RMSNorm model.norm),
// logits = norm(x) @ W^T with W (V, C) the LM weight (GPT-2: wte, tied to the token embedding;
// Llama: lm_head, or model.embed_tokens when tied), softmax cross-entropy per token;
// vocabulary-parallel over a tensor-parallel group: a rank holds the rows `vocab` of W and
// computes only those logits (cpu/cross_entropy.h). The norm runs on the rank's local rows; its
// output is gathered (sequence parallelism) into all N = b * T rows before the product.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "buffer_pool.h"
#include "pp/model.h"
#include "pp/runtime/parameters.h"
#include "tensor_parallel.h"

namespace pp::cpu {

struct HeadParams {
  Tensor* norm_weight;  // (C)
  Tensor* norm_bias;    // (C) LayerNorm's; null: RMSNorm
  Tensor* weight;       // (V_l, C), this rank's piece of the LM weight
  float eps = 0;        // RMSNorm's (LayerNorm's is kLayerNormEps)
};

// Looks up `model`'s head tensors (GPT-2: ln_f.*, wte.weight; Llama: model.norm.weight and
// lm_head.weight or the tied model.embed_tokens.weight); throws pp::Error(kInternal) for a
// missing tensor.
HeadParams head_params(ParameterSet* parameters, const ModelConfig& model);

struct HeadShape {
  int rows = 0;      // N = b * T
  int channels = 0;  // C
  PieceRange vocab;  // this rank's vocabulary rows, V_l = vocab.size()
};

// One micro-batch's state of the head; its float buffers come from the stage's BufferPool.
struct HeadCache {
  std::vector<float> x;                   // (n_l, C) head input
  std::vector<float> ln, mean, rstd;      // (n_l, C), (n_l) (LayerNorm only), (n_l)
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

// W: adds the LM weight's and the norm's gradients into the tensors' grad (the norm's: this
// rank's rows' share with sequence parallelism).
void head_backward_weight(const HeadParams& p, const HeadShape& shape, const TensorParallel& tp,
                          const HeadCache& cache, BufferPool* pool);

}  // namespace pp::cpu
