#pragma once
// GPT-2's head on the CPU: final LayerNorm, logits = ln_f(x) @ wte^T (tied to the token
// embedding), softmax cross-entropy per token. N = b * T rows, V vocabulary entries.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "buffer_pool.h"
#include "pp/runtime/parameters.h"

namespace pp::cpu {

struct HeadParams {
  Tensor* ln_f_weight;  // (C)
  Tensor* ln_f_bias;    // (C)
  Tensor* wte;          // (V, C), the stage's "wte.weight"
};

// Looks up ln_f.* and wte.weight; throws pp::Error(kInternal) for a missing tensor.
HeadParams head_params(ParameterSet* parameters);

struct HeadShape {
  int rows = 0;      // N = b * T
  int channels = 0;  // C
  int vocab = 0;     // V
};

// One micro-batch's state of the head; its float buffers come from the stage's BufferPool.
struct HeadCache {
  std::vector<float> x;                   // (N, C) head input
  std::vector<float> ln, mean, rstd;      // (N, C), (N), (N)
  std::vector<float> probs;               // (N, V) softmax; d_logits after backward_input
  std::vector<std::int32_t> targets;      // (N)
  std::vector<float> d_ln;                // (N, C) gradient of the ln_f output
};

// Forward from cache->x with `targets` (N, in [0, V)); returns the sum of the token losses.
double head_forward(const HeadParams& p, const HeadShape& shape, const std::int32_t* targets,
                    HeadCache* cache, BufferPool* pool);

// I: d_x (N, C) = gradient of loss_scale * (sum of token losses) with respect to the input.
// Overwrites d_x; turns cache->probs into d_logits.
void head_backward_input(const HeadParams& p, const HeadShape& shape, float loss_scale, HeadCache* cache,
                         float* d_x, BufferPool* pool);

// Gives back every float buffer of the cache, x included (after the head's W).
void head_release(HeadCache* cache, BufferPool* pool);

// Bytes of the buffers the cache holds (targets included).
std::size_t head_cache_bytes(const HeadCache& cache);

// W: adds wte's (tied) and ln_f's gradients into the tensors' grad.
void head_backward_weight(const HeadParams& p, const HeadShape& shape, const HeadCache& cache,
                          BufferPool* pool);

}  // namespace pp::cpu
