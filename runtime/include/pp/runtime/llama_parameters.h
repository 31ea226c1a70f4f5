#pragma once
// Llama model parameters as named float32 tensors, named and shaped as in Hugging Face's
// LlamaForCausalLM checkpoints (so a real Llama checkpoint loads and a pp checkpoint opens in the
// usual Python tools). Shapes are the whole (unsharded) tensors; linear weights are (out, in) as
// nn.Linear stores them: y = x W^T, no biases. C hidden, V vocabulary, I intermediate_size,
// Hq query heads, Hkv kv heads, hd head_dim.
//
// A pipeline stage holds the tensors of its layers (0 = embedding, 1..L = blocks, L+1 = head):
//   embedding  model.embed_tokens.weight (V, C)
//   block i    model.layers.i.input_layernorm.weight (C),
//              model.layers.i.self_attn.q_proj.weight (Hq * hd, C),
//              model.layers.i.self_attn.k_proj.weight (Hkv * hd, C),
//              model.layers.i.self_attn.v_proj.weight (Hkv * hd, C),
//              model.layers.i.self_attn.o_proj.weight (C, Hq * hd),
//              model.layers.i.post_attention_layernorm.weight (C),
//              model.layers.i.mlp.gate_proj.weight (I, C), model.layers.i.mlp.up_proj.weight (I, C),
//              model.layers.i.mlp.down_proj.weight (C, I)
//   head       model.norm.weight (C), and lm_head.weight (V, C) when the head is not tied; a tied
//              head reads the token embedding, so a head stage without layer 0 holds its own
//              model.embed_tokens.weight copy (as GPT-2's head holds wte.weight).

#include <cstdint>

#include "pp/model.h"
#include "pp/runtime/parameters.h"

namespace pp {

// The tensors (zero-filled) that a stage holding layers [first_layer, last_layer] owns, in the
// order listed above. Throws pp::Error(kInvalidInput) for a model that is not Llama family or a
// layer range outside 0..L+1.
ParameterSet llama_parameters(const ModelConfig& model, int first_layer, int last_layer);

// Hugging Face's LlamaPreTrainedModel._init_weights (initializer_range 0.02): every linear and
// embedding weight ~ N(0, 0.02), norm weights 1. Deterministic per tensor name and seed, seeded
// as init_gpt2 is, so every layout (and a single rank) starts from the same weights.
void init_llama(ParameterSet* parameters, std::uint64_t seed);

}  // namespace pp
