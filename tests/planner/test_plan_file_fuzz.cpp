// Deterministic mutation fuzzing of the plan file parser (runs in every CI build; the libFuzzer
// target tests/fuzz/fuzz_plan.cpp explores further where clang is available).
//
// Seeds: version 2 plans written by plan_to_json_text() for the best plans pp plan finds (a
// GPT-2 on the CPU cluster, a Llama with interleaving on a DGX), and a version 1 plan naming
// shipped configs. Each is mutated (tests/fuzz/mutator.h) and checked against the contract of
// tests/fuzz/format_checks.h: return or throw pp::Error (kInvalidInput; kIo where a version 1
// plan names a model or cluster that cannot be loaded), never another exception; what is accepted
// survives a write/parse/write round trip unchanged.

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz/format_checks.h"
#include "fuzz/mutation_test.h"
#include "pp/error.h"
#include "pp/plan.h"
#include "pp/planner/plan_search.h"
#include "plan_request.h"

namespace {

constexpr int kMutationsPerSeed = 1500;

std::string best_plan_text(const char* model, const char* cluster, int gpus, int batch, int seq,
                           int virtual_stages) {
  pp::PlanRequest r = pp::request(model, cluster, gpus, batch, seq);
  if (virtual_stages > 0) r.fixed.virtual_stages = virtual_stages;  // 0: the search's choice
  const pp::PlanSearchResult result = pp::search_plans(r);
  if (result.plans.empty()) throw pp::Error(pp::ErrorCategory::kInternal, "no plan for a seed");
  return pp::plan_to_json_text(result.plans.front().plan);
}

// The version 2 text as a version 1 plan: no embedded model and cluster, names only.
std::string as_version_1(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text);
  doc["version"] = 1;
  doc.erase("model_config");
  doc.erase("cluster_spec");
  return doc.dump(1);
}

std::vector<std::string> plan_strings() {
  return {"\"pp.plan\"", "\"model\"", "\"cluster\"", "\"gpus\"", "\"global_batch\"", "\"seq_len\"",
          "\"tp\"", "\"pp\"", "\"dp\"", "\"microbatch_size\"", "\"microbatches\"", "\"schedule\"",
          "\"virtual_stages\"", "\"checkpoint_interval\"", "\"stages\"", "\"stage\"", "\"rank\"",
          "\"layers\"", "\"forward_ms\"", "\"backward_ms\"", "\"wgrad_ms\"", "\"p2p_ms\"",
          "\"reduce_ms\"", "\"optimizer_ms\"", "\"predicted\"", "\"model_config\"",
          "\"cluster_spec\"", "\"n_layer\"", "\"num_hidden_layers\"", "\"gpt2-tiny\"",
          "\"cpu-local\"", "\"../models/gpt2-tiny\"", "\"/dev/null\"", "\"interleaved\""};
}

const auto kCheckPlan = [](std::string_view text, int* accepted) {
  return pp_test::check_plan(text, accepted);
};

TEST(PlanFileFuzz, WrittenPlansMutated) {
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"gpt2-tiny on cpu-local", best_plan_text("gpt2-tiny", "cpu-local", 4, 8, 32, 0)},
      {"llama3-8b on dgx-h100, V 2", best_plan_text("llama3-8b", "dgx-h100", 8, 64, 2048, 2)},
      {"version 1 gpt2-tiny", as_version_1(best_plan_text("gpt2-tiny", "cpu-local", 2, 4, 16, 0))}};
  std::uint64_t seed = 0x91a70000u;
  for (const auto& [label, text] : seeds) {
    const int accepted = pp_test::run_mutations(label, text, pp_test::Mutator(++seed, plan_strings()),
                                                kMutationsPerSeed, kCheckPlan);
    EXPECT_GT(accepted, kMutationsPerSeed / 50) << label << ": mutations must reach the field checks";
  }
}

// Hand-picked numbers that random mutation rarely reaches, in every numeric field of a plan.
TEST(PlanFileHostile, ExtremeNumbersInAnyFieldAreRejectedCleanly) {
  const nlohmann::json plan = nlohmann::json::parse(best_plan_text("gpt2-tiny", "cpu-local", 2, 4, 16, 0));
  for (const char* number : {"1e400", "-1e400", "1e-400", "-0", "18446744073709551615",
                             "123456789012345678901234567890", "4611686018427387905", "2.5"}) {
    for (const char* key : {"gpus", "global_batch", "seq_len", "tp", "pp", "dp", "microbatch_size",
                            "microbatches", "virtual_stages", "checkpoint_interval"}) {
      nlohmann::json doc = plan;
      doc[key] = 12345;
      std::string text = doc.dump();
      text.replace(text.find("12345"), 5, number);
      EXPECT_EQ(pp_test::check_plan(text), "") << key << " = " << number;
    }
  }
}

}  // namespace
