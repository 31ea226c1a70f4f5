// The executor's own cost per action: a one-rank pipeline of a minimal GPT-2 (hidden 8, one
// token per sequence) so that an action's compute is a few hundred nanoseconds, run for a step of
// many micro-batches. Reported: wall time per action (dispatch, bookkeeping, the timeline record
// and the tiny compute together; the target for dispatch is under 20 us).
#include <benchmark/benchmark.h>

#include "pp/lowering.h"
#include "pp/runtime/executor.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/stage_model.h"
#include "pp/schedule_generators.h"
#include "runtime/small_gpt2.h"

namespace {

pp::ModelConfig minimal_model() { return pp::test::small_gpt2(8, 1, 1, 16, 4); }

void bm_executor_per_action(benchmark::State& state) {
  pp::mpi_initialize(nullptr, nullptr);
  auto world = pp::mpi_world();
  const int microbatches = static_cast<int>(state.range(0));
  const pp::ModelConfig model = minimal_model();
  const pp::Schedule schedule =
      pp::lower_communication(pp::generate_schedule("1f1b", {1, microbatches, 1}));
  pp::ParameterSet parameters = pp::gpt2_parameters(model, 0, 2);
  pp::init_gpt2(&parameters, 1, 1);
  pp::StageModel stage(model, 0, 2, 1, 1, 0, &parameters);
  const auto buffers = pp::make_host_buffer_pool(stage.activation_floats());
  pp::ExecutorSetup setup;
  setup.schedule = &schedule;
  setup.chunks = {&stage};
  setup.buffers = buffers.get();
  setup.pipeline = world.get();
  pp::Executor executor(std::move(setup));
  std::vector<std::int32_t> tokens(microbatches, 3), targets(microbatches, 5);
  pp::StepInputs inputs{tokens.data(), targets.data(), 1.0f / microbatches};
  for (auto _ : state) {
    parameters.zero_grad();
    benchmark::DoNotOptimize(executor.run_step(inputs, [](pp::ActionKind) {}).loss_sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(schedule.action_count()));
  state.counters["seconds_per_action"] = benchmark::Counter(
      static_cast<double>(schedule.action_count()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(bm_executor_per_action)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace
