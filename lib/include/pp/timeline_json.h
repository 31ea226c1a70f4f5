#pragma once
// Timeline metrics as JSON for scripts (the `--json` summary of pp simulate; pp run reuses it).

#include <nlohmann/json.hpp>

#include "pp/timeline.h"

namespace pp {

// {"makespan_ms", "bubble_fraction", "ranks": [{"rank", "busy_ms", "idle_ms", "bubble_fraction",
//  "peak_inflight_microbatches", "bubble_ms": {"warmup", "drain", "comm", "imbalance"}}]}
nlohmann::ordered_json metrics_to_json(const TimelineMetrics& metrics);

}  // namespace pp
