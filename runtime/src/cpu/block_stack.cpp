#include "block_stack.h"

namespace pp::cpu {

BlockStack::BlockStack(const ModelConfig& m, ParameterSet* parameters, int first_block, int last_block, int batch,
                       int seq, const TensorParallel* tp)
    : llama_(m.family == ModelFamily::kLlama), tp_(tp) {
  const int n = tp->size();
  for (int j = first_block; j < last_block; ++j) {
    if (llama_) {
      llama_params_.push_back(llama_block_params(parameters, j));
    } else {
      gpt2_.push_back(block_params(parameters, j));
    }
  }
  if (llama_) {
    llama_shape_ = {batch,
                    seq,
                    static_cast<int>(m.hidden),
                    m.heads / n,
                    m.kv_heads / n,
                    static_cast<int>(m.head_dim()),
                    static_cast<int>(m.ffn_hidden / n),
                    static_cast<float>(m.norm_eps)};
    rope_ = make_rope_table(m, seq);
  } else {
    gpt2_shape_ = {{batch, seq, static_cast<int>(m.hidden) / n, m.heads / n}, static_cast<int>(m.hidden)};
  }
}

std::size_t BlockStack::size() const { return llama_ ? llama_params_.size() : gpt2_.size(); }

void BlockStack::prepare(StackCaches* c) const {
  if (llama_) {
    c->llama.resize(size());
  } else {
    c->gpt2.resize(size());
  }
}

std::vector<float>& BlockStack::input(StackCaches* c, std::size_t i) const {
  return llama_ ? c->llama.at(i).x : c->gpt2.at(i).x;
}

void BlockStack::forward(std::size_t i, StackCaches* c, float* out, BufferPool* pool) const {
  if (llama_) {
    llama_block_forward(llama_params_[i], llama_shape_, rope_, *tp_, &c->llama[i], out, pool);
  } else {
    block_forward(gpt2_[i], gpt2_shape_, *tp_, &c->gpt2[i], out, pool);
  }
}

void BlockStack::keep_input_only(std::size_t i, StackCaches* c, BufferPool* pool) const {
  if (llama_) {
    llama_block_keep_input_only(&c->llama[i], pool);
  } else {
    block_keep_input_only(&c->gpt2[i], pool);
  }
}

void BlockStack::backward_input(std::size_t i, StackCaches* c, float* d, BufferPool* pool) const {
  if (llama_) {
    llama_block_backward_input(llama_params_[i], llama_shape_, rope_, *tp_, &c->llama[i], d, pool);
  } else {
    block_backward_input(gpt2_[i], gpt2_shape_, *tp_, &c->gpt2[i], d, pool);
  }
}

void BlockStack::backward_weight(std::size_t i, const StackCaches& c, BufferPool* pool) const {
  if (llama_) {
    llama_block_backward_weight(llama_params_[i], llama_shape_, *tp_, c.llama[i], pool);
  } else {
    block_backward_weight(gpt2_[i], gpt2_shape_, *tp_, c.gpt2[i], pool);
  }
}

void BlockStack::release(StackCaches* c, BufferPool* pool) const {
  for (BlockCache& cache : c->gpt2) block_release(&cache, pool);
  for (LlamaBlockCache& cache : c->llama) llama_block_release(&cache, pool);
}

std::size_t BlockStack::bytes(const StackCaches& c) const {
  std::size_t n = 0;
  for (const BlockCache& cache : c.gpt2) n += block_cache_bytes(cache);
  for (const LlamaBlockCache& cache : c.llama) n += llama_block_cache_bytes(cache);
  return n;
}

}  // namespace pp::cpu
