#pragma once
// One Llama decoder layer on the CPU (Hugging Face's LlamaDecoderLayer, pre-RMSNorm):
//   h   = input_layernorm(x)
//   x1  = x + o_proj(attention(rope(q_proj(h)), rope(k_proj(h)), v_proj(h)))
//   h2  = post_attention_layernorm(x1)
//   out = x1 + down_proj(silu(gate_proj(h2)) * up_proj(h2))
// with the backward split into the input gradient (I) and the weight gradient (W). N = b * T rows.
//
// Tensor parallel (Megatron-LM, see tensor_parallel.h): on tp rank r of tp the block's tensors are
// that rank's pieces: q/k/v/gate/up_proj hold rows of the (out, in) weight (Hq/tp query heads,
// Hkv/tp kv heads, I/tp MLP columns), o_proj/down_proj the matching columns; the norms are whole.
// x and out are (tp.local_rows(N), C). The norms run on the local rows; each of the two regions
// is entered with tp.gather_rows(local norm output -> (N, C)) and left with tp.reduce_rows(the
// row-parallel product's partial sums (N, C) -> local rows). In the backward the gradient of a
// reduce_rows is a gather_rows and vice versa. With sequence parallelism the norm weights'
// gradients are this rank's rows' share: the caller sums them over the group. With the default
// TensorParallel (tp 1) this is a plain Llama layer.

#include <cstddef>
#include <vector>

#include "buffer_pool.h"
#include "pp/runtime/parameters.h"
#include "rope.h"
#include "tensor_parallel.h"

namespace pp::cpu {

// The layer's shape on this rank: heads, kv_heads and ffn are this rank's counts.
struct LlamaShape {
  int batch = 0;     // b
  int seq = 0;       // T
  int hidden = 0;    // C
  int heads = 0;     // Hq on this rank
  int kv_heads = 0;  // Hkv on this rank, divides heads
  int head_dim = 0;  // hd
  int ffn = 0;       // I on this rank (intermediate_size / tp)
  float eps = 0;     // rms_norm_eps
};

// The layer's tensors inside a stage's ParameterSet (not owned); weights are (out, in).
struct LlamaBlockParams {
  Tensor* input_layernorm;           // (C)
  Tensor* q_proj;                    // (Hq * hd, C)
  Tensor* k_proj;                    // (Hkv * hd, C)
  Tensor* v_proj;                    // (Hkv * hd, C)
  Tensor* o_proj;                    // (C, Hq * hd)
  Tensor* post_attention_layernorm;  // (C)
  Tensor* gate_proj;                 // (I, C)
  Tensor* up_proj;                   // (I, C)
  Tensor* down_proj;                 // (C, I)
};

// Looks up model.layers.<index>.* in `parameters`; throws pp::Error(kInternal) for a missing tensor.
LlamaBlockParams llama_block_params(ParameterSet* parameters, int index);

// One micro-batch's state of a layer. forward fills the activations; backward_input gives back
// the ones only it needs (q, k, v, att; gate and up become d_gate and d_up) and fills the output
// gradients of each product that W needs. nl = tp.local_rows(N). Every buffer comes from, and
// goes back to, the stage's BufferPool.
struct LlamaBlockCache {
  std::vector<float> x;              // (nl, C) layer input
  std::vector<float> rstd_1;         // (nl) input_layernorm
  std::vector<float> h;              // (N, C) gathered input_layernorm output, q/k/v_proj input
  std::vector<float> q;              // (N, Hq * hd) after rope
  std::vector<float> k;              // (N, Hkv * hd) after rope
  std::vector<float> v;              // (N, Hkv * hd)
  std::vector<float> att;            // (b, Hq, T, T)
  std::vector<float> atty;           // (N, Hq * hd) attention output, o_proj input
  std::vector<float> x1;             // (nl, C) residual after attention
  std::vector<float> rstd_2;         // (nl) post_attention_layernorm
  std::vector<float> h2;             // (N, C) gathered post_attention_layernorm output
  std::vector<float> gate, up;       // (N, I) gate_proj and up_proj outputs
  std::vector<float> act;            // (N, I) silu(gate) * up, down_proj input
  std::vector<float> d_out;          // (N, C) gathered gradient of the layer output (down_proj)
  std::vector<float> d_gate, d_up;   // (N, I)
  std::vector<float> d_h2;           // (nl, C) gradient of post_attention_layernorm's output
  std::vector<float> d_x1;           // (N, C) gathered gradient of x1 (o_proj output)
  std::vector<float> d_q;            // (N, Hq * hd) gradient of q_proj's output (before rope)
  std::vector<float> d_k, d_v;       // (N, Hkv * hd)
  std::vector<float> d_h;            // (nl, C) gradient of input_layernorm's output
};

// Forward from cache->x (nl, C) into out (nl, C) (must not alias cache->x); fills the activations
// with buffers from `pool`. rope: a table for at least shape.seq positions and head_dim / 2.
void llama_block_forward(const LlamaBlockParams& p, const LlamaShape& shape, const RopeTable& rope,
                         const TensorParallel& tp, LlamaBlockCache* cache, float* out, BufferPool* pool);

// Gives back everything but the input x (a checkpointed layer, recomputed before its backward).
void llama_block_keep_input_only(LlamaBlockCache* cache, BufferPool* pool);

// Gives back every buffer of the cache, x included (after the layer's W).
void llama_block_release(LlamaBlockCache* cache, BufferPool* pool);

// Bytes of the float buffers the cache holds.
std::size_t llama_block_cache_bytes(const LlamaBlockCache& cache);

// I: d (nl, C) holds the gradient of the layer output on entry and that of its input on return.
// Needs the activations of llama_block_forward; temporaries come from `pool` and go back to it.
void llama_block_backward_input(const LlamaBlockParams& p, const LlamaShape& shape, const RopeTable& rope,
                                const TensorParallel& tp, LlamaBlockCache* cache, float* d,
                                BufferPool* pool);

// W: adds the layer's parameter gradients (after llama_block_backward_input) into the tensors' grad.
void llama_block_backward_weight(const LlamaBlockParams& p, const LlamaShape& shape, const TensorParallel& tp,
                                 const LlamaBlockCache& cache, BufferPool* pool);

}  // namespace pp::cpu
