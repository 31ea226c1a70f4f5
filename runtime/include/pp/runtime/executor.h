#pragma once
// The executor: the one loop that runs a schedule. It interprets this rank's lowered action list
// from the IR (the same list the simulator consumes), runs each chunk's StageCompute, exchanges
// activations and gradients through the Transport (receives posted ahead where the transport
// allows it), and records a Timeline of what really ran (the simulator's format, source
// "measured"). It holds Buffers from the backend's pool and never reads their values, so the
// same loop drives host and device memory.
//
// Step-end actions (REDUCE, STEP) are handed back to the caller, which owns the collectives and
// the optimizer, at the point of the list where they stand.

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "pp/runtime/stage_compute.h"
#include "pp/runtime/transport.h"
#include "pp/schedule.h"
#include "pp/timeline.h"

namespace pp {

struct ExecutorSetup {
  const Schedule* schedule = nullptr;  // lowered and valid; outlives the executor
  int pipeline_rank = 0;               // this rank's list in the schedule
  std::vector<StageCompute*> chunks;   // per local chunk c (placement[pipeline_rank][c])
  BufferPool* buffers = nullptr;       // the backend's, of activation_floats() each; outlives it
  Transport* pipeline = nullptr;       // the ranks of this pipeline, ranked by pipeline rank
  int microbatch_size = 1;             // b
  int seq_len = 1;                     // T
  int recv_lookahead = 8;              // receives posted ahead of their use
  std::function<void()> drain;         // optional: waits for the backend's queued work (before losses are read)
};

struct StepInputs {
  const std::int32_t* tokens = nullptr;   // (M*b, T) of this replica; micro-batch j = rows j*b..
  const std::int32_t* targets = nullptr;  // (M*b, T)
  float loss_scale = 1;                   // 1 / tokens of the global batch
};

struct StepRecord {
  double loss_sum = 0;                 // summed token losses (ranks holding the head), else 0
  std::vector<TimelineEvent> events;   // this rank's actions; ms from the step's start
};

class Executor {
 public:
  explicit Executor(ExecutorSetup setup);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs one global batch: every action of this rank's list, in order.
  StepRecord run_step(const StepInputs& inputs, const std::function<void(ActionKind)>& step_end);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Flow ids that pair each send with its receive across the whole schedule (the same numbers on
// every rank): flows[rank][i] for action i of that rank, -1 for non-communication actions.
std::vector<std::vector<std::int64_t>> message_flow_ids(const Schedule& schedule);

}  // namespace pp
