// The schedules pp builds with its list scheduler (pp/list_scheduler.h) on unit costs
// (F = I = W = 1 per chunk) under the activation-memory limit each paper states, in micro-batches
// of a whole rank's stage:
//   zb-h2    one chunk, limit 2K-1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024)
//   v-half   V placement, limit (K+2)/2 (Qi et al., "Pipeline Parallelism with Controllable
//            Memory", NeurIPS 2024)
//   v-min    V placement, limit (K+4)/3 (same paper)
#include "pp/list_scheduler.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

Schedule unit_cost_schedule(const char* name, const ScheduleSpec& spec,
                            std::vector<std::vector<int>> placement, std::vector<double> limit) {
  ListScheduleRequest r;
  r.name = name;
  r.ranks = spec.ranks;
  r.microbatches = spec.microbatches;
  r.chunks_per_rank = spec.virtual_stages;
  r.placement = std::move(placement);
  const int stages = spec.ranks * spec.virtual_stages;
  r.forward.assign(stages, 1.0);
  r.input_grad.assign(stages, 1.0);
  r.weight_grad.assign(stages, 1.0);
  r.memory_limit = std::move(limit);
  return list_schedule(r);
}

std::vector<double> same_limit(int ranks, double limit) { return std::vector<double>(ranks, limit); }

}  // namespace

Schedule build_zb_h2(const ScheduleSpec& spec) {
  return unit_cost_schedule("zb-h2", spec, interleaved_placement(spec.ranks, 1),
                            same_limit(spec.ranks, 2.0 * spec.ranks - 1));
}

Schedule build_v_half(const ScheduleSpec& spec) {
  return unit_cost_schedule("v-half", spec, v_shape_placement(spec.ranks),
                            same_limit(spec.ranks, (spec.ranks + 2) / 2));
}

Schedule build_v_min(const ScheduleSpec& spec) {
  return unit_cost_schedule("v-min", spec, v_shape_placement(spec.ranks),
                            same_limit(spec.ranks, (spec.ranks + 4) / 3));
}

}  // namespace pp
