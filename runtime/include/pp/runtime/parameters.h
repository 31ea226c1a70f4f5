#pragma once
// Model parameters as named float32 tensors with their gradients, named and shaped as in
// Hugging Face's GPT-2 checkpoints (so a real GPT-2 checkpoint loads and a pp checkpoint opens in
// the usual Python tools).
//
// A pipeline stage holds the tensors of its layers (0 = embedding, 1..L = blocks, L+1 = head):
//   embedding  wte.weight (V, C), wpe.weight (P, C)
//   block i    h.i.ln_1.weight (C), h.i.ln_1.bias (C),
//              h.i.attn.c_attn.weight (C, 3C), h.i.attn.c_attn.bias (3C),
//              h.i.attn.c_proj.weight (C, C), h.i.attn.c_proj.bias (C),
//              h.i.ln_2.weight (C), h.i.ln_2.bias (C),
//              h.i.mlp.c_fc.weight (C, 4C), h.i.mlp.c_fc.bias (4C),
//              h.i.mlp.c_proj.weight (4C, C), h.i.mlp.c_proj.bias (C)
//   head       ln_f.weight (C), ln_f.bias (C), and wte.weight (V, C): the LM head is tied to the
//              token embedding, so a head stage without the embedding holds its own copy, kept
//              equal by reducing the two gradients at the step's end.
// Linear weights are (in, out) as in GPT-2's Conv1D: y = x W + b.

#include <cstdint>
#include <string>
#include <vector>

#include "pp/model.h"
#include "pp/runtime/sharding.h"

namespace pp {

struct Tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // row-major
  std::vector<float> grad;  // same size as data
  Shard shard;              // this rank's piece of the tensor (replicated: the whole of it)
  std::vector<std::int64_t> whole_shape;  // the whole tensor's shape; empty: `shape`
  std::size_t size() const { return data.size(); }
  const std::vector<std::int64_t>& full_shape() const { return whole_shape.empty() ? shape : whole_shape; }
  bool decays() const { return shape.size() == 2; }  // AdamW weight decay: 2-D weights only
};

// A read-only view of a tensor's data by name and shape: what a checkpoint writer needs, without
// a copy. `data` points at `count` floats owned elsewhere, valid while the owner is unchanged.
struct TensorRef {
  std::string name;
  std::vector<std::int64_t> shape;
  const float* data = nullptr;
  std::size_t count = 0;
  Shard shard;                            // as the tensor's
  std::vector<std::int64_t> whole_shape;  // empty: `shape`
  const std::vector<std::int64_t>& full_shape() const { return whole_shape.empty() ? shape : whole_shape; }
};

// The view of a tensor's data (not its grad).
inline TensorRef ref_of(const Tensor& t) {
  return {t.name, t.shape, t.data.data(), t.data.size(), t.shard, t.whole_shape};
}

class ParameterSet {
 public:
  std::vector<Tensor> tensors;

  Tensor* find(const std::string& name);
  const Tensor* find(const std::string& name) const;
  Tensor& at(const std::string& name);  // throws pp::Error(kInternal) when absent
  const Tensor& at(const std::string& name) const;
  std::size_t parameter_count() const;
  void zero_grad();
  // Appends a zero-filled tensor (data and grad) of `shape`.
  void add(std::string name, std::vector<std::int64_t> shape);
};

// Throws pp::Error(kInvalidInput) unless 0 <= first_layer <= last_layer <= L+1 (0 the embedding,
// 1..L the blocks, L+1 the head).
void check_layer_range(const ModelConfig& model, int first_layer, int last_layer);

// Fills `t` with N(0, stddev) values drawn from a generator seeded by the tensor's name and
// `seed`, so a tensor starts the same whichever stage (or layout) holds it.
void fill_normal(Tensor* t, float stddev, std::uint64_t seed);

// The tensors (zero-filled) that a stage holding layers [first_layer, last_layer] owns, in the
// order listed above. Throws pp::Error(kInvalidInput) for a model that is not GPT-2 family or a
// layer range outside 0..L+1.
ParameterSet gpt2_parameters(const ModelConfig& model, int first_layer, int last_layer);

// The parameters every backend starts from for layers [first_layer, last_layer] of `model`, GPT-2
// (initialised_gpt2_parameters) or Llama (llama_parameters, init_llama): whole tensors
// initialised the same for every layout, then cut to tensor-parallel rank tp_rank's pieces of tp.
ParameterSet initialised_parameters(const ModelConfig& model, int first_layer, int last_layer, std::uint64_t seed,
                                    int tp_rank = 0, int tp = 1);

// Megatron-LM's tensor-parallel split of the tensor named `name` of a `family` model over `parts`
// ranks, for rank `index`: column-parallel products cut their output features (GPT-2's c_attn
// as 3 blocks, q | k | v; c_fc; Llama's q/k/v/gate/up_proj), row-parallel products their input
// features (c_proj; o_proj, down_proj), the token embedding and the LM head their vocabulary
// rows; everything else (norms, position embeddings, the row-parallel products' biases) is
// replicated.
Shard tensor_parallel_shard(const std::string& name, ModelFamily family, int index, int parts);

// Cuts every tensor of `whole` (whole tensors, any grads dropped) to tensor-parallel rank
// `index`'s piece of `parts`; throws pp::Error(kInvalidInput) when a tensor cannot be cut so.
ParameterSet shard_parameters(const ParameterSet& whole, ModelFamily family, int index, int parts);

// The name of the token embedding the LM head shares ("wte.weight" for GPT-2), or "" for a
// model whose head has its own weight.
std::string tied_embedding_name(const ModelConfig& model);

// GPT-2's initialisation, deterministic per tensor name and seed, so every layout (and a single
// rank) starts from the same weights: linear and embedding weights ~ N(0, 0.02) (the residual
// projections attn.c_proj and mlp.c_proj ~ N(0, 0.02 / sqrt(2L))), biases 0, norm weights 1.
void init_gpt2(ParameterSet* parameters, int layers, std::uint64_t seed);

// gpt2_parameters for the layer range, initialised by init_gpt2: whole tensors, the same for
// every layout.
ParameterSet initialised_gpt2_parameters(const ModelConfig& model, int first_layer, int last_layer,
                                         std::uint64_t seed);

}  // namespace pp
