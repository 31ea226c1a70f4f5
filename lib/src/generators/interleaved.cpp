// Interleaved 1F1B (Narayanan et al., 2021), in Megatron-LM's order. Rank r holds V chunks; chunk c
// is virtual stage c*K + r. Virtual micro-batch k (0..M*V-1) is micro-batch (k / (K*V))*K + k % K
// of chunk (k % (K*V)) / K for forwards, and of chunk V-1 minus that for backwards. Rank r runs
// (K-r-1)*2 + (V-1)*K warm-up forwards, then alternates, then drains. Needs M a multiple of K.
#include <algorithm>

#include "pp/schedule_generators.h"

namespace pp {
namespace {

Action virtual_microbatch(const ScheduleSpec& spec, int k, bool forward) {
  const int group = spec.ranks * spec.virtual_stages;
  const int in_group = k % group;
  int chunk = in_group / spec.ranks;
  if (!forward) chunk = spec.virtual_stages - 1 - chunk;
  const int mb = (k / group) * spec.ranks + k % spec.ranks;
  return {forward ? ActionKind::kForward : ActionKind::kBackward, mb,
          static_cast<std::int16_t>(chunk), -1};
}

}  // namespace

void emit_interleaved_1f1b(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  const int total = spec.microbatches * spec.virtual_stages;
  const int warmup =
      std::min((spec.ranks - rank - 1) * 2 + (spec.virtual_stages - 1) * spec.ranks, total);
  for (int k = 0; k < warmup; ++k) out->push_back(virtual_microbatch(spec, k, true));
  for (int k = 0; k < total - warmup; ++k) {
    out->push_back(virtual_microbatch(spec, k + warmup, true));
    out->push_back(virtual_microbatch(spec, k, false));
  }
  for (int k = total - warmup; k < total; ++k) out->push_back(virtual_microbatch(spec, k, false));
}

}  // namespace pp
