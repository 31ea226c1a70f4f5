#pragma once
// Timeline: what ran where and when, as emitted by the simulator and (later) by the executor, and
// the metrics both share. Times are milliseconds from the start of the step.
//
// Metrics (formulas in docs/metrics.md):
//   makespan        = latest end of any event
//   busy(r)         = sum of the durations of rank r's compute-lane events
//   idle(r)         = makespan - busy(r);  bubble_fraction(r) = idle(r) / makespan
//   bubble_fraction = sum_r idle(r) / (K * makespan)
//   span(r)         = end of rank r's last compute action - start of its first
//   steady_step     = max_r span(r);  steady_bubble_fraction = sum_r (steady_step - busy(r)) / (K * steady_step)
// Idle time is split by cause, gap by gap (see attribute_gap in timeline.cpp):
//   comm       the part of a gap during which the input the rank waited for was on the wire
//   warmup     waiting, before the rank's first backward, for the pipeline to fill
//   drain      waiting after the rank's last forward, and idle after its last action
//   imbalance  waiting in between (steady state): a neighbour is slower

#include <cstdint>
#include <string>
#include <vector>

#include "pp/schedule.h"

namespace pp {

enum class Lane : std::uint8_t {
  kCompute,  // F, B, I, W, REDUCE, STEP
  kComm,     // SEND_* (the transfer on the wire) and RECV_* (the wait for it)
};

struct TimelineEvent {
  int rank = 0;
  Lane lane = Lane::kCompute;
  ActionKind kind = ActionKind::kForward;
  std::int32_t microbatch = -1;
  std::int16_t chunk = 0;
  std::int32_t peer = -1;
  double start_ms = 0;
  double end_ms = 0;
  std::int64_t flow = -1;  // the send and the receive of one message share a flow id (dense, 0..)
};

struct Timeline {
  std::string schedule_name;
  std::string source;  // "simulated" or "measured"
  int ranks = 0;
  int microbatches = 0;
  int chunks_per_rank = 1;
  std::vector<TimelineEvent> events;
  double makespan_ms() const;
};

struct BubbleCauses {
  double warmup_ms = 0;
  double drain_ms = 0;
  double comm_ms = 0;
  double imbalance_ms = 0;
};

struct RankMetrics {
  int rank = 0;
  double busy_ms = 0;
  double idle_ms = 0;
  double bubble_fraction = 0;
  // Peak number of micro-batches whose activations are alive on the rank: a micro-batch is alive on
  // a chunk from the start of its forward to the end of its last backward part (B, or W for split
  // backwards); each chunk counts 1/V, so the unit is one micro-batch of a whole stage.
  double peak_inflight_microbatches = 0;
  // From the rank's first compute action's start to its last one's end.
  double span_ms = 0;
  BubbleCauses causes;
};

struct TimelineMetrics {
  double makespan_ms = 0;
  double bubble_fraction = 0;
  // Step after step, when the optimizer step does not hold the ranks together (the zero-bubble
  // papers' post-validation, or the step of one batch overlapping the next): the step time is the
  // longest rank span, and the bubble what the ranks idle within it. The papers' "bubble rate"
  // of ZB-H2, ZB-V, V-Half and V-Min is this figure. pp run's step is synchronous (makespan).
  double steady_step_ms = 0;
  double steady_bubble_fraction = 0;
  std::vector<RankMetrics> ranks;
};

TimelineMetrics compute_metrics(const Timeline& timeline);

struct InflightPoint {
  double time_ms;
  double microbatches;  // alive from this time on, in the unit of peak_inflight_microbatches
};

// The live-activation count of one rank over time: a step function, one point per change.
std::vector<InflightPoint> inflight_series(const Timeline& timeline, int rank);

}  // namespace pp
