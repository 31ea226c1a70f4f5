#pragma once
// What `pp simulate` asks of the planner: generate (or take) a schedule, lower and validate it,
// cost it and simulate it; or do that for a grid of schedules and micro-batch counts.

#include <optional>
#include <string>
#include <vector>

#include "pp/planner/cost_model.h"
#include "pp/schedule.h"
#include "pp/schedule_generators.h"
#include "pp/timeline.h"

namespace pp {

struct SimulationRequest {
  std::string schedule_name = "1f1b";  // a generator name, used when `custom` is empty
  ScheduleSpec spec;                   // K, M, V for the generator
  std::optional<Schedule> custom;      // a user's schedule (lowered or not)
  PerRankCosts costs;
};

struct SimulationResult {
  Schedule schedule;  // lowered and validated
  CostModel costs;
  Timeline timeline;
  TimelineMetrics metrics;
};

// Throws pp::Error(kInvalidInput) for an undefined schedule, an invalid custom schedule (with the
// validator's grid), bad costs, a schedule over kMaxScheduleActions (checked before generating),
// or a makespan that is not finite.
SimulationResult run_simulation(const SimulationRequest& request);

// Generates, lowers and validates a schedule from a generator name.
Schedule build_schedule(const std::string& name, const ScheduleSpec& spec);

struct ComparisonRow {
  std::string schedule;
  int microbatches = 0;
  int virtual_stages = 1;
  std::string unsupported;  // non-empty: why this schedule is not defined here; no figures then
  double makespan_ms = 0;
  double bubble_fraction = 0;
  double steady_bubble_fraction = 0;     // TimelineMetrics::steady_bubble_fraction
  double peak_inflight_microbatches = 0;  // the largest over ranks
  std::vector<double> peak_per_rank;      // per rank, in whole-stage micro-batches
};

// One row per (schedule, micro-batch count), in the order given. A row runs `virtual_stages`
// chunks where its schedule takes them (at least 2 for interleaved and zb1p), the V-shape
// schedules 2, the others 1.
// A row named "auto" is the auto scheduler's (schedule_search.h) under `auto_memory_limit`
// micro-batches per rank (0: K).
std::vector<ComparisonRow> compare_schedules(const std::vector<std::string>& schedules,
                                             const std::vector<int>& microbatch_counts, int ranks,
                                             int virtual_stages, const PerRankCosts& costs,
                                             double auto_memory_limit = 0);

}  // namespace pp
