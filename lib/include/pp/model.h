#pragma once
// A dense decoder-only transformer's shape, read from a Hugging Face config.json: GPT-2, Llama and
// the Llama-architecture Mistral and Qwen2, Nemotron, GPT-NeoX. Mixture-of-experts and
// encoder-decoder configs are refused by name.

#include <string>
#include <vector>

namespace pp {

enum class ModelFamily {
  kGpt2,      // learned positions, LayerNorm with bias, biased linears, GELU MLP (4h), dropout
  kLlama,     // rotary positions, RMSNorm, no biases, SwiGLU MLP, grouped-query attention
              // (also Mistral, and Qwen2 with its query/key/value biases)
  kNemotron,  // partial rotary, LayerNorm with bias, no linear biases, squared-ReLU MLP, GQA
  kNeoX,      // partial rotary, LayerNorm with bias, biased linears, GELU MLP, parallel residual
};

// Llama 3's frequency-dependent rotary scaling (Hugging Face's rope_scaling with rope_type
// "llama3", _compute_llama3_parameters): wavelengths shorter than original_max_positions /
// high_freq_factor keep their frequency, those longer than original_max_positions /
// low_freq_factor are divided by `factor`, and the band between is interpolated smoothly.
struct RopeScaling {
  std::string type;  // "" none, "llama3"
  double factor = 1, low_freq_factor = 1, high_freq_factor = 4;
  long long original_max_positions = 8192;  // original_max_position_embeddings
};

struct ModelConfig {
  std::string name;
  ModelFamily family = ModelFamily::kGpt2;
  long long hidden = 0;           // h: n_embd / hidden_size
  int layers = 0;                 // L: n_layer / num_hidden_layers
  int heads = 0;                  // a: n_head / num_attention_heads
  int kv_heads = 0;               // num_key_value_heads (= heads without GQA)
  long long ffn_hidden = 0;       // f: n_inner (default 4h) / intermediate_size
  long long vocab = 0;            // V: vocab_size
  long long max_positions = 0;    // n_positions / max_position_embeddings
  bool tied_embeddings = false;   // the LM head shares the token embedding
  double rope_theta = 10000;      // Llama: the rotary base theta (HF's default 10000)
  double norm_eps = 1e-5;         // Llama: rms_norm_eps (HF default 1e-6); GPT-2:
                                  // layer_norm_epsilon (HF default 1e-5)
  RopeScaling rope_scaling;       // Llama: rope_scaling (null or absent: none)
  std::string model_type;         // as the config names it: gpt2, llama, mistral, qwen2, ...
  double partial_rotary = 1;      // Nemotron, NeoX: of each head's width rotated
  bool qkv_bias = false;          // Qwen2: biases on the query, key and value projections
  std::string source;             // where the figures come from (shipped configs say)

  long long head_dim() const { return hidden / heads; }
  long long kv_dim() const { return head_dim() * kv_heads; }
  bool gated_mlp() const { return family == ModelFamily::kLlama; }
  bool has_biases() const { return family == ModelFamily::kGpt2 || family == ModelFamily::kNeoX; }
  bool learned_positions() const { return family == ModelFamily::kGpt2; }
  bool layer_norm() const { return family != ModelFamily::kLlama; }  // with a bias; else RMSNorm
  // Of each head's width rotated: none (GPT-2), all (Llama), partial_rotary (Nemotron, NeoX).
  double rotary_fraction() const {
    if (family == ModelFamily::kGpt2) return 0;
    return family == ModelFamily::kLlama ? 1 : partial_rotary;
  }
};

// Parses a Hugging Face config.json. The family is taken from "model_type" when present, else
// from the keys (n_embd: GPT-2; hidden_size: Llama). Throws pp::Error(kInvalidInput) naming the
// missing or bad key, prefixed with `origin`; a mixture-of-experts or encoder-decoder config is
// refused naming what it is.
ModelConfig parse_model_config(const std::string& text, const std::string& origin);

// The Hugging Face-style config.json text that parse_model_config() reads back to the same
// ModelConfig (name and source as "pp_name" and "pp_source").
std::string model_config_to_json_text(const ModelConfig& model);

// The names of the shipped configs of a kind ("models", "clusters") under config_dir(), sorted;
// empty when the directory cannot be read.
std::vector<std::string> shipped_config_names(const std::string& kind);

// `name_or_path`: a path to a config.json, or the name of a shipped model under
// <config_dir>/models/<name>.json (config_dir: $PP_CONFIG_DIR, else the source tree's configs/).
ModelConfig load_model(const std::string& name_or_path);

// Why pp run and pp profile cannot build this model's layers ("" when they can: GPT-2 and
// Llama without query/key/value biases). pp plan plans every family.
std::string runtime_model_gap(const ModelConfig& model);

// Total parameters (embeddings, blocks, final norm, and the head unless tied).
long long parameter_count(const ModelConfig& model);

// The directory pp reads shipped configs from.
std::string config_dir();

// A path to a regular file, or <config_dir>/<kind>/<name>.json for a shipped name; throws
// pp::Error(kIo) naming `flag` when neither exists.
std::string resolve_config(const std::string& name_or_path, const std::string& kind,
                           const std::string& flag);

}  // namespace pp
