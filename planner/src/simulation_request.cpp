#include "pp/planner/simulation_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/planner/schedule_search.h"
#include "pp/planner/simulator.h"
#include "pp/validator.h"

namespace pp {
namespace {

// Refuses a user's schedule that, once lowered, would have more than kMaxScheduleActions actions:
// lowering adds at most a receive before and a send after each F, B and I.
void check_custom_size(const Schedule& s) {
  const bool lowered = s.is_lowered();
  long long bound = 0;
  for (const auto& list : s.actions) {
    for (const Action& a : list) {
      const bool gains_comm = !lowered && is_compute(a.kind) &&
                              a.kind != ActionKind::kBackwardWeight;
      bound += gains_comm ? 3 : 1;
    }
  }
  if (bound > kMaxScheduleActions) {
    throw_invalid(fmt::format("schedule '{}': with its sends and receives it has up to {} actions, "
                              "over pp's limit of {}",
                              s.name, bound, kMaxScheduleActions));
  }
}

// The makespan overflows only for costs far beyond any real step; say so rather than draw it.
void check_finite(const TimelineMetrics& metrics) {
  if (!std::isfinite(metrics.makespan_ms)) {
    throw_invalid("the simulated makespan is not a finite number: the costs are too large");
  }
}

}  // namespace

Schedule build_schedule(const std::string& name, const ScheduleSpec& spec) {
  return lower_communication(generate_schedule(name, spec));
}

SimulationResult run_simulation(const SimulationRequest& request) {
  SimulationResult result;
  if (request.custom) {
    check_custom_size(*request.custom);
    require_valid_schedule(*request.custom);
    result.schedule =
        request.custom->is_lowered() ? *request.custom : lower_communication(*request.custom);
  } else {
    check_schedule_size(request.schedule_name, request.spec);
    result.schedule = build_schedule(request.schedule_name, request.spec);
  }
  result.costs = per_rank_cost_model(result.schedule, request.costs);
  result.timeline = simulate(result.schedule, result.costs);
  result.metrics = compute_metrics(result.timeline);
  check_finite(result.metrics);
  return result;
}

namespace {

// The chunks per rank a comparison row runs: the generator's fixed count, else the requested V
// where the generator takes it, else at least 2 for those that need it, else 1.
int comparison_chunks(const ScheduleGenerator& g, int ranks, int m, int requested) {
  if (g.fixed_chunks > 0) return g.fixed_chunks;
  for (int v : {requested, std::max(2, requested), 1}) {
    if (g.unsupported({ranks, m, v}).empty()) return v;
  }
  return requested;
}

void fill_row(const SimulationResult& result, ComparisonRow* row) {
  row->makespan_ms = result.metrics.makespan_ms;
  row->bubble_fraction = result.metrics.bubble_fraction;
  row->steady_bubble_fraction = result.metrics.steady_bubble_fraction;
  for (const RankMetrics& r : result.metrics.ranks) {
    row->peak_per_rank.push_back(r.peak_inflight_microbatches);
    row->peak_inflight_microbatches = std::max(row->peak_inflight_microbatches, r.peak_inflight_microbatches);
  }
}

ComparisonRow auto_row(int m, int ranks, const PerRankCosts& costs, double memory_limit) {
  ComparisonRow row;
  row.schedule = "auto";
  row.microbatches = m;
  check_schedule_size("v-half", {ranks, m, 2});  // the largest the search builds
  const AutoScheduleResult a = auto_schedule({ranks, m, costs, memory_limit});
  row.virtual_stages = a.schedule.chunks_per_rank;
  SimulationRequest request;
  request.custom = a.schedule;
  request.costs = costs;
  fill_row(run_simulation(request), &row);
  return row;
}

}  // namespace

std::vector<ComparisonRow> compare_schedules(const std::vector<std::string>& schedules,
                                             const std::vector<int>& microbatch_counts, int ranks,
                                             int virtual_stages, const PerRankCosts& costs,
                                             double auto_memory_limit) {
  std::vector<ComparisonRow> rows;
  for (const std::string& name : schedules) {
    if (name == "auto") {
      for (int m : microbatch_counts) rows.push_back(auto_row(m, ranks, costs, auto_memory_limit));
      continue;
    }
    const ScheduleGenerator& generator = find_schedule_generator(name);
    for (int m : microbatch_counts) {
      ComparisonRow row;
      row.schedule = name;
      row.microbatches = m;
      row.virtual_stages = comparison_chunks(generator, ranks, m, virtual_stages);
      SimulationRequest request;
      request.schedule_name = name;
      request.spec = {ranks, m, row.virtual_stages};
      request.costs = costs;
      row.unsupported = generator.unsupported(request.spec);
      if (row.unsupported.empty()) fill_row(run_simulation(request), &row);
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace pp
