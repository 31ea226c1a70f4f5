// Simulator throughput: how many schedule actions pp::simulate() turns into timeline events per
// second (items_per_second), on lowered schedules of the published kinds. The schedule and the
// cost model are built once, outside the timed loop. Target (issue): >= 5 million actions/s on one
// core. Also times compute_metrics() over the largest simulated timeline (items = events).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <string>

#include "pp/planner/cost_model.h"
#include "pp/planner/simulation_request.h"
#include "pp/planner/simulator.h"
#include "pp/schedule.h"
#include "pp/timeline.h"

namespace {

// Uniform per-rank costs: F 1 ms, B 2 ms (W half of it), 0.1 ms per point-to-point transfer.
pp::PerRankCosts bench_costs() {
  pp::PerRankCosts costs;
  costs.forward_ms = {1.0};
  costs.backward_ms = {2.0};
  costs.p2p_ms = {0.1};
  return costs;
}

// A lowered, validated schedule and its cost model, built once per benchmark.
struct SimulationInput {
  pp::Schedule schedule;
  pp::CostModel costs;
};

SimulationInput make_input(const std::string& name, int ranks, int microbatches, int chunks) {
  SimulationInput input;
  input.schedule = pp::build_schedule(name, {ranks, microbatches, chunks});
  input.costs = pp::per_rank_cost_model(input.schedule, bench_costs());
  return input;
}

// Times simulate() on schedule `name` with K ranks, M micro-batches and V chunks per rank.
void bm_simulate(benchmark::State& state, const std::string& name, int ranks, int microbatches,
                 int chunks) {
  SimulationInput input;
  try {
    input = make_input(name, ranks, microbatches, chunks);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) {
    pp::Timeline timeline = pp::simulate(input.schedule, input.costs);
    benchmark::DoNotOptimize(timeline.events.data());
    benchmark::ClobberMemory();
  }
  const auto actions = static_cast<std::int64_t>(input.schedule.action_count());
  state.SetItemsProcessed(state.iterations() * actions);
  state.counters["actions"] = static_cast<double>(actions);
}

BENCHMARK_CAPTURE(bm_simulate, 1f1b_K8_M64, "1f1b", 8, 64, 1)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_simulate, interleaved_K64_M1024_V4, "interleaved", 64, 1024, 4)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_simulate, zb_h1_K32_M256, "zb-h1", 32, 256, 1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_simulate, gpipe_K16_M512, "gpipe", 16, 512, 1)
    ->Unit(benchmark::kMillisecond);

// Times compute_metrics() on the simulated timeline of interleaved K=64, M=1024, V=4.
void bm_compute_metrics(benchmark::State& state) {
  pp::Timeline timeline;
  try {
    const SimulationInput input = make_input("interleaved", 64, 1024, 4);
    timeline = pp::simulate(input.schedule, input.costs);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) {
    pp::TimelineMetrics metrics = pp::compute_metrics(timeline);
    benchmark::DoNotOptimize(metrics.ranks.data());
    benchmark::ClobberMemory();
  }
  const auto events = static_cast<std::int64_t>(timeline.events.size());
  state.SetItemsProcessed(state.iterations() * events);
  state.counters["events"] = static_cast<double>(events);
}

BENCHMARK(bm_compute_metrics)->Name("bm_compute_metrics/interleaved_K64_M1024_V4")
    ->Unit(benchmark::kMillisecond);

}  // namespace
