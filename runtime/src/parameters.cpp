#include "pp/runtime/parameters.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <random>

#include "pp/error.h"
#include "pp/runtime/llama_parameters.h"

namespace pp {
namespace {

void add(ParameterSet* set, std::string name, std::vector<std::int64_t> shape) {
  set->add(std::move(name), std::move(shape));
}

void add_block(ParameterSet* set, int i, std::int64_t c) {
  const std::string p = fmt::format("h.{}.", i);
  add(set, p + "ln_1.weight", {c});
  add(set, p + "ln_1.bias", {c});
  add(set, p + "attn.c_attn.weight", {c, 3 * c});
  add(set, p + "attn.c_attn.bias", {3 * c});
  add(set, p + "attn.c_proj.weight", {c, c});
  add(set, p + "attn.c_proj.bias", {c});
  add(set, p + "ln_2.weight", {c});
  add(set, p + "ln_2.bias", {c});
  add(set, p + "mlp.c_fc.weight", {c, 4 * c});
  add(set, p + "mlp.c_fc.bias", {4 * c});
  add(set, p + "mlp.c_proj.weight", {4 * c, c});
  add(set, p + "mlp.c_proj.bias", {c});
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Tensor* ParameterSet::find(const std::string& name) {
  for (Tensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const Tensor* ParameterSet::find(const std::string& name) const {
  for (const Tensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Tensor& ParameterSet::at(const std::string& name) {
  Tensor* t = find(name);
  if (t == nullptr) throw Error(ErrorCategory::kInternal, "no parameter named " + name);
  return *t;
}

const Tensor& ParameterSet::at(const std::string& name) const {
  const Tensor* t = find(name);
  if (t == nullptr) throw Error(ErrorCategory::kInternal, "no parameter named " + name);
  return *t;
}

std::size_t ParameterSet::parameter_count() const {
  std::size_t n = 0;
  for (const Tensor& t : tensors) n += t.size();
  return n;
}

void ParameterSet::zero_grad() {
  for (Tensor& t : tensors) std::fill(t.grad.begin(), t.grad.end(), 0.0f);
}

void ParameterSet::add(std::string name, std::vector<std::int64_t> shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  tensors.push_back({std::move(name), std::move(shape), std::vector<float>(n, 0.0f), std::vector<float>(n, 0.0f)});
}

void check_layer_range(const ModelConfig& model, int first, int last) {
  const int head = model.layers + 1;
  if (first < 0 || last > head || first > last) {
    throw_invalid(fmt::format("layers [{}, {}] are outside 0..{}", first, last, head));
  }
}

void fill_normal(Tensor* t, float stddev, std::uint64_t seed) {
  std::seed_seq seq{static_cast<std::uint64_t>(std::hash<std::string>{}(t->name)), seed};
  std::mt19937_64 rng(seq);
  std::normal_distribution<float> normal(0.0f, stddev);
  for (float& x : t->data) x = normal(rng);
}

ParameterSet gpt2_parameters(const ModelConfig& model, int first, int last) {
  if (model.family != ModelFamily::kGpt2) {
    throw_invalid(fmt::format("pp run trains GPT-2 models; '{}' is not one", model.name));
  }
  check_layer_range(model, first, last);
  const int head = model.layers + 1;
  const std::int64_t c = model.hidden;
  ParameterSet set;
  if (first == 0) {
    add(&set, "wte.weight", {model.vocab, c});
    add(&set, "wpe.weight", {model.max_positions, c});
  }
  for (int layer = std::max(first, 1); layer <= std::min(last, model.layers); ++layer) {
    add_block(&set, layer - 1, c);
  }
  if (last == head) {
    add(&set, "ln_f.weight", {c});
    add(&set, "ln_f.bias", {c});
    if (first != 0) add(&set, "wte.weight", {model.vocab, c});
  }
  return set;
}

void init_gpt2(ParameterSet* set, int layers, std::uint64_t seed) {
  for (Tensor& t : set->tensors) {
    if (t.shape.size() == 1) {
      const bool norm_weight = ends_with(t.name, "ln_1.weight") || ends_with(t.name, "ln_2.weight") ||
                               t.name == "ln_f.weight";
      std::fill(t.data.begin(), t.data.end(), norm_weight ? 1.0f : 0.0f);
      continue;
    }
    const bool residual = ends_with(t.name, "attn.c_proj.weight") || ends_with(t.name, "mlp.c_proj.weight");
    const double stddev = residual ? 0.02 / std::sqrt(2.0 * layers) : 0.02;
    fill_normal(&t, static_cast<float>(stddev), seed);
  }
}

ParameterSet initialised_gpt2_parameters(const ModelConfig& model, int first_layer, int last_layer,
                                         std::uint64_t seed) {
  ParameterSet p = gpt2_parameters(model, first_layer, last_layer);
  init_gpt2(&p, model.layers, seed);
  return p;
}

ParameterSet initialised_parameters(const ModelConfig& model, int first_layer, int last_layer, std::uint64_t seed,
                                    int tp_rank, int tp) {
  ParameterSet p;
  if (model.family == ModelFamily::kGpt2) {
    p = initialised_gpt2_parameters(model, first_layer, last_layer, seed);
  } else {
    p = llama_parameters(model, first_layer, last_layer);
    init_llama(&p, seed);
  }
  if (tp == 1) return p;  // moved, not copied
  return shard_parameters(p, model.family, tp_rank, tp);
}

Shard tensor_parallel_shard(const std::string& name, ModelFamily family, int index, int parts) {
  struct Rule {
    const char* suffix;
    int dim;
    int groups;
  };
  static const Rule kGpt2[] = {{"attn.c_attn.weight", 1, 3}, {"attn.c_attn.bias", 0, 3},
                               {"attn.c_proj.weight", 0, 1}, {"mlp.c_fc.weight", 1, 1},
                               {"mlp.c_fc.bias", 0, 1},      {"mlp.c_proj.weight", 0, 1},
                               {"wte.weight", 0, 1}};
  static const Rule kLlama[] = {{"q_proj.weight", 0, 1},    {"k_proj.weight", 0, 1},   {"v_proj.weight", 0, 1},
                                {"gate_proj.weight", 0, 1}, {"up_proj.weight", 0, 1},  {"o_proj.weight", 1, 1},
                                {"down_proj.weight", 1, 1}, {"embed_tokens.weight", 0, 1},
                                {"lm_head.weight", 0, 1}};
  const auto find = [&](const auto& rules) -> Shard {
    for (const Rule& r : rules) {
      if (ends_with(name, r.suffix)) return {r.dim, r.groups, index, parts};
    }
    return {-1, 1, index, parts};
  };
  return family == ModelFamily::kGpt2 ? find(kGpt2) : find(kLlama);
}

ParameterSet shard_parameters(const ParameterSet& whole, ModelFamily family, int index, int parts) {
  ParameterSet set;
  for (const Tensor& t : whole.tensors) {
    Tensor piece;
    piece.name = t.name;
    piece.shard = tensor_parallel_shard(t.name, family, index, parts);
    piece.whole_shape = t.full_shape();
    piece.shape = piece_shape(piece.whole_shape, piece.shard, t.name);
    std::int64_t n = 1;
    for (std::int64_t d : piece.shape) n *= d;
    piece.data.resize(static_cast<std::size_t>(n));
    piece.grad.assign(static_cast<std::size_t>(n), 0.0f);
    copy_piece(t.data.data(), piece.whole_shape, piece.shard, piece.data.data());
    set.tensors.push_back(std::move(piece));
  }
  return set;
}

std::string tied_embedding_name(const ModelConfig& model) {
  if (model.family == ModelFamily::kGpt2) return "wte.weight";  // GPT-2's head is always tied
  return model.tied_embeddings ? "model.embed_tokens.weight" : "";
}

}  // namespace pp
