// Partitioner speed: partition_layers() on heterogeneous models (random block costs, heavy
// embedding and head) with 1F1B in-flight counts (stage s keeps K - s micro-batches), under a
// memory limit that binds on the early, most loaded stages. The model and the limit are built once,
// outside the timed loop. Target (issue): 10,000 layers into 64 stages in under 10 ms.
//
// Counters: binding = stages within 1% of the limit in the result; unlimited_ms = the slowest stage
// with no limit, to set beside max_stage_ms.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "pp/planner/partitioner.h"

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// `layers` layers: blocks of random cost around 1 ms / 100 MiB of state / 10 MiB of activations,
// with an embedding and a head 3x as slow and 5x as large. With `bulky_every` > 0, every such
// layer in the last 40% keeps 2 GiB of activations: too much for the early stages even alone,
// which exercises the search's general path.
pp::PartitionRequest make_model(int layers, int stages, int bulky_every) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<> around_one(0.5, 1.5);
  pp::PartitionRequest request;
  request.stages = stages;
  for (int i = 0; i < layers; ++i) {
    pp::PartitionLayer layer{around_one(rng), 100 * kMiB * around_one(rng),
                             10 * kMiB * around_one(rng), 200 * kMiB * around_one(rng)};
    if (i == 0 || i == layers - 1) {
      layer.time_ms *= 3;
      layer.static_bytes *= 5;
    }
    if (bulky_every > 0 && i >= layers * 6 / 10 && i % bulky_every == 0) {
      layer.activation_bytes = 2048 * kMiB;
    }
    request.layers.push_back(layer);
  }
  for (int s = 0; s < stages; ++s) request.inflight.push_back(stages - s);
  return request;
}

// A limit at the median stage memory of the time-only optimum (so the early stages must shed
// layers), raised until some partition fits.
double binding_limit(pp::PartitionRequest request) {
  request.memory_limit_bytes = 0;
  std::vector<double> bytes = pp::partition_layers(request).stage_bytes;
  std::nth_element(bytes.begin(), bytes.begin() + bytes.size() / 2, bytes.end());
  request.memory_limit_bytes = bytes[bytes.size() / 2];
  while (!pp::partition_layers(request).feasible) request.memory_limit_bytes *= 1.05;
  return request.memory_limit_bytes;
}

void bm_partition(benchmark::State& state, int layers, int stages, int bulky_every) {
  pp::PartitionRequest request = make_model(layers, stages, bulky_every);
  const double unlimited_ms = pp::partition_layers(request).max_stage_ms;
  request.memory_limit_bytes = binding_limit(request);
  pp::Partition result;
  for (auto _ : state) {
    result = pp::partition_layers(request);
    benchmark::DoNotOptimize(result.first_layer.data());
    benchmark::ClobberMemory();
  }
  if (!result.feasible) return state.SkipWithError(result.why_infeasible.c_str());
  state.SetItemsProcessed(state.iterations() * layers);
  state.counters["max_stage_ms"] = result.max_stage_ms;
  state.counters["unlimited_ms"] = unlimited_ms;
  state.counters["binding"] = static_cast<double>(std::count_if(
      result.stage_bytes.begin(), result.stage_bytes.end(),
      [&](double b) { return b >= 0.99 * request.memory_limit_bytes; }));
}

BENCHMARK_CAPTURE(bm_partition, Partition_L1000_K8, 1000, 8, 0)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_partition, Partition_L10000_K64, 10000, 64, 0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_partition, Partition_L10000_K64_bulky_layers, 10000, 64, 100)
    ->Unit(benchmark::kMillisecond);

}  // namespace
