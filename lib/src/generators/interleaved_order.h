#pragma once
// Interleaved 1F1B's per-rank order of forwards and full backwards, shared by the interleaved
// and the interleaved zero-bubble (zb1p) generators.
#include <vector>

#include "pp/schedule_generators.h"

namespace pp {

void emit_interleaved_order(const ScheduleSpec& spec, int rank, std::vector<Action>* out);

// Chunks alive at the peak on `rank` under interleaved 1F1B: its warm-up forwards plus one.
long long interleaved_peak_chunks(const ScheduleSpec& spec, int rank);

}  // namespace pp
