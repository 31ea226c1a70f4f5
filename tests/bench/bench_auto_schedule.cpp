// The auto scheduler (pp simulate --schedule auto). Targets (issue): K=16, M=64 in under 1 s; its
// makespan against the fastest catalogue schedule that fits the same memory and against the lower
// bound, on unequal-stage instances. Counters (ms, and the ratios):
//   auto_ms, catalogue_ms (0: none fits), bound_ms, vs_catalogue = auto/catalogue - 1,
//   vs_bound = auto/bound - 1.
#include <benchmark/benchmark.h>

#include <exception>
#include <string>
#include <vector>

#include "pp/planner/schedule_search.h"

namespace {

struct Instance {
  const char* name;
  int ranks;
  int microbatches;
  double memory_limit;  // micro-batches per rank; 0: K
  std::vector<double> f, b, w;
  double p2p;
};

// Stage costs with a light embedding stage (0.6x) and a heavy head stage (1.6x), else 1 and 2.
std::vector<double> ends(int k, double middle, double first, double last) {
  std::vector<double> v(k, middle);
  v.front() = first;
  v.back() = last;
  return v;
}

std::vector<double> ramp(int k, double low, double high) {  // uneven middles
  std::vector<double> v(k);
  for (int i = 0; i < k; ++i) v[i] = low + (high - low) * ((i * 7) % k) / (k - 1);
  return v;
}

const std::vector<Instance>& instances() {
  static const std::vector<Instance> all = {
      {"K16_M64_head1.6_limit16", 16, 64, 0, ends(16, 1, 0.6, 1.6), ends(16, 2, 1.2, 3.2), {}, 0.05},
      {"K16_M64_head1.6_limit8", 16, 64, 8, ends(16, 1, 0.6, 1.6), ends(16, 2, 1.2, 3.2), {}, 0.05},
      {"K16_M64_head1.6_limit4", 16, 64, 4, ends(16, 1, 0.6, 1.6), ends(16, 2, 1.2, 3.2), {}, 0.05},
      {"K8_M32_uneven_limit8", 8, 32, 0, ramp(8, 0.8, 1.3), ramp(8, 1.6, 2.6), ramp(8, 0.6, 1.0), 0},
      {"K8_M32_uneven_limit4", 8, 32, 4, ramp(8, 0.8, 1.3), ramp(8, 1.6, 2.6), ramp(8, 0.6, 1.0), 0},
      {"K8_M32_uneven_limit3", 8, 32, 3, ramp(8, 0.8, 1.3), ramp(8, 1.6, 2.6), ramp(8, 0.6, 1.0), 0},
      {"K4_M16_head2_limit2", 4, 16, 2, ends(4, 1, 1, 2), ends(4, 2, 2, 4), {}, 0.1},
  };
  return all;
}

void bm_auto_schedule(benchmark::State& state) {
  const Instance& in = instances()[static_cast<std::size_t>(state.range(0))];
  state.SetLabel(in.name);
  pp::AutoScheduleRequest r{in.ranks, in.microbatches, {in.f, in.b, in.w, {in.p2p}, 0, 0}, in.memory_limit};
  pp::AutoScheduleResult a;
  try {
    for (auto _ : state) {
      a = pp::auto_schedule(r);
      benchmark::DoNotOptimize(a.schedule.actions.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const double catalogue = a.best_catalogue ? a.best_catalogue->makespan_ms : 0;
  state.counters["auto_ms"] = a.makespan_ms;
  state.counters["catalogue_ms"] = catalogue;
  state.counters["bound_ms"] = a.lower_bound_ms;
  state.counters["vs_catalogue"] = catalogue > 0 ? a.makespan_ms / catalogue - 1 : 0;
  state.counters["vs_bound"] = a.makespan_ms / a.lower_bound_ms - 1;
}
BENCHMARK(bm_auto_schedule)->DenseRange(0, 6)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
