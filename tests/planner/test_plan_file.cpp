// The plan file as pp plan writes it and every command reads it: self-contained (model and
// cluster inside), checked field by field, and the search's plans are ones pp run can execute
// where the cluster is pp run's own (CPU).
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>
#include <string>

#include "pp/error.h"
#include "pp/plan.h"
#include "pp/planner/plan_search.h"
#include "pp/profile.h"
#include "plan_request.h"

namespace pp {
namespace {

Plan best_plan(const PlanRequest& r) {
  const PlanSearchResult result = search_plans(r);
  if (result.plans.empty()) throw Error(ErrorCategory::kInternal, "no plan");
  return result.plans.front().plan;
}

// The message of the kInvalidInput error parse_plan throws for `doc`, or "(accepted)".
std::string parse_error(const nlohmann::json& doc) {
  try {
    parse_plan(doc.dump(), "p.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput) << e.what();
    return e.what();
  }
  return "(accepted)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(PlanFile, CarriesTheModelAndTheCluster) {
  PlanRequest r = request("gpt2-tiny", "cpu-local", 4, 8, 32);
  r.model.name = "config";  // as a user's ./config.json is named: no shipped model of that name
  const Plan plan = best_plan(r);
  const Plan back = parse_plan(plan_to_json_text(plan), "p.json");
  EXPECT_EQ(back.model, "config");
  EXPECT_EQ(back.model_config.name, "config");
  EXPECT_EQ(back.model_config.layers, r.model.layers);
  EXPECT_EQ(back.model_config.hidden, r.model.hidden);
  EXPECT_EQ(back.model_config.vocab, r.model.vocab);
  EXPECT_EQ(parameter_count(back.model_config), parameter_count(r.model));
  EXPECT_EQ(back.cluster_spec.name, "cpu-local");
  EXPECT_EQ(back.cluster_spec.device_kind, DeviceKind::kCpu);
  EXPECT_DOUBLE_EQ(back.cluster_spec.gpu.memory_bytes, r.cluster.gpu.memory_bytes);
  EXPECT_EQ(nlohmann::json::parse(plan_to_json_text(plan))["version"], 2);
}

TEST(PlanFile, VersionOneLoadsTheModelAndClusterByName) {
  const Plan plan = best_plan(request("gpt2-tiny", "cpu-local", 2, 8, 32));
  nlohmann::json doc = nlohmann::json::parse(plan_to_json_text(plan));
  doc["version"] = 1;
  doc.erase("model_config");
  doc.erase("cluster_spec");
  const Plan back = parse_plan(doc.dump(), "p.json");
  EXPECT_EQ(back.model_config.hidden, 64);
  EXPECT_EQ(back.cluster_spec.name, "cpu-local");

  doc["model"] = "config";
  try {
    parse_plan(doc.dump(), "p.json");
    ADD_FAILURE() << "a version 1 plan naming no loadable model was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "version 1")) << e.what();
  }
}

TEST(PlanFile, StagesAreChecked) {
  PlanRequest r = request("gpt2-tiny", "cpu-local", 4, 8, 32);
  r.fixed.pp = 4;
  const Plan plan = best_plan(r);
  ASSERT_EQ(plan.layout.pp, 4);
  const nlohmann::json good = nlohmann::json::parse(plan_to_json_text(plan));
  EXPECT_EQ(parse_error(good), "(accepted)");

  nlohmann::json doc = good;
  doc["stages"][0]["layers"][1] = 4294967303ULL;  // once read as 7
  EXPECT_TRUE(contains(parse_error(doc), "stages[0].layers")) << parse_error(doc);

  doc = good;
  doc["stages"][1]["stage"] = 0;
  EXPECT_TRUE(contains(parse_error(doc), "stages[1].stage")) << parse_error(doc);

  doc = good;
  doc["stages"][1]["rank"] = 0;
  EXPECT_TRUE(contains(parse_error(doc), "stages[1].rank")) << parse_error(doc);

  doc = good;
  doc["stages"][1]["layers"][0] = doc["stages"][1]["layers"][0].get<int>() + 1;
  EXPECT_TRUE(contains(parse_error(doc), "stages[1].layers")) << parse_error(doc);

  doc = good;
  doc["stages"].back()["layers"][1] = doc["stages"].back()["layers"][1].get<int>() - 1;
  EXPECT_TRUE(contains(parse_error(doc), "stages")) << parse_error(doc);

  doc = good;
  doc["reduce_ms"].erase(0);
  EXPECT_TRUE(contains(parse_error(doc), "reduce_ms")) << parse_error(doc);

  doc = good;
  doc["optimizer_ms"].push_back(1.0);
  EXPECT_TRUE(contains(parse_error(doc), "optimizer_ms")) << parse_error(doc);
}

TEST(PlanFile, WhatThePlannerWritesFromAFastProfileReadsBack) {
  // A profile far faster than the cluster's peak: MFU well over 100%; the file must still read.
  PlanRequest r = request("llama3-8b", "dgx-h100", 8, 8, 4096);
  MeasuredProfile measured;
  measured.microbatch_size = 1;
  measured.seq_len = 4096;
  for (int i = 0; i < r.model.layers + 2; ++i) measured.layers.push_back({"l", 1e-7, 1e-7, 0, 0, 0, 0});
  r.measured = measured;
  const Plan plan = best_plan(r);
  EXPECT_GT(plan.predicted.mfu, 10);
  EXPECT_NO_THROW(parse_plan(plan_to_json_text(plan), "p.json"));
}

TEST(Profile, ZeroTimesAreRefused) {
  const std::string zero = R"({"schema": "pp.profile", "version": 1, "microbatch_size": 1,
    "seq_len": 8, "layers": [{"fwd_ms": 0, "bwd_ms": 0, "wgrad_ms": 0, "param_bytes": 0,
    "activation_bytes": 0, "output_bytes": 0}]})";
  try {
    parse_profile(zero, "z.json");
    ADD_FAILURE() << "a profile measuring no time was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "z.json: layers")) << e.what();
  }
}

TEST(Profile, DeviceMismatchIsNamed) {
  MeasuredProfile p;
  p.device = "CPU, OpenBLAS float32, one process";
  EXPECT_FALSE(profile_device_mismatch(p, load_cluster("dgx-h100")).empty());
  EXPECT_TRUE(profile_device_mismatch(p, load_cluster("cpu-local")).empty());
  p.device = "NVIDIA H100 80GB HBM3";
  EXPECT_TRUE(profile_device_mismatch(p, load_cluster("dgx-h100")).empty());
  EXPECT_FALSE(profile_device_mismatch(p, load_cluster("cpu-local")).empty());
}

TEST(Runnable, CpuClusterPlansRunWithAnyTp) {
  const PlanSearchResult result = search_plans(request("gpt2-tiny", "cpu-local", 4, 16, 64));
  ASSERT_FALSE(result.plans.empty());
  for (const RankedPlan& p : result.plans) EXPECT_TRUE(pp_run_obstacles(p.plan).empty());
  PlanRequest r = request("gpt2-tiny", "cpu-local", 4, 16, 64);
  r.fixed.tp = 4;
  const PlanSearchResult tp4 = search_plans(r);
  ASSERT_FALSE(tp4.plans.empty());
  for (const RankedPlan& p : tp4.plans) {
    EXPECT_EQ(p.plan.layout.tp, 4);
    EXPECT_TRUE(pp_run_obstacles(p.plan).empty()) << pp_run_obstacles(p.plan).front();
  }
}

TEST(Runnable, ObstaclesSayWhatToChange) {
  Plan plan;
  plan.model_config = load_model("gpt2-tiny");  // 4 heads
  plan.seq_len = 5;
  plan.layout.microbatch_size = 1;
  plan.layout.tp = 3;
  const std::vector<std::string> why = pp_run_obstacles(plan);
  ASSERT_EQ(why.size(), 2u);
  EXPECT_TRUE(contains(why[0], "4 attention heads")) << why[0];
  EXPECT_TRUE(contains(why[1], "5 tokens")) << why[1];
  plan.layout.tp = 1;
  EXPECT_TRUE(pp_run_obstacles(plan).empty());
  plan.model_config = load_model("llama3-8b");
  EXPECT_TRUE(pp_run_obstacles(plan).empty());  // pp run trains Llama models too
  plan.model_config = load_model("llama-tiny");
  plan.model_config.ffn_hidden = 170;
  plan.seq_len = 8;
  plan.layout.tp = 4;
  ASSERT_EQ(pp_run_obstacles(plan).size(), 1u);
  EXPECT_TRUE(contains(pp_run_obstacles(plan)[0], "MLP width (170)")) << pp_run_obstacles(plan)[0];
}

TEST(PlanFile, DistributedOptimizerAndTpOverlapReadBackAndDiffer) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 16, 64, 4096);
  r.fixed.tp = 2;
  r.fixed.dp = 4;
  r.fixed.distributed_optimizer = true;
  r.fixed.tp_overlap = true;
  const Plan plan = best_plan(r);
  const Plan back = parse_plan(plan_to_json_text(plan), "p.json");
  EXPECT_TRUE(back.layout.distributed_optimizer);
  EXPECT_TRUE(back.layout.tp_overlap);
  // pp run trains the same weights, but neither shards the state nor overlaps: said, not refused.
  EXPECT_TRUE(pp_run_obstacles(back).empty());
  const std::vector<std::string> differences = pp_run_differences(back);
  ASSERT_EQ(differences.size(), 2u);
  EXPECT_TRUE(contains(differences[0], "optimizer state")) << differences[0];
  EXPECT_TRUE(contains(differences[1], "overlap")) << differences[1];
  // Plans written before these fields read as neither; overlap without sequence parallelism is refused.
  nlohmann::json doc = nlohmann::json::parse(plan_to_json_text(plan));
  doc.erase("distributed_optimizer");
  doc.erase("tp_overlap");
  EXPECT_FALSE(parse_plan(doc.dump(), "p.json").layout.distributed_optimizer);
  doc["tp_overlap"] = true;
  doc["sequence_parallel"] = false;
  EXPECT_TRUE(contains(parse_error(doc), "tp_overlap")) << parse_error(doc);
}

TEST(PlanFile, ContextParallelPlansReadBackAndPpRunSaysWhatToChange) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 16, 64, 8192);
  r.fixed.cp = 2;
  const Plan plan = best_plan(r);
  EXPECT_EQ(plan.layout.tp * plan.layout.cp * plan.layout.pp * plan.layout.dp, 16);
  const Plan back = parse_plan(plan_to_json_text(plan), "p.json");
  EXPECT_EQ(back.layout.cp, 2);
  const std::vector<std::string> why = pp_run_obstacles(back);
  ASSERT_EQ(why.size(), 1u);
  EXPECT_TRUE(contains(why[0], "--cp 1")) << why[0];
  nlohmann::json doc = nlohmann::json::parse(plan_to_json_text(plan));
  doc.erase("cp");  // plans written before cp read as cp 1
  EXPECT_EQ(parse_plan(doc.dump(), "p.json").layout.cp, 1);
  doc["cp"] = 0;
  EXPECT_TRUE(contains(parse_error(doc), "cp")) << parse_error(doc);
  doc["cp"] = 2;
  doc["seq_len"] = 8190;
  EXPECT_TRUE(contains(parse_error(doc), "cp: 2 needs seq_len a multiple of 4")) << parse_error(doc);
}

TEST(Search, FixedVirtualStagesChooseTheSchedule) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 8, 64, 2048);
  r.fixed.virtual_stages = 2;
  std::set<std::string> seen;
  for (const Layout& l : enumerate_layouts(r)) {
    EXPECT_TRUE(l.pp == 1 || l.virtual_stages == 2) << l.schedule;
    seen.insert(l.schedule);
  }
  for (const char* name : {"interleaved", "zb1p", "looped-bfs", "zb-v", "v-half", "v-min", "dualpipev"}) {
    EXPECT_TRUE(seen.count(name)) << name;
  }
  for (const char* name : {"1f1b", "zb-h1", "zb-h2", "gpipe"}) EXPECT_FALSE(seen.count(name)) << name;
  r.fixed.virtual_stages = 1;
  for (const Layout& l : enumerate_layouts(r)) {
    EXPECT_EQ(l.virtual_stages, 1) << l.schedule;
    EXPECT_TRUE(l.schedule != "interleaved" && l.schedule != "zb1p" && l.schedule != "zb-v") << l.schedule;
  }
}

TEST(Search, DeepPipelinesWinOnRecomputeAndSayWhy) {
  // llama3-405b on 16,384 H100s: one block per stage needs no recompute, which outweighs its
  // larger bubble against the published tp 8, pp 16 interleaved layout; the lines say so.
  const PlanSearchResult result = search_plans(request("llama3-405b", "dgx-h100", 16384, 2048, 8192));
  ASSERT_GE(result.plans.size(), 3u);
  const RankedPlan& best = result.plans.front();
  EXPECT_TRUE(contains(best.why, "step end")) << best.why;
  EXPECT_TRUE(contains(best.why, "recompute")) << best.why;
  bool published_listed = false;
  for (const RankedPlan& p : result.plans) {
    const Layout& l = p.plan.layout;
    if (l.tp == 8 && l.pp == 16 && l.virtual_stages > 1) {  // Meta's interleaved layout, or the same with a newer schedule
      published_listed = true;
      if (best.recompute_share < p.recompute_share) {
        EXPECT_TRUE(contains(p.why, "recompute")) << p.why;
      }
    }
  }
  EXPECT_TRUE(published_listed);
}

TEST(Search, SizeLimitsAreInputErrors) {
  PlanRequest r = request("gpt2-tiny", "cpu-local", 4, 16, 64);
  r.model.layers = kMaxPlanBlocks + 1;
  EXPECT_THROW(check_plan_request(r), Error);
  r = request("gpt2-tiny", "cpu-local", 4, 1 << 20, 64);
  r.fixed.microbatches = 1 << 20;
  EXPECT_THROW(check_plan_request(r), Error);
  r = request("gpt2-tiny", "cpu-local", 4, 1 << 20, 64);
  for (const Layout& l : enumerate_layouts(r)) {
    EXPECT_LE(1LL * l.pp * l.virtual_stages * l.microbatches, kMaxPlanStageMicrobatches);
  }
}

}  // namespace
}  // namespace pp
