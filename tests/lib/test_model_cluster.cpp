// The shipped model and cluster configs: they load, their parameter counts match the published
// totals, and the parsers' errors name the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "pp/cluster.h"
#include "pp/error.h"
#include "pp/model.h"

namespace pp {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The message of the pp::Error that `parse` throws (checking its category), or "(accepted)".
template <typename Parse>
std::string error_of(Parse parse, ErrorCategory category = ErrorCategory::kInvalidInput) {
  try {
    parse();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), category) << e.what();
    return e.what();
  }
  return "(accepted)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ModelConfigs, ShippedModelsMatchPublishedParameterCounts) {
  // Exact totals: the Hugging Face safetensors metadata of each repo (GPT-2: 124,439,808 with the
  // LM head tied to the token embedding).
  const struct {
    const char* name;
    long long parameters;
  } kPublished[] = {
      {"gpt2-124m", 124'439'808LL},         {"llama2-7b", 6'738'415'616LL},
      {"llama2-70b", 68'976'648'192LL},     {"llama3-8b", 8'030'261'248LL},
      {"llama3-70b", 70'553'706'496LL},     {"llama3-405b", 405'853'388'800LL},
      {"mistral-7b", 7'241'732'096LL},      {"qwen2-7b", 7'615'616'512LL},
      {"gpt-neox-20b", 20'554'567'680LL},
  };
  for (const auto& p : kPublished) {
    const ModelConfig m = load_model(p.name);
    EXPECT_EQ(m.name, p.name);
    EXPECT_FALSE(m.source.empty()) << p.name;
    EXPECT_EQ(parameter_count(m), p.parameters) << p.name;
  }
}

TEST(ModelConfigs, Gpt3IsWithinHalfAPercentOfItsPublishedSize) {
  // Brown et al. 2020 report 175.0B. From the architecture (h = 12288, L = 96, V = 50257,
  // 2048 learned positions, tied head):
  //   per block 12 h^2 + 13 h = 1,812,099,072;  x 96      = 173,961,510,912
  //   token embedding V h                                 =     617,558,016
  //   position embedding 2048 h                           =      25,165,824
  //   final LayerNorm 2 h                                 =          24,576
  //   total                                               = 174,604,259,328 (0.23% under 175e9)
  const ModelConfig m = load_model("gpt3-175b");
  EXPECT_EQ(m.family, ModelFamily::kGpt2);
  EXPECT_EQ(parameter_count(m), 174'604'259'328LL);
  EXPECT_NEAR(static_cast<double>(parameter_count(m)), 175e9, 0.005 * 175e9);
}

TEST(ModelConfigs, ShapesReadFromTheHuggingFaceKeys) {
  const ModelConfig gpt2 = load_model("gpt2-124m");
  EXPECT_EQ(gpt2.family, ModelFamily::kGpt2);
  EXPECT_EQ(gpt2.hidden, 768);
  EXPECT_EQ(gpt2.layers, 12);
  EXPECT_EQ(gpt2.heads, 12);
  EXPECT_EQ(gpt2.ffn_hidden, 4 * 768);
  EXPECT_EQ(gpt2.max_positions, 1024);
  EXPECT_TRUE(gpt2.tied_embeddings);

  const ModelConfig llama = load_model("llama3-405b");
  EXPECT_EQ(llama.family, ModelFamily::kLlama);
  EXPECT_EQ(llama.hidden, 16384);
  EXPECT_EQ(llama.layers, 126);
  EXPECT_EQ(llama.heads, 128);
  EXPECT_EQ(llama.kv_heads, 8);
  EXPECT_EQ(llama.kv_dim(), 8 * 128);
  EXPECT_EQ(llama.ffn_hidden, 53248);
  EXPECT_EQ(llama.vocab, 128256);
  EXPECT_FALSE(llama.tied_embeddings);

  EXPECT_EQ(load_model("llama2-70b").kv_heads, 8);
  EXPECT_EQ(load_model("llama2-7b").kv_heads, 32);
  EXPECT_EQ(load_model("llama3-8b").max_positions, 8192);
}

TEST(ModelConfigs, LlamaRopeAndNormFieldsFromTheHuggingFaceKeys) {
  const ModelConfig llama31 = load_model("llama3-405b");  // Llama 3.1: llama3 rope scaling
  EXPECT_EQ(llama31.rope_theta, 500000.0);
  EXPECT_EQ(llama31.norm_eps, 1e-5);
  EXPECT_EQ(llama31.rope_scaling.type, "llama3");
  EXPECT_EQ(llama31.rope_scaling.factor, 8.0);
  EXPECT_EQ(llama31.rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(llama31.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(llama31.rope_scaling.original_max_positions, 8192);

  const ModelConfig llama3 = load_model("llama3-8b");  // Llama 3 (April 2024): no scaling
  EXPECT_EQ(llama3.rope_theta, 500000.0);
  EXPECT_EQ(llama3.norm_eps, 1e-5);
  EXPECT_EQ(llama3.rope_scaling.type, "");

  const ModelConfig llama2 = load_model("llama2-7b");  // no rope_theta key: HF's default
  EXPECT_EQ(llama2.rope_theta, 10000.0);
  EXPECT_EQ(llama2.norm_eps, 1e-5);
  EXPECT_EQ(llama2.rope_scaling.type, "");

  const ModelConfig tiny = load_model("llama-tiny");
  EXPECT_EQ(tiny.family, ModelFamily::kLlama);
  EXPECT_EQ(tiny.hidden, 64);
  EXPECT_EQ(tiny.layers, 4);
  EXPECT_EQ(tiny.heads, 8);  // tp 2 and 4 divide both head counts
  EXPECT_EQ(tiny.kv_heads, 4);
  EXPECT_EQ(tiny.ffn_hidden, 176);
  EXPECT_EQ(tiny.vocab, 512);
  EXPECT_EQ(tiny.max_positions, 128);
  EXPECT_FALSE(tiny.tied_embeddings);
  EXPECT_EQ(tiny.rope_scaling.type, "llama3");
  EXPECT_EQ(tiny.rope_scaling.original_max_positions, 32);

  EXPECT_EQ(load_model("gpt2-tiny").norm_eps, 1e-5);  // layer_norm_epsilon
}

TEST(ModelConfigs, LlamaDefaultsAndTheOlderRopeScalingTypeKey) {
  const std::string shape = R"("model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                               "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 256,
                               "max_position_embeddings": 64)";
  const ModelConfig plain = parse_model_config("{" + shape + "}", "m.json");
  EXPECT_EQ(plain.rope_theta, 10000.0);  // LlamaConfig's defaults
  EXPECT_EQ(plain.norm_eps, 1e-6);
  EXPECT_EQ(plain.rope_scaling.type, "");
  const ModelConfig older = parse_model_config(
      "{" + shape + R"(, "rope_scaling": {"type": "llama3", "factor": 2, "low_freq_factor": 1,
                       "high_freq_factor": 2, "original_max_position_embeddings": 16}})",
      "m.json");
  EXPECT_EQ(older.rope_scaling.type, "llama3");
  EXPECT_EQ(older.rope_scaling.factor, 2.0);
  EXPECT_EQ(older.rope_scaling.high_freq_factor, 2.0);
  EXPECT_EQ(older.rope_scaling.original_max_positions, 16);
  const ModelConfig gpt2 = parse_model_config(R"({"model_type": "gpt2", "n_embd": 64, "n_layer": 1,
      "n_head": 4, "n_positions": 32, "vocab_size": 64, "layer_norm_epsilon": 1e-6})", "m.json");
  EXPECT_EQ(gpt2.norm_eps, 1e-6);
}

TEST(ModelConfigs, RopeScalingErrorsNameTheKeyAndValue) {
  const std::string shape = R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                               "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 256,
                               "max_position_embeddings": 64, )";
  const std::string dynamic = error_of([&] {
    parse_model_config(shape + R"("rope_scaling": {"rope_type": "dynamic", "factor": 2}})", "m.json");
  });
  EXPECT_TRUE(contains(dynamic, "m.json")) << dynamic;
  EXPECT_TRUE(contains(dynamic, "rope_scaling.rope_type")) << dynamic;
  EXPECT_TRUE(contains(dynamic, "dynamic")) << dynamic;
  EXPECT_EQ(dynamic.find('\n'), std::string::npos) << dynamic;

  const std::string missing = error_of([&] {
    parse_model_config(shape + R"("rope_scaling": {"rope_type": "llama3", "factor": 8,
                                  "low_freq_factor": 1, "high_freq_factor": 4}})", "m.json");
  });
  EXPECT_TRUE(contains(missing, "rope_scaling.original_max_position_embeddings")) << missing;

  const std::string inverted = error_of([&] {
    parse_model_config(shape + R"("rope_scaling": {"rope_type": "llama3", "factor": 8,
        "low_freq_factor": 4, "high_freq_factor": 1, "original_max_position_embeddings": 32}})", "m.json");
  });
  EXPECT_TRUE(contains(inverted, "rope_scaling.high_freq_factor")) << inverted;

  // Hugging Face's "default" rope type is the unscaled rotary embedding.
  const ModelConfig plain_rope =
      parse_model_config(shape + R"("rope_scaling": {"rope_type": "default"}})", "m.json");
  EXPECT_EQ(plain_rope.rope_scaling.type, "");

  const std::string bad_theta = error_of([&] { parse_model_config(shape + R"("rope_theta": -1})", "m.json"); });
  EXPECT_TRUE(contains(bad_theta, "rope_theta")) << bad_theta;
  const std::string bad_eps = error_of([&] { parse_model_config(shape + R"("rms_norm_eps": 0})", "m.json"); });
  EXPECT_TRUE(contains(bad_eps, "rms_norm_eps")) << bad_eps;
}

TEST(ModelConfigs, LoadsAPathToo) {
  const ModelConfig m = load_model(config_dir() + "/models/llama3-8b.json");
  EXPECT_EQ(m.name, "llama3-8b");
}

TEST(ModelConfigs, UnknownModelIsAnIoErrorNamingTheFlag) {
  const std::string message =
      error_of([] { load_model("no-such-model"); }, ErrorCategory::kIo);
  EXPECT_TRUE(contains(message, "--model")) << message;
  EXPECT_TRUE(contains(message, "no-such-model")) << message;
}

TEST(ModelConfigs, ErrorsNameTheKey) {
  const std::string missing_layers = error_of([] {
    parse_model_config(R"({"model_type": "gpt2", "n_embd": 768, "n_head": 12,
                           "n_positions": 1024, "vocab_size": 50257})",
                       "m.json");
  });
  EXPECT_TRUE(contains(missing_layers, "m.json")) << missing_layers;
  EXPECT_TRUE(contains(missing_layers, "n_layer")) << missing_layers;

  const std::string unsupported = error_of([] {
    parse_model_config(R"({"model_type": "t5", "d_model": 512})", "m.json");
  });
  EXPECT_TRUE(contains(unsupported, "model_type")) << unsupported;
  EXPECT_TRUE(contains(unsupported, "t5")) << unsupported;

  const std::string bad_gqa = error_of([] {
    parse_model_config(R"({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 2,
                           "num_attention_heads": 32, "num_key_value_heads": 5,
                           "intermediate_size": 11008, "vocab_size": 32000,
                           "max_position_embeddings": 4096})",
                       "m.json");
  });
  EXPECT_TRUE(contains(bad_gqa, "num_key_value_heads")) << bad_gqa;

  const std::string not_json = error_of([] { parse_model_config("{", "m.json"); });
  EXPECT_TRUE(contains(not_json, "m.json")) << not_json;
}

TEST(ClusterConfigs, ShippedClustersLoadWithSaneValues) {
  for (const char* name : {"dgx-a100-80gb", "dgx-h100", "dgx-h200"}) {
    const ClusterSpec c = load_cluster(name);
    SCOPED_TRACE(name);
    EXPECT_EQ(c.name, name);
    EXPECT_FALSE(c.source.empty());
    EXPECT_FALSE(c.gpu.name.empty());
    ASSERT_TRUE(c.gpu.peak_flops.count("bf16"));
    EXPECT_GT(c.gpu.peak_flops.at("bf16"), 100e12);
    EXPECT_EQ(c.gpu.peak_flops.at("fp16"), c.gpu.peak_flops.at("bf16"));
    EXPECT_GT(c.gpu.achievable_fraction, 0.5);
    EXPECT_LE(c.gpu.achievable_fraction, 0.9);
    EXPECT_GT(c.gpu.memory_bytes, 64 * kGiB);
    EXPECT_GT(c.gpu.memory_bandwidth_bytes_per_s, 1e12);
    EXPECT_EQ(c.gpus_per_node, 8);
    EXPECT_GT(c.intra_node.bandwidth_bytes_per_s, c.inter_node.bandwidth_bytes_per_s);
    EXPECT_GT(c.inter_node.bandwidth_bytes_per_s, 0);
    EXPECT_GT(c.intra_node.latency_s, 0);
    EXPECT_LT(c.intra_node.latency_s, 1e-4);
    EXPECT_GT(c.inter_node.latency_s, 0);
    EXPECT_LT(c.inter_node.latency_s, 1e-4);
  }
}

TEST(ClusterConfigs, DatasheetFiguresInSiUnits) {
  const ClusterSpec a100 = load_cluster("dgx-a100-80gb");
  EXPECT_DOUBLE_EQ(a100.gpu.peak_flops.at("bf16"), 312e12);
  EXPECT_FALSE(a100.gpu.peak_flops.count("fp8"));  // Ampere has no fp8
  EXPECT_DOUBLE_EQ(a100.gpu.memory_bytes, 80.0 * kGiB);
  EXPECT_DOUBLE_EQ(a100.intra_node.bandwidth_bytes_per_s, 300e9);
  EXPECT_DOUBLE_EQ(a100.inter_node.bandwidth_bytes_per_s, 25e9);

  const ClusterSpec h100 = load_cluster("dgx-h100");
  EXPECT_DOUBLE_EQ(h100.gpu.peak_flops.at("bf16"), 989e12);
  EXPECT_DOUBLE_EQ(h100.gpu.peak_flops.at("fp8"), 1979e12);
  EXPECT_DOUBLE_EQ(h100.gpu.memory_bandwidth_bytes_per_s, 3350e9);
  EXPECT_DOUBLE_EQ(h100.intra_node.bandwidth_bytes_per_s, 450e9);
  EXPECT_DOUBLE_EQ(h100.inter_node.bandwidth_bytes_per_s, 50e9);

  const ClusterSpec h200 = load_cluster("dgx-h200");
  EXPECT_EQ(h200.gpu.peak_flops, h100.gpu.peak_flops);  // the same chip and clocks
  EXPECT_GT(h200.gpu.memory_bytes, 140 * kGiB);
  EXPECT_DOUBLE_EQ(h200.gpu.memory_bandwidth_bytes_per_s, 4800e9);
}

TEST(ClusterConfigs, UnknownClusterIsAnIoErrorNamingTheFlag) {
  const std::string message =
      error_of([] { load_cluster("no-such-cluster"); }, ErrorCategory::kIo);
  EXPECT_TRUE(contains(message, "--cluster")) << message;
}

// A valid cluster file with `gpu_peaks` as the gpu's "peak_tflops" object body.
std::string cluster_json(const std::string& schema, const std::string& gpu_peaks) {
  return R"({"schema": ")" + schema + R"(", "version": 1, "name": "c",
             "gpu": {"name": "g", "peak_tflops": {)" + gpu_peaks + R"(},
                     "achievable_fraction": 0.7, "memory_gib": 80,
                     "memory_bandwidth_gb_per_s": 2000},
             "gpus_per_node": 8,
             "intra_node": {"bandwidth_gb_per_s": 300, "latency_us": 2},
             "inter_node": {"bandwidth_gb_per_s": 25, "latency_us": 5}})";
}

TEST(ClusterConfigs, ErrorsNameTheField) {
  const ClusterSpec ok = parse_cluster(cluster_json("pp.cluster", R"("bf16": 100)"), "c.json");
  EXPECT_DOUBLE_EQ(ok.gpu.peak_flops.at("bf16"), 100e12);

  const std::string no_bf16 = error_of([] {
    parse_cluster(cluster_json("pp.cluster", R"("fp16": 100)"), "c.json");
  });
  EXPECT_TRUE(contains(no_bf16, "c.json")) << no_bf16;
  EXPECT_TRUE(contains(no_bf16, "gpu.peak_tflops.bf16")) << no_bf16;

  const std::string wrong_schema = error_of([] {
    parse_cluster(cluster_json("pp.schedule", R"("bf16": 100)"), "c.json");
  });
  EXPECT_TRUE(contains(wrong_schema, "schema")) << wrong_schema;
  EXPECT_TRUE(contains(wrong_schema, "pp.cluster")) << wrong_schema;

  const std::string bad_peak = error_of([] {
    parse_cluster(cluster_json("pp.cluster", R"("bf16": "fast")"), "c.json");
  });
  EXPECT_TRUE(contains(bad_peak, "gpu.peak_tflops.bf16")) << bad_peak;
}

TEST(ModelConfigs, WrittenConfigReadsBackToTheSameModel) {
  for (const std::string& name : shipped_config_names("models")) {
    const ModelConfig m = load_model(name);
    const ModelConfig back = parse_model_config(model_config_to_json_text(m), "elsewhere/other.json");
    EXPECT_EQ(back.name, m.name);
    EXPECT_EQ(back.source, m.source) << name;
    EXPECT_EQ(back.family, m.family) << name;
    EXPECT_EQ(back.hidden, m.hidden) << name;
    EXPECT_EQ(back.layers, m.layers) << name;
    EXPECT_EQ(back.heads, m.heads) << name;
    EXPECT_EQ(back.kv_heads, m.kv_heads) << name;
    EXPECT_EQ(back.ffn_hidden, m.ffn_hidden) << name;
    EXPECT_EQ(back.vocab, m.vocab) << name;
    EXPECT_EQ(back.max_positions, m.max_positions) << name;
    EXPECT_EQ(back.tied_embeddings, m.tied_embeddings) << name;
    EXPECT_EQ(back.rope_theta, m.rope_theta) << name;
    EXPECT_EQ(back.norm_eps, m.norm_eps) << name;
    EXPECT_EQ(back.rope_scaling.type, m.rope_scaling.type) << name;
    EXPECT_EQ(back.rope_scaling.factor, m.rope_scaling.factor) << name;
    EXPECT_EQ(back.rope_scaling.low_freq_factor, m.rope_scaling.low_freq_factor) << name;
    EXPECT_EQ(back.rope_scaling.high_freq_factor, m.rope_scaling.high_freq_factor) << name;
    EXPECT_EQ(back.rope_scaling.original_max_positions, m.rope_scaling.original_max_positions) << name;
    EXPECT_EQ(back.model_type, m.model_type) << name;
    EXPECT_EQ(back.rotary_fraction(), m.rotary_fraction()) << name;
    EXPECT_EQ(back.qkv_bias, m.qkv_bias) << name;
    EXPECT_EQ(parameter_count(back), parameter_count(m)) << name;
  }
}

TEST(ModelConfigs, DenseDecoderFamiliesFromTheirOwnKeys) {
  const ModelConfig nemotron = load_model("nemotron4-340b");
  EXPECT_EQ(nemotron.family, ModelFamily::kNemotron);
  EXPECT_FALSE(nemotron.gated_mlp());
  EXPECT_FALSE(nemotron.has_biases());
  EXPECT_DOUBLE_EQ(nemotron.rotary_fraction(), 0.5);
  // Nemotron-4 340B technical report, Table 1: 331.6B non-embedding and 9.4B embedding parameters.
  const double embedding = 2.0 * 256000 * 18432;
  EXPECT_NEAR((parameter_count(nemotron) - embedding) / 1e9, 331.6, 0.05);
  EXPECT_NEAR(embedding / 1e9, 9.4, 0.05);
  const ModelConfig neox = load_model("gpt-neox-20b");
  EXPECT_EQ(neox.family, ModelFamily::kNeoX);
  EXPECT_TRUE(neox.has_biases());
  EXPECT_DOUBLE_EQ(neox.rotary_fraction(), 0.25);
  EXPECT_FALSE(neox.learned_positions());
  const ModelConfig qwen = load_model("qwen2-7b");
  EXPECT_EQ(qwen.family, ModelFamily::kLlama);
  EXPECT_TRUE(qwen.qkv_bias);
  EXPECT_EQ(qwen.model_type, "qwen2");
  EXPECT_EQ(load_model("mistral-7b").model_type, "mistral");
  // pp run builds GPT-2 and Llama layers: the others are planned only, and say why.
  EXPECT_EQ(runtime_model_gap(load_model("llama3-8b")), "");
  EXPECT_EQ(runtime_model_gap(load_model("mistral-7b")), "");
  EXPECT_TRUE(contains(runtime_model_gap(nemotron), "nemotron")) << runtime_model_gap(nemotron);
  EXPECT_TRUE(contains(runtime_model_gap(qwen), "query/key/value biases")) << runtime_model_gap(qwen);
}

TEST(ModelConfigs, MixtureOfExpertsAndEncodersAreRefusedByName) {
  const std::string mixtral = error_of([] {
    parse_model_config(R"({"model_type": "mixtral", "hidden_size": 4096, "num_local_experts": 8})", "m.json");
  });
  EXPECT_TRUE(contains(mixtral, "'mixtral' is a mixture-of-experts model")) << mixtral;
  const std::string experts = error_of([] {
    parse_model_config(R"({"model_type": "llama", "hidden_size": 4096, "num_experts": 64})", "m.json");
  });
  EXPECT_TRUE(contains(experts, "num_experts")) << experts;
  EXPECT_TRUE(contains(experts, "mixture-of-experts")) << experts;
  const std::string t5 = error_of([] { parse_model_config(R"({"model_type": "t5", "d_model": 512})", "m.json"); });
  EXPECT_TRUE(contains(t5, "'t5' has an encoder")) << t5;
  const std::string encoder = error_of([] {
    parse_model_config(R"({"model_type": "gpt2", "is_encoder_decoder": true})", "m.json");
  });
  EXPECT_TRUE(contains(encoder, "has an encoder")) << encoder;
  const std::string other = error_of([] { parse_model_config(R"({"model_type": "falcon"})", "m.json"); });
  EXPECT_TRUE(contains(other, "'falcon' is not supported (gpt2, llama, mistral, qwen2, nemotron, gpt_neox)")) << other;
  const std::string act = error_of([] {
    parse_model_config(R"({"model_type": "nemotron", "hidden_size": 64, "num_hidden_layers": 2,
                           "num_attention_heads": 4, "intermediate_size": 256, "vocab_size": 100,
                           "max_position_embeddings": 64, "hidden_act": "silu"})",
                       "m.json");
  });
  EXPECT_TRUE(contains(act, "hidden_act")) << act;
  const std::string head_dim = error_of([] {
    parse_model_config(R"({"model_type": "mistral", "hidden_size": 5120, "num_hidden_layers": 2,
                           "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
                           "intermediate_size": 14336, "vocab_size": 131072, "max_position_embeddings": 1024})",
                       "m.json");
  });
  EXPECT_TRUE(contains(head_dim, "head_dim: 128 is not the hidden size over the heads (160)")) << head_dim;
}

TEST(ModelConfigs, ShippedNamesIncludeTheReadmeExamples) {
  const std::vector<std::string> models = shipped_config_names("models");
  const std::vector<std::string> clusters = shipped_config_names("clusters");
  EXPECT_NE(std::find(models.begin(), models.end(), "gpt2-tiny"), models.end());
  EXPECT_NE(std::find(clusters.begin(), clusters.end(), "cpu-local"), clusters.end());
}

TEST(ClusterConfigs, WrittenClusterReadsBackToTheSameCluster) {
  for (const std::string& name : shipped_config_names("clusters")) {
    const ClusterSpec c = load_cluster(name);
    const ClusterSpec back = parse_cluster(cluster_to_json_text(c), "elsewhere/other.json");
    EXPECT_EQ(back.name, c.name);
    EXPECT_EQ(back.source, c.source);
    EXPECT_EQ(back.device_kind, c.device_kind) << name;
    EXPECT_EQ(back.gpu.name, c.gpu.name);
    ASSERT_EQ(back.gpu.peak_flops.size(), c.gpu.peak_flops.size()) << name;
    for (const auto& [precision, flops] : c.gpu.peak_flops) {
      EXPECT_DOUBLE_EQ(back.gpu.peak_flops.at(precision), flops) << name << " " << precision;
    }
    EXPECT_DOUBLE_EQ(back.gpu.achievable_fraction, c.gpu.achievable_fraction) << name;
    EXPECT_DOUBLE_EQ(back.gpu.memory_bytes, c.gpu.memory_bytes) << name;
    EXPECT_DOUBLE_EQ(back.gpu.memory_bandwidth_bytes_per_s, c.gpu.memory_bandwidth_bytes_per_s) << name;
    EXPECT_EQ(back.gpus_per_node, c.gpus_per_node) << name;
    EXPECT_DOUBLE_EQ(back.intra_node.bandwidth_bytes_per_s, c.intra_node.bandwidth_bytes_per_s) << name;
    EXPECT_DOUBLE_EQ(back.intra_node.latency_s, c.intra_node.latency_s) << name;
    EXPECT_DOUBLE_EQ(back.inter_node.bandwidth_bytes_per_s, c.inter_node.bandwidth_bytes_per_s) << name;
    EXPECT_DOUBLE_EQ(back.inter_node.latency_s, c.inter_node.latency_s) << name;
    EXPECT_DOUBLE_EQ(back.intra_node.bus_bandwidth_bytes_per_s, c.intra_node.bus_bandwidth_bytes_per_s) << name;
    EXPECT_DOUBLE_EQ(back.inter_node.bus_bandwidth_bytes_per_s, c.inter_node.bus_bandwidth_bytes_per_s) << name;
    const KernelEfficiency &k = c.gpu.kernels, &kb = back.gpu.kernels;
    EXPECT_EQ(kb.sm_count, k.sm_count) << name;
    EXPECT_EQ(kb.tile_m, k.tile_m) << name;
    EXPECT_EQ(kb.tile_n, k.tile_n) << name;
    EXPECT_DOUBLE_EQ(kb.gemm_k_overhead, k.gemm_k_overhead) << name;
    EXPECT_DOUBLE_EQ(kb.memory_fraction, k.memory_fraction) << name;
    EXPECT_DOUBLE_EQ(kb.attention_fraction, k.attention_fraction) << name;
    EXPECT_DOUBLE_EQ(kb.kernel_launch_s, k.kernel_launch_s) << name;
    EXPECT_DOUBLE_EQ(kb.overlap_cost, k.overlap_cost) << name;
  }
}

TEST(ClusterConfigs, KernelFieldsAreOptionalAndCheckedByName) {
  const ClusterSpec plain = parse_cluster(cluster_json("pp.cluster", R"("bf16": 100)"), "c.json");
  EXPECT_EQ(plain.gpu.kernels.sm_count, 0);  // no wave quantisation
  EXPECT_EQ(plain.gpu.kernels.memory_fraction, 1.0);
  EXPECT_EQ(plain.gpu.kernels.kernel_launch_s, 0.0);
  EXPECT_DOUBLE_EQ(plain.intra_node.bus_bandwidth_bytes_per_s, 300e9);  // the link's bandwidth
  auto with_gpu_field = [](const std::string& field) {
    std::string text = cluster_json("pp.cluster", R"("bf16": 100)");
    text.insert(text.find(R"("memory_gib")"), field + ", ");
    return text;
  };
  const ClusterSpec tuned =
      parse_cluster(with_gpu_field(R"("sm_count": 108, "gemm_tile": [128, 64], "kernel_launch_us": 3)"), "c.json");
  EXPECT_EQ(tuned.gpu.kernels.sm_count, 108);
  EXPECT_EQ(tuned.gpu.kernels.tile_m, 128);
  EXPECT_EQ(tuned.gpu.kernels.tile_n, 64);
  EXPECT_DOUBLE_EQ(tuned.gpu.kernels.kernel_launch_s, 3e-6);
  const std::string bad_tile = error_of([&] { parse_cluster(with_gpu_field(R"("gemm_tile": [128])"), "c.json"); });
  EXPECT_TRUE(contains(bad_tile, "gpu.gemm_tile")) << bad_tile;
  const std::string bad_fraction =
      error_of([&] { parse_cluster(with_gpu_field(R"("memory_fraction": 1.5)"), "c.json"); });
  EXPECT_TRUE(contains(bad_fraction, "gpu.memory_fraction")) << bad_fraction;
}

TEST(ClusterConfigs, CpuLocalIsACpuCluster) {
  EXPECT_EQ(load_cluster("cpu-local").device_kind, DeviceKind::kCpu);
  EXPECT_EQ(load_cluster("dgx-h100").device_kind, DeviceKind::kGpu);
  const std::string bad = error_of([] {
    std::string text = cluster_json("pp.cluster", R"("bf16": 100)");
    text.insert(1, R"("device_kind": "tpu", )");
    parse_cluster(text, "c.json");
  });
  EXPECT_TRUE(contains(bad, "device_kind")) << bad;
}

}  // namespace
}  // namespace pp
