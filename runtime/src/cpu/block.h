#pragma once
// One GPT-2 transformer block on the CPU (pre-LayerNorm):
//   x1  = x + attn.c_proj(attention(attn.c_attn(ln_1(x))))
//   out = x1 + mlp.c_proj(gelu(mlp.c_fc(ln_2(x1))))
// with the backward split into the input gradient (I) and the weight gradient (W). N = b * T rows.

#include <cstddef>
#include <vector>

#include "attention.h"
#include "buffer_pool.h"
#include "pp/runtime/parameters.h"

namespace pp::cpu {

// The block's tensors inside a stage's ParameterSet (not owned).
struct BlockParams {
  Tensor* ln_1_weight;
  Tensor* ln_1_bias;
  Tensor* attn_weight;  // (C, 3C)
  Tensor* attn_bias;
  Tensor* attn_proj_weight;  // (C, C)
  Tensor* attn_proj_bias;
  Tensor* ln_2_weight;
  Tensor* ln_2_bias;
  Tensor* fc_weight;  // (C, 4C)
  Tensor* fc_bias;
  Tensor* mlp_proj_weight;  // (4C, C)
  Tensor* mlp_proj_bias;
};

// Looks up h.<index>.* in `parameters`; throws pp::Error(kInternal) for a missing tensor.
BlockParams block_params(ParameterSet* parameters, int index);

// One micro-batch's state of a block. forward fills the activations; backward_input gives back
// the ones only it needs (qkv, att; fch becomes d_fch) and fills the output gradients of each op
// that W needs. Every buffer comes from, and goes back to, the stage's BufferPool.
struct BlockCache {
  std::vector<float> x;                    // (N, C) block input
  std::vector<float> ln_1, ln_1_mean, ln_1_rstd;  // (N, C), (N), (N)
  std::vector<float> qkv;                  // (N, 3C)
  std::vector<float> att;                  // (b, H, T, T)
  std::vector<float> atty;                 // (N, C) attention output, c_proj input
  std::vector<float> x1;                   // (N, C) residual after attention
  std::vector<float> ln_2, ln_2_mean, ln_2_rstd;  // (N, C), (N), (N)
  std::vector<float> fch;                  // (N, 4C) c_fc output, pre-GELU
  std::vector<float> fch_gelu;             // (N, 4C) mlp c_proj input
  std::vector<float> d_out;                // (N, C) gradient of the block output (mlp c_proj)
  std::vector<float> d_fch;                // (N, 4C) gradient of the c_fc output
  std::vector<float> d_ln_2;               // (N, C)
  std::vector<float> d_x1;                 // (N, C) gradient of x1 (attn c_proj output)
  std::vector<float> d_qkv;                // (N, 3C) gradient of the c_attn output
  std::vector<float> d_ln_1;               // (N, C)
};

// Forward from cache->x (N, C) into out (N, C) (must not alias cache->x); fills the activations
// with buffers from `pool`.
void block_forward(const BlockParams& p, const AttentionShape& shape, BlockCache* cache, float* out,
                   BufferPool* pool);

// Gives back everything but the input x (a checkpointed block, recomputed before its backward).
void block_keep_input_only(BlockCache* cache, BufferPool* pool);

// Gives back every buffer of the cache, x included (after the block's W).
void block_release(BlockCache* cache, BufferPool* pool);

// Bytes of the float buffers the cache holds.
std::size_t block_cache_bytes(const BlockCache& cache);

// I: d (N, C) holds the gradient of the block output on entry and that of its input on return.
// Needs the activations of block_forward; temporaries come from `pool` and go back to it.
void block_backward_input(const BlockParams& p, const AttentionShape& shape, BlockCache* cache, float* d,
                          BufferPool* pool);

// W: adds the block's parameter gradients (after block_backward_input) into the tensors' grad.
void block_backward_weight(const BlockParams& p, const AttentionShape& shape, const BlockCache& cache,
                           BufferPool* pool);

}  // namespace pp::cpu
