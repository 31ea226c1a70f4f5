// Schedule pipeline cost for interleaved 1F1B with K=64 ranks, M=1024 micro-batches, V=4 chunks
// (about 0.5 million compute actions, about 1 million once lowered): generating, lowering,
// validating, and all three together. Target (issue): all three together under 1 s.
//
// Note: lower_communication() validates its input itself (require_valid_schedule), so
// bm_lower includes one validation of the unlowered schedule. bm_validate/lowered times the
// validator on the lowered schedule (the full checks: messages, pair order, deadlock);
// bm_validate/unlowered on the generator's output.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>

#include "pp/lowering.h"
#include "pp/schedule.h"
#include "pp/schedule_generators.h"
#include "pp/validator.h"

namespace {

constexpr const char* kName = "interleaved";
const pp::ScheduleSpec kSpec{64, 1024, 4};

// Generates the interleaved schedule; lowers it when `lowered`. Reports an error on `state`
// (and returns an empty schedule) when the library throws.
pp::Schedule make_schedule(benchmark::State& state, bool lowered) {
  try {
    pp::Schedule schedule = pp::generate_schedule(kName, kSpec);
    return lowered ? pp::lower_communication(schedule) : schedule;
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return {};
  }
}

void set_items(benchmark::State& state, const pp::Schedule& schedule) {
  const auto actions = static_cast<std::int64_t>(schedule.action_count());
  state.SetItemsProcessed(state.iterations() * actions);
  state.counters["actions"] = static_cast<double>(actions);
}

void bm_generate(benchmark::State& state) {
  pp::Schedule schedule = make_schedule(state, false);  // fails here, not in the loop
  if (state.error_occurred()) return;
  for (auto _ : state) {
    schedule = pp::generate_schedule(kName, kSpec);
    benchmark::DoNotOptimize(schedule.actions.data());
  }
  set_items(state, schedule);
}
BENCHMARK(bm_generate)->Name("bm_generate/interleaved_K64_M1024_V4")
    ->Unit(benchmark::kMillisecond);

void bm_lower(benchmark::State& state) {
  const pp::Schedule schedule = make_schedule(state, false);
  if (state.error_occurred()) return;
  pp::Schedule lowered;
  for (auto _ : state) {
    lowered = pp::lower_communication(schedule);
    benchmark::DoNotOptimize(lowered.actions.data());
  }
  set_items(state, lowered);
}
BENCHMARK(bm_lower)->Name("bm_lower/interleaved_K64_M1024_V4")->Unit(benchmark::kMillisecond);

// Times validate_schedule() on the generator's output or (when `lowered`) the lowered schedule.
void bm_validate(benchmark::State& state, bool lowered) {
  const pp::Schedule schedule = make_schedule(state, lowered);
  if (state.error_occurred()) return;
  for (auto _ : state) {
    pp::ValidationReport report = pp::validate_schedule(schedule);
    benchmark::DoNotOptimize(report.violations.data());
    if (!report.ok()) {
      state.SkipWithError("the generated schedule does not validate");
      break;
    }
  }
  set_items(state, schedule);
}
BENCHMARK_CAPTURE(bm_validate, unlowered_interleaved_K64_M1024_V4, false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_validate, lowered_interleaved_K64_M1024_V4, true)
    ->Unit(benchmark::kMillisecond);

// generate -> lower (validates its input) -> validate the lowered schedule: what
// pp::build_schedule() plus a final check costs.
void bm_generate_lower_validate(benchmark::State& state) {
  pp::Schedule lowered = make_schedule(state, true);  // fails here, not in the loop
  if (state.error_occurred()) return;
  for (auto _ : state) {
    lowered = pp::lower_communication(pp::generate_schedule(kName, kSpec));
    pp::ValidationReport report = pp::validate_schedule(lowered);
    benchmark::DoNotOptimize(report.violations.data());
  }
  set_items(state, lowered);
}
BENCHMARK(bm_generate_lower_validate)->Name("bm_generate_lower_validate/interleaved_K64_M1024_V4")
    ->Unit(benchmark::kMillisecond);

}  // namespace
