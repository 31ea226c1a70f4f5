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

ModelFamily family_of(const JsonFields& f) {
  if (f.has("model_type")) {
    const std::string type = f.text("model_type");
    if (type == "gpt2") return ModelFamily::kGpt2;
    if (type == "llama") return ModelFamily::kLlama;
    f.fail("model_type", "'" + type + "' is not supported (gpt2, llama)");
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

void read_llama(const JsonFields& f, ModelConfig* m) {
  m->hidden = f.integer("hidden_size", 1, kBig);
  m->layers = static_cast<int>(f.integer("num_hidden_layers", 1, 1 << 20));
  m->heads = static_cast<int>(f.integer("num_attention_heads", 1, 1 << 20));
  m->kv_heads = f.has("num_key_value_heads")
                    ? static_cast<int>(f.integer("num_key_value_heads", 1, m->heads))
                    : m->heads;
  if (m->heads % m->kv_heads != 0) {
    f.fail("num_key_value_heads", "must divide num_attention_heads");
  }
  m->ffn_hidden = f.integer("intermediate_size", 1, kBig);
  m->vocab = f.integer("vocab_size", 1, kBig);
  m->max_positions = f.integer("max_position_embeddings", 1, kBig);
  m->tied_embeddings = f.has("tie_word_embeddings") ? f.boolean("tie_word_embeddings") : false;
  m->rope_theta = f.has("rope_theta") ? f.number("rope_theta", 1.0, 1e12) : 10000.0;
  m->norm_eps = f.has("rms_norm_eps") ? f.number("rms_norm_eps", kMinEps, 1.0) : 1e-6;
  m->rope_scaling = read_rope_scaling(f);
}

}  // namespace

ModelConfig read_model_config(const JsonFields& f, const std::string& default_name) {
  ModelConfig m;
  m.family = family_of(f);
  if (m.family == ModelFamily::kGpt2) {
    read_gpt2(f, &m);
  } else {
    read_llama(f, &m);
  }
  if (m.hidden % m.heads != 0) {
    f.fail(m.family == ModelFamily::kGpt2 ? "n_head" : "num_attention_heads",
           fmt::format("{} does not divide the hidden size {}", m.heads, m.hidden));
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
    j["model_type"] = "llama";
    j["hidden_size"] = m.hidden;
    j["num_hidden_layers"] = m.layers;
    j["num_attention_heads"] = m.heads;
    j["num_key_value_heads"] = m.kv_heads;
    j["intermediate_size"] = m.ffn_hidden;
    j["vocab_size"] = m.vocab;
    j["max_position_embeddings"] = m.max_positions;
    j["rope_theta"] = m.rope_theta;
    j["rms_norm_eps"] = m.norm_eps;
    j["rope_scaling"] = rope_scaling_to_json(m.rope_scaling);
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

long long parameter_count(const ModelConfig& m) {
  const long long h = m.hidden;
  const long long f = m.ffn_hidden;
  const long long kv = m.kv_dim();
  long long block = h * h + 2 * h * kv + h * h;  // q, k, v, o
  block += (m.gated_mlp() ? 3 : 2) * h * f;      // gate, up, down / fc, proj
  if (m.has_biases()) block += (h + 2 * kv) + h + f + h;
  block += m.family == ModelFamily::kGpt2 ? 4 * h : 2 * h;  // two norms (with bias for LayerNorm)
  long long total = m.vocab * h + static_cast<long long>(m.layers) * block;
  if (m.family == ModelFamily::kGpt2) total += m.max_positions * h;  // learned positions
  total += m.family == ModelFamily::kGpt2 ? 2 * h : h;              // final norm
  if (!m.tied_embeddings) total += m.vocab * h;
  return total;
}

}  // namespace pp
