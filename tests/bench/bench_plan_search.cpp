// The planner's speed: a full auto search must stay interactive (target: a 175B model on 1,024
// GPUs in under 1 s on one core).
#include <benchmark/benchmark.h>

#include "pp/planner/plan_search.h"
#include "../planner/plan_request.h"

namespace {

using pp::request;

void run(benchmark::State& state, const pp::PlanRequest& r) {
  long long layouts = 0;
  for (auto _ : state) {
    const pp::PlanSearchResult result = pp::search_plans(r);
    benchmark::DoNotOptimize(result.plans.data());
    layouts = result.layouts;
  }
  state.counters["layouts"] = static_cast<double>(layouts);
}

void bm_plan_gpt3_175b_1024_gpus(benchmark::State& state) {
  run(state, request("gpt3-175b", "dgx-a100-80gb", 1024, 1536, 2048));
}
BENCHMARK(bm_plan_gpt3_175b_1024_gpus)->Unit(benchmark::kMillisecond);

void bm_plan_llama3_405b_16384_gpus(benchmark::State& state) {
  run(state, request("llama3-405b", "dgx-h100", 16384, 2048, 8192));
}
BENCHMARK(bm_plan_llama3_405b_16384_gpus)->Unit(benchmark::kMillisecond);

void bm_plan_llama3_8b_64_gpus(benchmark::State& state) {
  run(state, request("llama3-8b", "dgx-h100", 64, 512, 8192));
}
BENCHMARK(bm_plan_llama3_8b_64_gpus)->Unit(benchmark::kMillisecond);

// Long context: 128K-token sequences, where the search tries cp up to 32.
void bm_plan_llama3_405b_16384_gpus_128k(benchmark::State& state) {
  run(state, request("llama3-405b", "dgx-h100", 16384, 128, 131072));
}
BENCHMARK(bm_plan_llama3_405b_16384_gpus_128k)->Unit(benchmark::kMillisecond);

}  // namespace
