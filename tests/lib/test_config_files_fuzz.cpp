// Deterministic mutation fuzzing of the model config, cluster file and profile parsers (runs in
// every CI build; the libFuzzer targets in tests/fuzz/ explore further where clang is available).
//
// Seeds: the shipped configs under configs/ as they are on disk, and files written by pp's own
// writers. Each is mutated (tests/fuzz/mutator.h) and checked against the contract of
// tests/fuzz/format_checks.h: return or throw pp::Error(kInvalidInput), never another exception;
// what is accepted survives a write/parse/write round trip unchanged.

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz/format_checks.h"
#include "fuzz/mutation_test.h"
#include "pp/cluster.h"
#include "pp/file_io.h"
#include "pp/model.h"
#include "pp/profile.h"

namespace {

constexpr int kMutationsPerSeed = 1500;

std::string shipped(const std::string& kind, const std::string& name) {
  return pp::read_text_file(pp::config_dir() + "/" + kind + "/" + name + ".json", "shipped config");
}

const auto kCheckModel = [](std::string_view text, int* accepted) {
  return pp_test::check_model_config(text, accepted);
};
const auto kCheckCluster = [](std::string_view text, int* accepted) {
  return pp_test::check_cluster(text, accepted);
};
const auto kCheckProfile = [](std::string_view text, int* accepted) {
  return pp_test::check_profile(text, accepted);
};

std::vector<std::string> model_strings() {
  return {"\"model_type\"", "\"gpt2\"", "\"llama\"", "\"n_embd\"", "\"n_layer\"", "\"n_head\"",
          "\"n_inner\"", "\"vocab_size\"", "\"n_positions\"", "\"hidden_size\"",
          "\"num_hidden_layers\"", "\"num_attention_heads\"", "\"num_key_value_heads\"",
          "\"intermediate_size\"", "\"max_position_embeddings\"", "\"tie_word_embeddings\"",
          "\"pp_name\"", "\"pp_source\"", "\"rope_theta\"", "\"rms_norm_eps\"",
          "\"layer_norm_epsilon\"", "\"rope_scaling\"", "\"rope_type\"", "\"llama3\"",
          "\"factor\"", "\"low_freq_factor\"", "\"high_freq_factor\"",
          "\"original_max_position_embeddings\"", "false"};
}

std::vector<std::string> cluster_strings() {
  return {"\"pp.cluster\"", "\"gpu\"", "\"cpu\"", "\"device_kind\"", "\"peak_tflops\"", "\"bf16\"",
          "\"fp8\"", "\"achievable_fraction\"", "\"memory_gib\"", "\"memory_bandwidth_gb_per_s\"",
          "\"gpus_per_node\"", "\"intra_node\"", "\"inter_node\"", "\"bandwidth_gb_per_s\"",
          "\"latency_us\"", "\"source\"", "\"b\\u0000f16\""};
}

std::vector<std::string> profile_strings() {
  return {"\"pp.profile\"", "\"microbatch_size\"", "\"seq_len\"", "\"device\"", "\"layers\"",
          "\"fwd_ms\"", "\"bwd_ms\"", "\"wgrad_ms\"", "\"param_bytes\"", "\"activation_bytes\"",
          "\"output_bytes\"", "\"cpu\""};
}

// A small profile as pp profile writes it: embedding, two blocks, head.
std::string written_profile() {
  pp::MeasuredProfile p;
  p.microbatch_size = 2;
  p.seq_len = 64;
  p.device = "CPU (fuzz seed)";
  p.layers = {{"embedding", 0.01, 0.02, 0.02, 1e5, 0, 4096},
              {"block 0", 0.5, 1.0, 0.5, 2e6, 3e5, 4096},
              {"block 1", 0.5, 1.0, 0.5, 2e6, 3e5, 4096},
              {"head", 0.2, 0.4, 0.2, 1e5, 1e4, 0}};
  return pp::profile_to_json_text(p);
}

TEST(ModelConfigFuzz, ShippedAndWrittenConfigsMutated) {
  std::uint64_t seed = 0x30de1000u;
  for (const char* name : {"gpt2-124m", "llama3-8b", "llama2-70b", "llama-tiny"}) {
    const int accepted = pp_test::run_mutations(
        name, shipped("models", name), pp_test::Mutator(++seed, model_strings()), kMutationsPerSeed,
        kCheckModel);
    EXPECT_GT(accepted, kMutationsPerSeed / 50) << name << ": mutations must reach the field checks";
  }
  const std::string written = pp::model_config_to_json_text(pp::load_model("gpt2-tiny"));
  pp_test::run_mutations("written gpt2-tiny", written, pp_test::Mutator(++seed, model_strings()),
                         kMutationsPerSeed, kCheckModel);
}

TEST(ClusterFuzz, ShippedAndWrittenClustersMutated) {
  std::uint64_t seed = 0xc1057e00u;
  for (const char* name : {"dgx-h100", "cpu-local"}) {
    const int accepted = pp_test::run_mutations(
        name, shipped("clusters", name), pp_test::Mutator(++seed, cluster_strings()),
        kMutationsPerSeed, kCheckCluster);
    EXPECT_GT(accepted, kMutationsPerSeed / 50) << name << ": mutations must reach the field checks";
  }
  const std::string written = pp::cluster_to_json_text(pp::load_cluster("dgx-a100-80gb"));
  pp_test::run_mutations("written dgx-a100-80gb", written,
                         pp_test::Mutator(++seed, cluster_strings()), kMutationsPerSeed, kCheckCluster);
}

TEST(ProfileFuzz, WrittenProfileMutated) {
  const int accepted =
      pp_test::run_mutations("written profile", written_profile(),
                             pp_test::Mutator(0x9f0f1e00u, profile_strings()), 2 * kMutationsPerSeed,
                             kCheckProfile);
  EXPECT_GT(accepted, kMutationsPerSeed / 50) << "mutations must reach the field checks";
}

// Hand-picked numbers and shapes that random mutation rarely reaches, for all three formats.
TEST(ConfigFilesHostile, ExtremeNumbersAndDeepNestingAreRejectedCleanly) {
  const std::string gpt2 = R"({"model_type": "gpt2", "n_layer": 2, "n_head": 2, "vocab_size": 64,
                               "n_positions": 32, "n_embd": )";
  const std::string profile = R"({"schema": "pp.profile", "version": 1, "microbatch_size": 1,
      "seq_len": 8, "layers": [{"fwd_ms": 1, "bwd_ms": 2, "param_bytes": 0, "activation_bytes": 0,
      "output_bytes": 0, "wgrad_ms": )";
  for (const char* number : {"1e400", "-1e400", "1e-400", "-0", "-0.0", "18446744073709551615",
                             "123456789012345678901234567890", "4611686018427387905", "1.5"}) {
    EXPECT_EQ(pp_test::check_model_config(gpt2 + number + "}"), "") << number;
    EXPECT_EQ(pp_test::check_profile(profile + number + "}]}"), "") << number;
  }
  for (const std::string& text : {std::string(100000, '['), std::string(50000, '{'),
                                  std::string(40000, '[') + std::string(40000, ']'), std::string(),
                                  std::string("\xef\xbb\xbf{}"), std::string("{\"a\":\"\xff\"}")}) {
    EXPECT_EQ(pp_test::check_model_config(text), "");
    EXPECT_EQ(pp_test::check_cluster(text), "");
    EXPECT_EQ(pp_test::check_profile(text), "");
  }
}

// Found by the cluster fuzzer: the figures a cluster file gives in GB/s, us, TFLOP/s and GiB went
// through inexact unit conversions, so writing a cluster read from a file (as every plan carries
// one) changed 0.1 us into 0.09999999999999999 us, and each further read and write drifted it on.
TEST(ClusterFileRoundTrip, FiguresAreWrittenBackAsTheFileGaveThem) {
  const nlohmann::json shipped_cluster = nlohmann::json::parse(shipped("clusters", "cpu-local"));
  for (const double figure : {0.1, 0.3, 0.7, 19.0, 123.456, 0.001, 1e6, 0.00123, 3.3}) {
    nlohmann::json doc = shipped_cluster;
    doc["intra_node"]["latency_us"] = figure;
    doc["inter_node"]["bandwidth_gb_per_s"] = figure;
    doc["gpu"]["memory_bandwidth_gb_per_s"] = figure;
    doc["gpu"]["peak_tflops"]["bf16"] = figure;
    doc["gpu"]["memory_gib"] = figure;
    EXPECT_EQ(pp_test::check_cluster(doc.dump()), "") << figure;
    const nlohmann::json written =
        nlohmann::json::parse(pp::cluster_to_json_text(pp::parse_cluster(doc.dump(), "c.json")));
    EXPECT_EQ(written["intra_node"]["latency_us"].get<double>(), figure);
    EXPECT_EQ(written["inter_node"]["bandwidth_gb_per_s"].get<double>(), figure);
    EXPECT_EQ(written["gpu"]["memory_bandwidth_gb_per_s"].get<double>(), figure);
    EXPECT_EQ(written["gpu"]["peak_tflops"]["bf16"].get<double>(), figure);
    EXPECT_EQ(written["gpu"]["memory_gib"].get<double>(), figure);
  }
}

}  // namespace
