#pragma once
// One GPT-2 transformer block on the CPU (pre-LayerNorm), tensor-parallel as Megatron-LM:
//   x1  = x + attn.c_proj(attention(attn.c_attn(ln_1(x))))
//   out = x1 + mlp.c_proj(gelu(mlp.c_fc(ln_2(x1))))
// with the backward split into the input gradient (I) and the weight gradient (W).
//
// On a tensor-parallel rank (cpu/tensor_parallel.h) c_attn and c_fc are column-parallel (the
// rank's heads and MLP columns), c_proj row-parallel (partial sums, reduced by reduce_rows before
// the bias), and the LayerNorms and residual adds run on the rank's local rows of the residual
// stream. N = b * T rows in all; n_l = tp.local_rows(N) rows held outside the parallel regions.
// With tp 1 this is GPT-2's block, bitwise as it always was.

#include <cstddef>
#include <vector>

#include "attention.h"
#include "buffer_pool.h"
#include "pp/runtime/parameters.h"
#include "tensor_parallel.h"

namespace pp::cpu {

// The block's tensors inside a stage's ParameterSet (not owned): this rank's pieces.
struct BlockParams {
  Tensor* ln_1_weight;
  Tensor* ln_1_bias;
  Tensor* attn_weight;  // (C, 3 C_l)
  Tensor* attn_bias;    // (3 C_l)
  Tensor* attn_proj_weight;  // (C_l, C)
  Tensor* attn_proj_bias;    // (C), replicated
  Tensor* ln_2_weight;
  Tensor* ln_2_bias;
  Tensor* fc_weight;  // (C, 4 C_l)
  Tensor* fc_bias;    // (4 C_l)
  Tensor* mlp_proj_weight;  // (4 C_l, C)
  Tensor* mlp_proj_bias;    // (C), replicated
};

// Looks up h.<index>.* in `parameters`; throws pp::Error(kInternal) for a missing tensor.
BlockParams block_params(ParameterSet* parameters, int index);

// A block's shape on one rank: `attention` holds b, T, the rank's channels C_l = C / tp and heads
// H / tp; `hidden` is the model's C.
struct BlockShape {
  AttentionShape attention;
  int hidden = 0;
  int rows() const { return attention.batch * attention.seq; }
};

// One micro-batch's state of a block. forward fills the activations; backward_input gives back
// the ones only it needs (qkv, att; fch becomes d_fch) and fills the output gradients of each op
// that W needs. Every buffer comes from, and goes back to, the stage's BufferPool. The *_full
// buffers (all N rows, gathered) are used with sequence parallelism only; without it the local
// buffer holds all N rows and serves for both.
struct BlockCache {
  std::vector<float> x;                    // (n_l, C) block input
  std::vector<float> ln_1, ln_1_mean, ln_1_rstd;  // (n_l, C), (n_l), (n_l)
  std::vector<float> ln_1_full;            // (N, C)
  std::vector<float> qkv;                  // (N, 3 C_l)
  std::vector<float> att;                  // (b, H_l, T, T)
  std::vector<float> atty;                 // (N, C_l) attention output, c_proj input
  std::vector<float> x1;                   // (n_l, C) residual after attention
  std::vector<float> ln_2, ln_2_mean, ln_2_rstd;  // (n_l, C), (n_l), (n_l)
  std::vector<float> ln_2_full;            // (N, C)
  std::vector<float> fch;                  // (N, 4 C_l) c_fc output, pre-GELU
  std::vector<float> fch_gelu;             // (N, 4 C_l) mlp c_proj input
  std::vector<float> d_out;                // (n_l, C) gradient of the block output (mlp c_proj)
  std::vector<float> d_out_full;           // (N, C)
  std::vector<float> d_fch;                // (N, 4 C_l) gradient of the c_fc output
  std::vector<float> d_ln_2;               // (n_l, C)
  std::vector<float> d_x1;                 // (n_l, C) gradient of x1 (attn c_proj output)
  std::vector<float> d_x1_full;            // (N, C)
  std::vector<float> d_qkv;                // (N, 3 C_l) gradient of the c_attn output
  std::vector<float> d_ln_1;               // (n_l, C)
};

// Forward from cache->x (n_l, C) into out (n_l, C) (must not alias cache->x); fills the
// activations with buffers from `pool`.
void block_forward(const BlockParams& p, const BlockShape& shape, const TensorParallel& tp, BlockCache* cache,
                   float* out, BufferPool* pool);

// Gives back everything but the input x (a checkpointed block, recomputed before its backward).
void block_keep_input_only(BlockCache* cache, BufferPool* pool);

// Gives back every buffer of the cache, x included (after the block's W).
void block_release(BlockCache* cache, BufferPool* pool);

// Bytes of the float buffers the cache holds.
std::size_t block_cache_bytes(const BlockCache& cache);

// I: d (n_l, C) holds the gradient of the block output on entry and that of its input on return.
// Needs the activations of block_forward; temporaries come from `pool` and go back to it.
void block_backward_input(const BlockParams& p, const BlockShape& shape, const TensorParallel& tp,
                          BlockCache* cache, float* d, BufferPool* pool);

// W: adds the block's parameter gradients (after block_backward_input) into the tensors' grad.
// With sequence parallelism the replicated tensors (LayerNorms, c_proj biases) get this rank's
// rows' share only: the caller sums them over the group.
void block_backward_weight(const BlockParams& p, const BlockShape& shape, const TensorParallel& tp,
                           const BlockCache& cache, BufferPool* pool);

}  // namespace pp::cpu
