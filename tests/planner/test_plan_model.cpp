// The planner's FLOP, parameter and memory model against published formulas and worked examples
// (docs/cost-model.md), and the search's promises: fixed choices kept, memory limit respected,
// infeasible requests answered with reasons, plans that simulate to their prediction.
#include <gtest/gtest.h>

#include <cmath>

#include "pp/error.h"
#include "pp/planner/memory_model.h"
#include "pp/planner/plan_search.h"
#include "pp/planner/plan_simulation.h"
#include "plan_request.h"

namespace pp {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

TEST(Flops, Gpt3MatchesMegatronFormula) {
  // Narayanan et al. 2021, eq. 3 without recompute: 72 B s l h^2 (1 + s/(6h)) + 6 B s h V.
  const ModelConfig m = load_model("gpt3-175b");
  const double b = 1, s = 2048, l = 96, h = 12288, v = 50257;
  const ModelProfile p = analytic_profile(m, 1, 2048);
  const double expected = 72 * b * s * l * h * h * (1 + s / (6 * h)) + 6 * b * s * h * v;
  EXPECT_NEAR(3 * p.forward_flops() / expected, 1.0, 1e-12);
}

TEST(Flops, LlamaMatchesPalmFormula) {
  // Chowdhery et al. 2022, appendix B: per token 6N + 12 L h s, N the matmul weights (blocks and
  // the LM head; the embedding lookup does no FLOPs).
  for (const char* name : {"llama2-7b", "llama3-8b", "llama3-70b"}) {
    const ModelConfig m = load_model(name);
    const double s = 4096;
    const double h = m.hidden, f = m.ffn_hidden, kv = m.kv_dim();
    const double block_weights = 2 * h * h + 2 * h * kv + 3 * h * f;
    const double n = m.layers * block_weights + h * m.vocab;
    const ModelProfile p = analytic_profile(m, 2, 4096);
    const double per_token = 3 * p.forward_flops() / (2 * s);
    EXPECT_NEAR(per_token / (6 * n + 12 * m.layers * h * s), 1.0, 1e-12) << name;
  }
}

TEST(Flops, LayerParametersAddUpToTheModel) {
  for (const char* name : {"gpt2-124m", "llama2-7b", "llama3-405b"}) {
    const ModelConfig m = load_model(name);
    const ModelProfile p = analytic_profile(m, 1, 128);
    double total = 0;
    for (const LayerProfile& l : p.layers) total += l.shares_embedding ? 0 : l.params;
    // A tied head's norm is still its own.
    if (m.tied_embeddings) total += m.family == ModelFamily::kGpt2 ? 2 * m.hidden : m.hidden;
    EXPECT_DOUBLE_EQ(total, double(parameter_count(m))) << name;
  }
}

TEST(Memory, KorthikantiGpt3BlockWithTensorParallelism) {
  // Korthikanti et al. 2022, with dropout and the score matrix kept: s b h (10 + 24/t + 5 a s/(h t))
  // without sequence parallelism, s b h / t (34 + 5 a s / h) with it. GPT-3: s=2048, h=12288,
  // a=96, t=8, b=1.
  const ModelConfig m = load_model("gpt3-175b");
  MemoryOptions o;
  o.dropout = true;
  o.flash_attention = false;
  o.sequence_parallel = false;
  EXPECT_DOUBLE_EQ(block_activation_bytes(m, 1, 2048, 8, o), 578813952.0);  // 25165824 * 23
  o.sequence_parallel = true;
  EXPECT_DOUBLE_EQ(block_activation_bytes(m, 1, 2048, 8, o), 358612992.0);  // 3145728 * 114
  EXPECT_DOUBLE_EQ(block_activation_bytes(m, 1, 2048, 1, o), 25165824.0 * (34 + 80));
}

TEST(Memory, Llama2BlockWorkedExample) {
  // docs/cost-model.md: Llama-2-7B, b=1, s=4096, t=1, flash attention, no dropout:
  //   8 sbh + 2 s (h + 2 kv) + 2 sbh + 6 s f + 4 a s
  //   = 134217728 + 100663296 + 33554432 + 270532608 + 524288 = 539492352 bytes (514.5 MiB)
  const ModelConfig m = load_model("llama2-7b");
  EXPECT_DOUBLE_EQ(block_activation_bytes(m, 1, 4096, 1, MemoryOptions{}), 539492352.0);
  EXPECT_DOUBLE_EQ(block_checkpoint_bytes(m, 1, 4096, 1, MemoryOptions{}), 33554432.0);
}

TEST(Memory, StaticBytesPerParameter) {
  // Megatron-LM's table for bf16 parameters and fp32 gradients: 18, and 6 + 12/d distributed.
  MemoryOptions o;
  EXPECT_DOUBLE_EQ(static_bytes_per_param(8, false, o), 18);
  EXPECT_DOUBLE_EQ(static_bytes_per_param(8, true, o), 6 + 12.0 / 8);
  o.gradient_bytes = 2;
  EXPECT_DOUBLE_EQ(static_bytes_per_param(8, false, o), 16);
}

TEST(Search, PlansRespectTheMemoryLimitAndTheFixedChoices) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 16, 128, 4096);
  r.memory_limit_bytes = 30 * kGiB;
  r.fixed.tp = 2;
  r.top = 10;
  const PlanSearchResult result = search_plans(r);
  ASSERT_FALSE(result.plans.empty());
  for (const RankedPlan& p : result.plans) {
    EXPECT_EQ(p.plan.layout.tp, 2);
    EXPECT_EQ(p.plan.layout.tp * p.plan.layout.pp * p.plan.layout.dp, 16);
    EXPECT_EQ(p.plan.layout.dp * p.plan.layout.microbatch_size * p.plan.layout.microbatches, 128);
    EXPECT_LE(p.plan.predicted.peak_memory_bytes, r.memory_limit_bytes);
    for (const StagePlan& s : p.plan.stages) EXPECT_LE(s.peak_memory_bytes, r.memory_limit_bytes);
    EXPECT_FALSE(p.why.empty());
  }
  for (std::size_t i = 1; i < result.plans.size(); ++i) {
    EXPECT_LE(result.plans[i - 1].plan.predicted.step_time_s, result.plans[i].plan.predicted.step_time_s);
  }
}

TEST(Search, StagesCoverEveryLayerOnce) {
  const PlanSearchResult result = search_plans(request("gpt3-175b", "dgx-a100-80gb", 1024, 1536, 2048));
  ASSERT_FALSE(result.plans.empty());
  const Plan& plan = result.plans.front().plan;
  int next = 0;
  for (const StagePlan& s : plan.stages) {
    EXPECT_EQ(s.first_layer, next);
    next = s.last_layer + 1;
  }
  EXPECT_EQ(next, 96 + 2);
}

TEST(Search, PredictionIsTheSimulationOfThePlan) {
  const PlanSearchResult result = search_plans(request("llama3-70b", "dgx-h100", 64, 256, 4096));
  ASSERT_FALSE(result.plans.empty());
  for (const RankedPlan& p : result.plans) {
    const SimulationResult sim = simulate_plan(p.plan);
    EXPECT_NEAR(sim.metrics.makespan_ms / 1e3, p.plan.predicted.step_time_s, 1e-9);
    const Plan back = parse_plan(plan_to_json_text(p.plan), "x");
    EXPECT_NEAR(simulate_plan(back).metrics.makespan_ms, sim.metrics.makespan_ms, 1e-6);
    const PlanPrediction& x = p.plan.predicted;
    EXPECT_NEAR(x.tokens_per_s, 256.0 * 4096 / x.step_time_s, 1e-6 * x.tokens_per_s);
    EXPECT_NEAR(x.mfu, x.model_tflops_per_gpu / 989.0, 1e-9);
    EXPECT_GE(x.hardware_tflops_per_gpu, x.model_tflops_per_gpu);
  }
}

TEST(Search, NothingFitsGivesReasonsAndWhatWouldFit) {
  const PlanSearchResult result = search_plans(request("llama3-405b", "dgx-h100", 16, 64, 8192));
  EXPECT_TRUE(result.plans.empty());
  ASSERT_GE(result.infeasible.size(), 2u);
  EXPECT_NE(result.infeasible[0].find("memory"), std::string::npos) << result.infeasible[0];
  EXPECT_NE(result.infeasible[1].find("fits on"), std::string::npos) << result.infeasible[1];
}

TEST(Search, InvalidFixedChoicesAreInputErrors) {
  auto category = [](PlanRequest r) {
    try {
      search_plans(r);
    } catch (const Error& e) {
      return e.category();
    }
    return ErrorCategory::kInternal;
  };
  PlanRequest r = request("llama3-8b", "dgx-h100", 8, 64, 2048);
  r.fixed.tp = 3;
  EXPECT_EQ(category(r), ErrorCategory::kInvalidInput);
  r.fixed.tp.reset();
  r.fixed.schedule = "nosuch";
  EXPECT_EQ(category(r), ErrorCategory::kInvalidInput);
  PlanRequest g = request("gpt2-124m", "dgx-h100", 8, 64, 4096);
  EXPECT_EQ(category(g), ErrorCategory::kInvalidInput);  // beyond GPT-2's 1024 positions
}

TEST(Search, RecomputeIsChosenOnlyWhenMemoryForcesIt) {
  PlanRequest roomy = request("llama3-8b", "dgx-h200", 8, 64, 4096);
  const PlanSearchResult a = search_plans(roomy);
  ASSERT_FALSE(a.plans.empty());
  EXPECT_EQ(a.plans.front().plan.layout.checkpoint_interval, 0);
  EXPECT_DOUBLE_EQ(a.plans.front().plan.predicted.hardware_tflops_per_gpu,
                   a.plans.front().plan.predicted.model_tflops_per_gpu);
}

}  // namespace
}  // namespace pp

namespace pp {
namespace {

MeasuredProfile uniform_measurement(const ModelConfig& m, double block_ms) {
  MeasuredProfile p;
  p.microbatch_size = 1;
  p.seq_len = 4096;
  p.layers.push_back({"embedding", 0.1, 0.2, 0.2, 0, 0, 0});
  for (int i = 0; i < m.layers; ++i) {
    p.layers.push_back({"block", block_ms, 2 * block_ms, block_ms, 0, 1e8, 0});
  }
  p.layers.push_back({"head", 1.0, 2.0, 1.0, 0, 0, 0});
  return p;
}

TEST(Profile, MeasuredTimesDriveThePlan) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 8, 64, 4096);
  r.fixed.tp = 1;
  r.fixed.pp = 8;
  r.fixed.microbatch_size = 1;
  r.fixed.checkpoint_interval = 0;
  r.fixed.schedule = "1f1b";
  r.measured = uniform_measurement(r.model, 3.0);
  r.profile_origin = "measured.json";
  const PlanSearchResult result = search_plans(r);
  ASSERT_FALSE(result.plans.empty());
  const Plan& plan = result.plans.front().plan;
  EXPECT_EQ(plan.profile, "measured.json");
  for (const StagePlan& s : plan.stages) {
    // Every stage holds 4 blocks (or the ends' extra layers): forward = 3 ms per block, plus the
    // embedding's 0.1 ms or the head's 1 ms.
    double expected = 0;
    for (int i = s.first_layer; i <= s.last_layer; ++i) {
      expected += i == 0 ? 0.1 : i == 33 ? 1.0 : 3.0;
    }
    EXPECT_NEAR(s.forward_ms, expected, 1e-9) << "stage " << s.stage;
  }
}

TEST(Profile, FileRoundTripAndErrors) {
  const ModelConfig m = load_model("llama3-8b");
  const MeasuredProfile p = uniform_measurement(m, 2.0);
  const MeasuredProfile back = parse_profile(profile_to_json_text(p), "p.json");
  ASSERT_EQ(back.layers.size(), p.layers.size());
  EXPECT_DOUBLE_EQ(back.layers[1].bwd_ms, 4.0);
  auto error_of = [](const std::string& text) {
    try {
      parse_profile(text, "p.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(error_of(R"({"schema": "pp.profile", "version": 1, "microbatch_size": 1, "seq_len": 8,
                       "layers": [{"fwd_ms": 1, "bwd_ms": 1, "wgrad_ms": 2, "param_bytes": 0,
                       "activation_bytes": 0, "output_bytes": 0}]})")
                .find("layers[0].wgrad_ms"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"schema": "pp.profile", "version": 1, "microbatch_size": 1, "seq_len": 8,
                       "layers": []})")
                .find("layers"),
            std::string::npos);
  PlanRequest r = request("llama3-8b", "dgx-h100", 8, 64, 4096);
  MeasuredProfile short_profile = p;
  short_profile.layers.pop_back();
  r.measured = short_profile;
  try {
    search_plans(r);
    FAIL() << "a profile with the wrong layer count was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--profile"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pp
