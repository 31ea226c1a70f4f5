#include "pp/runtime/llama_parameters.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "pp/error.h"

namespace pp {
namespace {

constexpr float kInitStddev = 0.02f;  // LlamaConfig's initializer_range

void add(ParameterSet* set, std::string name, std::vector<std::int64_t> shape) {
  set->add(std::move(name), std::move(shape));
}

void add_block(ParameterSet* set, const ModelConfig& m, int i) {
  const std::string p = fmt::format("model.layers.{}.", i);
  const std::int64_t c = m.hidden;
  const std::int64_t q = m.head_dim() * m.heads;
  const std::int64_t kv = m.kv_dim();
  const std::int64_t ffn = m.ffn_hidden;
  add(set, p + "input_layernorm.weight", {c});
  add(set, p + "self_attn.q_proj.weight", {q, c});
  add(set, p + "self_attn.k_proj.weight", {kv, c});
  add(set, p + "self_attn.v_proj.weight", {kv, c});
  add(set, p + "self_attn.o_proj.weight", {c, q});
  add(set, p + "post_attention_layernorm.weight", {c});
  add(set, p + "mlp.gate_proj.weight", {ffn, c});
  add(set, p + "mlp.up_proj.weight", {ffn, c});
  add(set, p + "mlp.down_proj.weight", {c, ffn});
}

void add_head(ParameterSet* set, const ModelConfig& m, bool has_embedding) {
  add(set, "model.norm.weight", {m.hidden});
  if (!m.tied_embeddings) {
    add(set, "lm_head.weight", {m.vocab, m.hidden});
  } else if (!has_embedding) {
    add(set, "model.embed_tokens.weight", {m.vocab, m.hidden});
  }
}

}  // namespace

ParameterSet llama_parameters(const ModelConfig& model, int first, int last) {
  if (model.family != ModelFamily::kLlama) {
    throw_invalid(fmt::format("'{}' is not a Llama model (Llama parameters asked for)", model.name));
  }
  check_layer_range(model, first, last);
  const int head = model.layers + 1;
  ParameterSet set;
  if (first == 0) add(&set, "model.embed_tokens.weight", {model.vocab, model.hidden});
  for (int layer = std::max(first, 1); layer <= std::min(last, model.layers); ++layer) {
    add_block(&set, model, layer - 1);
  }
  if (last == head) add_head(&set, model, first == 0);
  return set;
}

void init_llama(ParameterSet* set, std::uint64_t seed) {
  for (Tensor& t : set->tensors) {
    if (t.shape.size() == 1) {  // the RMSNorm weights, the only 1-D tensors
      std::fill(t.data.begin(), t.data.end(), 1.0f);
      continue;
    }
    fill_normal(&t, kInitStddev, seed);
  }
}

}  // namespace pp
