// Llama's parameters as Hugging Face's LlamaForCausalLM names and shapes them, a tied head's own
// copy of the embedding, bad models and layer ranges refused, and Hugging Face's initialisation,
// deterministic per tensor name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "pp/error.h"
#include "pp/model.h"
#include "pp/runtime/llama_parameters.h"
#include "pp/runtime/parameters.h"

namespace pp {
namespace {

// ---- parameters ----

TEST(LlamaParameters, NamesAndShapesMatchHuggingFaceForLlamaTiny) {
  const ModelConfig m = load_model("llama-tiny");
  const ParameterSet whole = llama_parameters(m, 0, m.layers + 1);
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> want = {{"model.embed_tokens.weight", {512, 64}}};
  for (int i = 0; i < 4; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    want.push_back({p + "input_layernorm.weight", {64}});
    want.push_back({p + "self_attn.q_proj.weight", {64, 64}});
    want.push_back({p + "self_attn.k_proj.weight", {32, 64}});  // 2 kv heads of dim 16
    want.push_back({p + "self_attn.v_proj.weight", {32, 64}});
    want.push_back({p + "self_attn.o_proj.weight", {64, 64}});
    want.push_back({p + "post_attention_layernorm.weight", {64}});
    want.push_back({p + "mlp.gate_proj.weight", {176, 64}});
    want.push_back({p + "mlp.up_proj.weight", {176, 64}});
    want.push_back({p + "mlp.down_proj.weight", {64, 176}});
  }
  want.push_back({"model.norm.weight", {64}});
  want.push_back({"lm_head.weight", {512, 64}});
  ASSERT_EQ(whole.tensors.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(whole.tensors[i].name, want[i].first) << i;
    EXPECT_EQ(whole.tensors[i].shape, want[i].second) << want[i].first;
    EXPECT_EQ(whole.tensors[i].grad.size(), whole.tensors[i].data.size()) << want[i].first;
  }
  EXPECT_EQ(static_cast<long long>(whole.parameter_count()), parameter_count(m));
  // Stages: the head stage without layer 0 (untied) holds no embedding; block indices are global.
  const ParameterSet head = llama_parameters(m, 3, 5);
  ASSERT_EQ(head.tensors.size(), 2u * 9 + 2);
  EXPECT_EQ(head.tensors.front().name, "model.layers.2.input_layernorm.weight");
  EXPECT_EQ(head.tensors.back().name, "lm_head.weight");
}

TEST(LlamaParameters, ATiedHeadHoldsItsOwnEmbeddingCopy) {
  ModelConfig m = load_model("llama-tiny");
  m.tied_embeddings = true;
  const ParameterSet head = llama_parameters(m, 5, 5);
  ASSERT_EQ(head.tensors.size(), 2u);
  EXPECT_EQ(head.tensors[0].name, "model.norm.weight");
  EXPECT_EQ(head.tensors[1].name, "model.embed_tokens.weight");
  EXPECT_EQ(head.tensors[1].shape, (std::vector<std::int64_t>{512, 64}));
  const ParameterSet whole = llama_parameters(m, 0, 5);
  EXPECT_EQ(whole.find("lm_head.weight"), nullptr);
  EXPECT_EQ(static_cast<long long>(whole.parameter_count()), parameter_count(m));
}

TEST(LlamaParameters, RejectsOtherModelsAndLayerRanges) {
  const ModelConfig m = load_model("llama-tiny");
  for (auto [first, last] : {std::pair{-1, 2}, std::pair{0, 6}, std::pair{3, 2}}) {
    try {
      llama_parameters(m, first, last);
      ADD_FAILURE() << first << ".." << last << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    }
  }
  try {
    llama_parameters(load_model("gpt2-tiny"), 0, 1);
    ADD_FAILURE() << "GPT-2 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("gpt2-tiny"), std::string::npos) << e.what();
  }
}

TEST(LlamaParameters, InitIsHuggingFacesAndDeterministicPerName) {
  const ModelConfig m = load_model("llama-tiny");
  ParameterSet whole = llama_parameters(m, 0, 5);
  init_llama(&whole, 42);
  for (const Tensor& t : whole.tensors) {
    if (t.shape.size() == 1) {
      EXPECT_EQ(t.data, std::vector<float>(t.size(), 1.0f)) << t.name;
      continue;
    }
    double sum = 0, squares = 0;
    for (float v : t.data) {
      sum += v;
      squares += double(v) * v;
    }
    const double n = double(t.size());
    // Sample mean and standard deviation of >= 2048 draws of N(0, 0.02): within 5 standard errors.
    EXPECT_NEAR(sum / n, 0.0, 5 * 0.02 / std::sqrt(n)) << t.name;
    EXPECT_NEAR(std::sqrt(squares / n), 0.02, 5 * 0.02 / std::sqrt(2 * n)) << t.name;
  }
  ParameterSet stage = llama_parameters(m, 2, 5);  // another layout: the same values per name
  init_llama(&stage, 42);
  for (const Tensor& t : stage.tensors) EXPECT_EQ(t.data, whole.at(t.name).data) << t.name;
  ParameterSet other = llama_parameters(m, 2, 5);
  init_llama(&other, 43);
  EXPECT_NE(other.at("lm_head.weight").data, stage.at("lm_head.weight").data);
}

}  // namespace
}  // namespace pp
