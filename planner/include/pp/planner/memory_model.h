#pragma once
// Memory per GPU, in bytes (formulas and worked examples: docs/cost-model.md).
//
// Static, per parameter held: bf16 weights 2 + main gradients 4 (fp32, as Megatron-LM accumulates
// and reduces them under bf16; 2 with --grad-dtype bf16) + fp32 master weights, Adam m and v 12,
// divided by dp under the distributed optimizer (ZeRO-1): Megatron-LM's 18 and 6 + 12/d.
//
// Activations of one block for one micro-batch of b sequences of s tokens, kept for the backward
// (Korthikanti et al. 2022, generalised to grouped-query attention and gated MLPs), with t the
// tensor-parallel degree and x the bytes of a linear layer's kept input (2; 1 under fp8, where
// the FP8 copy its GEMM read is what the weight gradient reads):
//   R = (4 + 2x + 2*dropout) * s*b*h   norm inputs 4, QKV and MLP inputs x each, dropout masks 2:
//                                      replicated across t unless sequence parallelism divides them
//   P = 2*s*b*(h + 2*kv_dim)           Q, K, V
//     + x*s*b*h                        attention output (input of the output projection)
//     + (gated ? 4 : 2)*s*b*f + x*s*b*f  MLP: gate and up | activation input, and the activation
//                                      output that the second linear reads
//   S = flash ? 4*a*s*b                the softmax statistics (fp32)
//             : (2 + 3*dropout)*a*s^2*b  scores, and with dropout its mask and output
//   block bytes = R/(sp ? t : 1) + (P + S)/t
// With bf16, dropout, no flash attention and f = 4h this is Korthikanti's s*b*h*(34 + 5*a*s/h) at
// t=1 and s*b*h*(10 + 24/t + 5*a*s/(h*t)) with t.

#include "pp/model.h"

namespace pp {

struct MemoryOptions {
  bool sequence_parallel = true;  // with tensor parallelism (Megatron-LM's default with tp > 1)
  bool flash_attention = true;    // the s^2 score matrix is not kept
  bool dropout = false;           // dropout masks are kept (GPT-3 era training)
  double gradient_bytes = 4;      // per parameter: fp32 main gradients (2: bf16)
  bool fp8 = false;               // the blocks' linear GEMMs in FP8 (layer_kernels.h)
};

double static_bytes_per_param(int dp, bool distributed_optimizer, const MemoryOptions& options);

double block_activation_bytes(const ModelConfig& model, int b, int s, int tp,
                              const MemoryOptions& options);

// The S term alone, divided by t: what selective recompute does not keep.
double attention_scores_bytes(const ModelConfig& model, int b, int s, int tp, const MemoryOptions& options);

// What a recomputed block keeps: its input, 2*s*b*h (divided by t with sequence parallelism).
double block_checkpoint_bytes(const ModelConfig& model, int b, int s, int tp,
                              const MemoryOptions& options);

// The head keeps the final norm's input and the bf16 logits for the loss's backward (vocab
// split over t): 2*s*b*h/(sp ? t : 1) + 2*s*b*V/t. The embedding keeps only token ids (~0).
double head_activation_bytes(const ModelConfig& model, int b, int s, int tp,
                             const MemoryOptions& options);

}  // namespace pp
