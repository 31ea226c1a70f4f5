#include "pp/model.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "config_json.h"
#include "json_fields.h"
#include "pp/file_io.h"

namespace pp {
namespace {

constexpr long long kBig = 1LL << 40;
constexpr double kMinEps = 1e-30;  // the smallest norm epsilon (or frequency factor) accepted

// Model types that are not dense decoders, refused by name.
constexpr const char* kMixtureOfExperts[] = {"mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3",
                                             "dbrx", "jamba", "olmoe", "grok-1", "arctic", "phimoe",
                                             "granitemoe", "llama4", "gpt_oss", "switch_transformers"};
constexpr const char* kEncoders[] = {"t5", "mt5", "umt5", "longt5", "bart", "mbart", "pegasus", "marian",
                                     "whisper", "bert", "roberta", "deberta", "deberta-v2", "electra"};
// Keys whose presence (with more than one expert) makes any config a mixture of experts.
constexpr const char* kExpertKeys[] = {"num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"};

template <typename List>
bool listed(const List& list, const std::string& type) {
  for (const char* name : list) {
    if (type == name) return true;
  }
  return false;
}

void refuse_non_dense(const JsonFields& f, const std::string& type) {
  const std::string what = type.empty() ? "this config" : "'" + type + "'";
  if (listed(kMixtureOfExperts, type)) {
    f.fail("model_type", what + " is a mixture-of-experts model; pp plans dense decoder-only models");
  }
  for (const char* key : kExpertKeys) {
    if (f.has(key) && f.number(key, 0, 1e9) > 1) {
      f.fail(key, "says " + what + " is a mixture-of-experts model; pp plans dense decoder-only models");
    }
  }
  if (listed(kEncoders, type) || (f.has("is_encoder_decoder") && f.boolean("is_encoder_decoder"))) {
    f.fail("model_type", what + " has an encoder; pp plans dense decoder-only models");
  }
}

ModelFamily family_of(const JsonFields& f) {
  const std::string type = f.has("model_type") ? f.text("model_type") : "";
  refuse_non_dense(f, type);
  if (!type.empty()) {
    if (type == "gpt2") return ModelFamily::kGpt2;
    if (type == "llama" || type == "mistral" || type == "qwen2") return ModelFamily::kLlama;
    if (type == "nemotron") return ModelFamily::kNemotron;
    if (type == "gpt_neox") return ModelFamily::kNeoX;
    f.fail("model_type", "'" + type + "' is not supported (gpt2, llama, mistral, qwen2, nemotron, gpt_neox)");
  }
  if (f.has("n_embd")) return ModelFamily::kGpt2;
  if (f.has("hidden_size")) return ModelFamily::kLlama;
  f.fail("n_embd", "is missing (neither GPT-2's n_embd nor Llama's hidden_size is present)");
}

void read_gpt2(const JsonFields& f, ModelConfig* m) {
  m->hidden = f.integer("n_embd", 1, kBig);
  m->layers = static_cast<int>(f.integer("n_layer", 1, 1 << 20));
  m->heads = static_cast<int>(f.integer("n_head", 1, 1 << 20));
  m->kv_heads = m->heads;
  m->ffn_hidden = f.has("n_inner") ? f.integer("n_inner", 1, kBig) : 4 * m->hidden;
  m->vocab = f.integer("vocab_size", 1, kBig);
  m->max_positions = f.integer("n_positions", 1, kBig);
  m->tied_embeddings = f.has("tie_word_embeddings") ? f.boolean("tie_word_embeddings") : true;
  m->norm_eps = f.has("layer_norm_epsilon") ? f.number("layer_norm_epsilon", kMinEps, 1.0) : 1e-5;
}

// rope_scaling: null, absent or rope_type "default" (Hugging Face's unscaled rotary embedding) is
// none; else rope_type (or the older "type") must be "llama3" with all four of its keys, as
// Hugging Face's _validate_llama3_parameters requires.
RopeScaling read_rope_scaling(const JsonFields& f) {
  if (!f.has("rope_scaling")) return {};
  const JsonFields s = f.object("rope_scaling");
  const char* type_key = s.has("rope_type") || !s.has("type") ? "rope_type" : "type";
  RopeScaling r;
  r.type = s.text(type_key);
  if (r.type == "default") return {};
  if (r.type != "llama3") s.fail(type_key, "'" + r.type + "' is not supported (llama3)");
  r.factor = s.number("factor", 1.0, 1e6);
  r.low_freq_factor = s.number("low_freq_factor", kMinEps, 1e6);
  r.high_freq_factor = s.number("high_freq_factor", kMinEps, 1e6);
  if (!(r.high_freq_factor > r.low_freq_factor)) {
    s.fail("high_freq_factor", "must be greater than low_freq_factor");
  }
  r.original_max_positions = s.integer("original_max_position_embeddings", 1, kBig);
  return r;
}

nlohmann::ordered_json rope_scaling_to_json(const RopeScaling& r) {
  if (r.type.empty()) return nullptr;
  return {{"rope_type", r.type},
          {"factor", r.factor},
          {"low_freq_factor", r.low_freq_factor},
          {"high_freq_factor", r.high_freq_factor},
          {"original_max_position_embeddings", r.original_max_positions}};
}

// The keys Llama, Mistral, Qwen2, Nemotron and GPT-NeoX share. `default_ffn` > 0 stands in for
// a missing intermediate_size (else it is required).
void read_decoder_shape(const JsonFields& f, ModelConfig* m, long long default_ffn = 0) {
  m->hidden = f.integer("hidden_size", 1, kBig);
  m->layers = static_cast<int>(f.integer("num_hidden_layers", 1, 1 << 20));
  m->heads = static_cast<int>(f.integer("num_attention_heads", 1, 1 << 20));
  m->kv_heads = f.has("num_key_value_heads")
                    ? static_cast<int>(f.integer("num_key_value_heads", 1, m->heads))
                    : m->heads;
  if (m->heads % m->kv_heads != 0) {
    f.fail("num_key_value_heads", "must divide num_attention_heads");
  }
  m->ffn_hidden = default_ffn > 0 && !f.has("intermediate_size") ? default_ffn
                                                                   : f.integer("intermediate_size", 1, kBig);
  m->vocab = f.integer("vocab_size", 1, kBig);
  m->max_positions = f.integer("max_position_embeddings", 1, kBig);
  m->tied_embeddings = f.has("tie_word_embeddings") ? f.boolean("tie_word_embeddings") : false;
  m->rope_theta = f.has("rope_theta") ? f.number("rope_theta", 1.0, 1e12) : 10000.0;
}

void read_llama(const JsonFields& f, ModelConfig* m) {
  read_decoder_shape(f, m);
  m->norm_eps = f.has("rms_norm_eps") ? f.number("rms_norm_eps", kMinEps, 1.0) : 1e-6;
  m->rope_scaling = read_rope_scaling(f);
  m->qkv_bias = m->model_type == "qwen2";  // Qwen2's attention has them, with no key saying so
}

// Nemotron: squared-ReLU MLP, LayerNorm, a partial rotary embedding.
void read_nemotron(const JsonFields& f, ModelConfig* m) {
  read_decoder_shape(f, m);
  if (f.has("hidden_act") && f.text("hidden_act") != "relu2") {
    f.fail("hidden_act", "'" + f.text("hidden_act") + "' is not Nemotron's relu2");
  }
  m->norm_eps = f.has("norm_eps") ? f.number("norm_eps", kMinEps, 1.0) : 1e-5;
  m->partial_rotary = f.has("partial_rotary_factor") ? f.number("partial_rotary_factor", 0.0, 1.0) : 0.5;
}

// GPT-NeoX (and Pythia): GELU MLP, LayerNorm, biases, a partial rotary embedding.
void read_neox(const JsonFields& f, ModelConfig* m) {
  read_decoder_shape(f, m, 4 * f.integer("hidden_size", 1, kBig));
  m->kv_heads = m->heads;  // no grouped-query attention
  m->rope_theta = f.has("rotary_emb_base") ? f.number("rotary_emb_base", 1.0, 1e12) : 10000.0;
  m->norm_eps = f.has("layer_norm_eps") ? f.number("layer_norm_eps", kMinEps, 1.0) : 1e-5;
  m->partial_rotary = f.has("rotary_pct") ? f.number("rotary_pct", 0.0, 1.0) : 0.25;
}

}  // namespace

ModelConfig read_model_config(const JsonFields& f, const std::string& default_name) {
  ModelConfig m;
  m.family = family_of(f);
  m.model_type = f.has("model_type") ? f.text("model_type") : (m.family == ModelFamily::kGpt2 ? "gpt2" : "llama");
  switch (m.family) {
    case ModelFamily::kGpt2: read_gpt2(f, &m); break;
    case ModelFamily::kLlama: read_llama(f, &m); break;
    case ModelFamily::kNemotron: read_nemotron(f, &m); break;
    case ModelFamily::kNeoX: read_neox(f, &m); break;
  }
  if (m.hidden % m.heads != 0) {
    f.fail(m.family == ModelFamily::kGpt2 ? "n_head" : "num_attention_heads",
           fmt::format("{} does not divide the hidden size {}", m.heads, m.hidden));
  }
  if (f.has("head_dim") && f.integer("head_dim", 1, kBig) != m.head_dim()) {
    f.fail("head_dim", fmt::format("{} is not the hidden size over the heads ({}), which pp assumes",
                                   f.integer("head_dim", 1, kBig), m.head_dim()));
  }
  m.name = f.has("pp_name") ? f.text("pp_name") : default_name;
  if (f.has("pp_source")) m.source = f.text("pp_source");
  return m;
}

ModelConfig parse_model_config(const std::string& text, const std::string& origin) {
  const nlohmann::json doc = parse_json_document(text, origin);
  return read_model_config(JsonFields(doc, origin), std::filesystem::path(origin).stem().string());
}

nlohmann::ordered_json model_config_to_json(const ModelConfig& m) {
  nlohmann::ordered_json j = {{"pp_name", m.name}, {"pp_source", m.source}};
  if (m.family == ModelFamily::kGpt2) {
    j["model_type"] = "gpt2";
    j["n_embd"] = m.hidden;
    j["n_layer"] = m.layers;
    j["n_head"] = m.heads;
    j["n_inner"] = m.ffn_hidden;
    j["vocab_size"] = m.vocab;
    j["n_positions"] = m.max_positions;
    j["layer_norm_epsilon"] = m.norm_eps;
  } else {
    // The keys Llama, Mistral, Qwen2, Nemotron and GPT-NeoX share, then each family's own.
    const std::string llama_type = m.model_type.empty() ? "llama" : m.model_type;
    j["model_type"] = m.family == ModelFamily::kNeoX       ? "gpt_neox"
                      : m.family == ModelFamily::kNemotron ? "nemotron"
                                                           : llama_type;
    j["hidden_size"] = m.hidden;
    j["num_hidden_layers"] = m.layers;
    j["num_attention_heads"] = m.heads;
    if (m.family != ModelFamily::kNeoX) j["num_key_value_heads"] = m.kv_heads;
    j["intermediate_size"] = m.ffn_hidden;
    j["vocab_size"] = m.vocab;
    j["max_position_embeddings"] = m.max_positions;
    if (m.family == ModelFamily::kNeoX) {
      j["rotary_emb_base"] = m.rope_theta;
      j["rotary_pct"] = m.partial_rotary;
      j["layer_norm_eps"] = m.norm_eps;
    } else if (m.family == ModelFamily::kNemotron) {
      j["rope_theta"] = m.rope_theta;
      j["hidden_act"] = "relu2";
      j["norm_eps"] = m.norm_eps;
      j["partial_rotary_factor"] = m.partial_rotary;
    } else {
      j["rope_theta"] = m.rope_theta;
      j["rms_norm_eps"] = m.norm_eps;
      j["rope_scaling"] = rope_scaling_to_json(m.rope_scaling);
    }
  }
  j["tie_word_embeddings"] = m.tied_embeddings;
  return j;
}

std::string model_config_to_json_text(const ModelConfig& model) {
  return model_config_to_json(model).dump(2) + "\n";
}

std::string config_dir() {
  if (const char* dir = std::getenv("PP_CONFIG_DIR"); dir != nullptr && *dir != '\0') return dir;
  // An installed pp (cmake --install) finds its configs at <prefix>/share/pp/configs.
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed = exe.parent_path().parent_path() / "share" / "pp" / "configs";
    if (std::filesystem::is_directory(installed, ec)) return installed.string();
  }
  return PP_SOURCE_CONFIG_DIR;
}

std::string resolve_config(const std::string& name_or_path, const std::string& kind,
                           const std::string& flag) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(name_or_path, ec)) return name_or_path;
  const std::string shipped = config_dir() + "/" + kind + "/" + name_or_path + ".json";
  if (name_or_path.find('/') == std::string::npos && std::filesystem::is_regular_file(shipped, ec)) {
    return shipped;
  }
  throw_io(fmt::format("{}: no file '{}' and no shipped one of that name (see {}/{})", flag,
                       name_or_path, config_dir(), kind));
}

std::vector<std::string> shipped_config_names(const std::string& kind) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(config_dir() + "/" + kind, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() == ".json") names.push_back(it->path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

ModelConfig load_model(const std::string& name_or_path) {
  const std::string path = resolve_config(name_or_path, "models", "--model");
  return parse_model_config(read_text_file(path, "model config"), path);
}

std::string runtime_model_gap(const ModelConfig& m) {
  if (m.family == ModelFamily::kNemotron || m.family == ModelFamily::kNeoX) {
    return fmt::format("{} is a {} model, and pp run and pp profile build GPT-2 and Llama layers only "
                       "(pp plan plans it)", m.name, m.model_type);
  }
  if (m.qkv_bias) {
    return fmt::format("{} ({}) has query/key/value biases, which pp run's and pp profile's Llama layers "
                       "do not have (pp plan plans it)", m.name, m.model_type);
  }
  return "";
}

long long parameter_count(const ModelConfig& m) {
  const long long h = m.hidden;
  const long long f = m.ffn_hidden;
  const long long kv = m.kv_dim();
  long long block = h * h + 2 * h * kv + h * h;  // q, k, v, o
  block += (m.gated_mlp() ? 3 : 2) * h * f;      // gate, up, down / fc, proj
  if (m.has_biases()) block += (h + 2 * kv) + h + f + h;
  if (m.qkv_bias) block += h + 2 * kv;
  block += m.layer_norm() ? 4 * h : 2 * h;  // two norms (with bias for LayerNorm)
  long long total = m.vocab * h + static_cast<long long>(m.layers) * block;
  if (m.learned_positions()) total += m.max_positions * h;
  total += m.layer_norm() ? 2 * h : h;  // final norm
  if (!m.tied_embeddings) total += m.vocab * h;
  return total;
}

}  // namespace pp
