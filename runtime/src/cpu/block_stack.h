#pragma once
// The transformer blocks of one pipeline stage on the CPU, GPT-2's (block.h) or Llama's
// (llama_block.h), behind one face: forward, recompute, I and W of the stage's block i for one
// micro-batch's caches. Shapes are this tensor-parallel rank's (n_l = tp.local_rows(b * T) rows of
// C features in and out of each block).

#include <cstddef>
#include <vector>

#include "block.h"
#include "buffer_pool.h"
#include "llama_block.h"
#include "pp/model.h"
#include "pp/runtime/parameters.h"
#include "rope.h"
#include "tensor_parallel.h"

namespace pp::cpu {

// One micro-batch's state of the stack: one cache per block (of the model's family).
struct StackCaches {
  std::vector<BlockCache> gpt2;
  std::vector<LlamaBlockCache> llama;
};

class BlockStack {
 public:
  // The blocks [first_block, last_block) (model-wide 0-based indices) of `model`, their tensors
  // in `parameters` (this rank's pieces), computing over `tp`; all three outlive the stack.
  BlockStack(const ModelConfig& model, ParameterSet* parameters, int first_block, int last_block, int batch, int seq,
             const TensorParallel* tp);

  std::size_t size() const;
  // Sizes the caches for this stack (keeping their capacity across micro-batches).
  void prepare(StackCaches* caches) const;
  // Block i's input (n_l, C): the caller moves the input activation here before forward.
  std::vector<float>& input(StackCaches* caches, std::size_t i) const;

  void forward(std::size_t i, StackCaches* caches, float* out, BufferPool* pool) const;
  void keep_input_only(std::size_t i, StackCaches* caches, BufferPool* pool) const;
  void backward_input(std::size_t i, StackCaches* caches, float* d, BufferPool* pool) const;
  void backward_weight(std::size_t i, const StackCaches& caches, BufferPool* pool) const;
  void release(StackCaches* caches, BufferPool* pool) const;
  std::size_t bytes(const StackCaches& caches) const;

 private:
  bool llama_ = false;
  const TensorParallel* tp_;
  std::vector<BlockParams> gpt2_;
  BlockShape gpt2_shape_;
  std::vector<LlamaBlockParams> llama_params_;
  LlamaShape llama_shape_;
  RopeTable rope_;
};

}  // namespace pp::cpu
