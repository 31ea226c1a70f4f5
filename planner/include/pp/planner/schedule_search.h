#pragma once
// The auto scheduler (`pp simulate --schedule auto`): a schedule built for the user's own stage
// costs under a memory limit, rather than taken from the catalogue.
//
//   1. Every catalogue schedule (V = 1, and V = 2 where it takes chunks) is simulated with the
//      costs; those whose peak stays within the limit are the floor to beat.
//   2. The list scheduler (pp/list_scheduler.h) plays out the step on the real costs, under the
//      limit, in three placements: one chunk per rank, two interleaved, two in a V.
//   3. The best of these is improved by local search: one weight-gradient W at a time is moved one
//      place earlier or later on its rank (W is the one action with no cross-rank edge), kept when
//      the simulated makespan falls and the peak stays within the limit, until no move helps or
//      the evaluation budget is spent (a count, not a time, so the result is the same on every
//      machine).
// So the result is never worse than the best catalogue schedule that fits; it is reported beside
// it and beside a lower bound on any schedule's makespan (makespan_lower_bound).

#include <optional>
#include <string>
#include <vector>

#include "pp/planner/cost_model.h"
#include "pp/schedule.h"

namespace pp {

struct AutoScheduleRequest {
  int ranks = 1;         // K
  int microbatches = 1;  // M
  PerRankCosts costs;    // as pp simulate takes them (per rank; V chunks share a rank's cost)
  // The most live activations per rank, in micro-batches of a whole stage; 0: 1F1B's K.
  double memory_limit = 0;
  // Moves the local search may simulate; 0: as many as make about kSearchActions simulated actions.
  int search_evaluations = 0;
};

inline constexpr long long kSearchActions = 1'500'000;

struct CatalogueCandidate {
  std::string name;
  int chunks = 1;
  std::string unsupported;  // non-empty: not defined here; no figures then
  double makespan_ms = 0;
  double peak = 0;  // the largest per-rank peak of live activations, whole-stage micro-batches
  bool fits = false;
};

struct AutoScheduleResult {
  Schedule schedule;  // lowered and valid, named "auto"
  std::string built_by;  // e.g. "list scheduler, V placement, then 14 W moves"
  double makespan_ms = 0;
  double peak = 0;
  double memory_limit = 0;  // the limit applied
  double lower_bound_ms = 0;  // the least makespan_lower_bound of the three placements tried
  std::optional<CatalogueCandidate> best_catalogue;  // the fastest that fits, if any does
  std::vector<CatalogueCandidate> catalogue;
  int improving_moves = 0;
};

// Throws pp::Error(kInvalidInput) for bad costs (as pp simulate) or a negative limit.
AutoScheduleResult auto_schedule(const AutoScheduleRequest& request);

// A lower bound on the makespan of any schedule of `microbatches` on this placement and these
// costs: for each rank, the time the first micro-batch needs to reach its lowest stage, plus all
// its work, plus the input-gradient chain below its lowest stage that its own W's cannot cover;
// and the round trip of one micro-batch. Communication counts on the critical chains only.
double makespan_lower_bound(const CostModel& costs, const StageMap& map, int microbatches);

}  // namespace pp
