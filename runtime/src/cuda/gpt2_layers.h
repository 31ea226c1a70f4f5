#pragma once
// GPT-2's embedding, transformer block and head on the GPU, the CUDA twins of cpu/embedding.h,
// cpu/block.h and cpu/head.h, with the backward split into its input part (I) and its weight part
// (W). float32 device memory; every launch on ctx.stream, in order, with no host waits.
//   block:  x1  = x + attn.c_proj(attention(attn.c_attn(ln_1(x))))
//           out = x1 + mlp.c_proj(gelu(mlp.c_fc(ln_2(x1))))
//   head:   logits = ln_f(x) @ wte^T, softmax cross-entropy per token (fused: the logits become
//           their gradient in the forward, and are scaled by the loss scale in I)
// N = b * T rows. Activations and temporaries come from ctx.pool and go back to it.
#include <cstdint>

#include "cuda/device_float_pool.h"
#include "cuda/matmul.cuh"

namespace pp::cuda {

struct DeviceTensor {
  float* value = nullptr;  // device
  float* grad = nullptr;   // device, same count; accumulated (+=)
  std::size_t count = 0;
};

struct LayerContext {
  LtMatmul* matmul = nullptr;
  DeviceFloatPool* pool = nullptr;
  cudaStream_t stream = nullptr;
  int batch = 0;     // b
  int seq = 0;       // T
  int channels = 0;  // C
  int heads = 0;     // H
  int vocab = 0;     // V
  int rows() const { return batch * seq; }
};

struct BlockParams {
  DeviceTensor ln_1_weight, ln_1_bias;
  DeviceTensor attn_weight, attn_bias;            // (C, 3C), (3C)
  DeviceTensor attn_proj_weight, attn_proj_bias;  // (C, C), (C)
  DeviceTensor ln_2_weight, ln_2_bias;
  DeviceTensor fc_weight, fc_bias;                // (C, 4C), (4C)
  DeviceTensor mlp_proj_weight, mlp_proj_bias;    // (4C, C), (C)
};

// One micro-batch's state of a block (all device buffers from the pool).
struct BlockCache {
  DeviceFloats x;                        // (N, C) block input
  DeviceFloats ln_1, ln_1_mean, ln_1_rstd;  // (N, C), (N), (N)
  DeviceFloats qkv;                      // (N, 3C)
  DeviceFloats atty, lse;                // (N, C), (b, H, T)
  DeviceFloats x1;                       // (N, C)
  DeviceFloats ln_2, ln_2_mean, ln_2_rstd;
  DeviceFloats fch, fch_gelu;            // (N, 4C) pre-GELU and GELU
  DeviceFloats d_out, d_fch, d_ln_2, d_x1, d_qkv, d_ln_1;  // what W needs, filled by I
};

// Forward from cache->x into out (N, C) (not aliasing cache->x).
void block_forward(const LayerContext& ctx, const BlockParams& p, BlockCache* cache, float* out);
// Gives back all but x (a checkpointed block: recomputed before its I).
void block_keep_input_only(const LayerContext& ctx, BlockCache* cache);
void block_release(const LayerContext& ctx, BlockCache* cache);
// I: d (N, C) holds the gradient of the block output on entry and that of its input on return.
void block_backward_input(const LayerContext& ctx, const BlockParams& p, BlockCache* cache, float* d);
// W: adds the block's parameter gradients.
void block_backward_weight(const LayerContext& ctx, const BlockParams& p, const BlockCache& cache);

struct HeadParams {
  DeviceTensor ln_f_weight, ln_f_bias;
  DeviceTensor wte;  // (V, C), tied
};

struct HeadCache {
  DeviceFloats x;                 // (N, C)
  DeviceFloats ln, mean, rstd;    // (N, C), (N), (N)
  DeviceFloats logits;            // (N, V): the unscaled logit gradient after forward, scaled after I
  DeviceFloats losses;            // (N)
  DeviceFloats targets;           // (N) int32 ids in float-sized slots
  DeviceFloats loss_sum;          // 2 floats holding one double: the micro-batch's summed loss
  DeviceFloats d_ln;              // (N, C)
};

// Forward from cache->x with host targets (N, in [0, V)); the summed loss stays on the device in
// cache->loss_sum (read it with read_loss_sum, which waits).
void head_forward(const LayerContext& ctx, const HeadParams& p, const std::int32_t* targets, HeadCache* cache);
double read_loss_sum(const LayerContext& ctx, const HeadCache& cache);
// I: d_x (N, C) = gradient of loss_scale * (sum of token losses). Overwrites d_x.
void head_backward_input(const LayerContext& ctx, const HeadParams& p, float loss_scale, HeadCache* cache,
                         float* d_x);
void head_backward_weight(const LayerContext& ctx, const HeadParams& p, const HeadCache& cache);
void head_release(const LayerContext& ctx, HeadCache* cache);

// The embedding: out (N, C) = wte[tokens] + wpe[t]; tokens uploaded from the host into *tokens_dev.
void embedding_forward(const LayerContext& ctx, const DeviceTensor& wte, const DeviceTensor& wpe,
                       const std::int32_t* tokens, DeviceFloats* tokens_dev, float* out);
void embedding_backward_weight(const LayerContext& ctx, const DeviceTensor& wte, const DeviceTensor& wpe,
                               const DeviceFloats& tokens_dev, const float* d_out);

}  // namespace pp::cuda
