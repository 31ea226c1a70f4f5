#include "pp/timeline_json.h"

namespace pp {

nlohmann::ordered_json metrics_to_json(const TimelineMetrics& m) {
  nlohmann::ordered_json ranks = nlohmann::ordered_json::array();
  for (const RankMetrics& r : m.ranks) {
    ranks.push_back({{"rank", r.rank},
                     {"busy_ms", r.busy_ms},
                     {"idle_ms", r.idle_ms},
                     {"bubble_fraction", r.bubble_fraction},
                     {"peak_inflight_microbatches", r.peak_inflight_microbatches},
                     {"span_ms", r.span_ms},
                     {"bubble_ms",
                      {{"warmup", r.causes.warmup_ms},
                       {"drain", r.causes.drain_ms},
                       {"comm", r.causes.comm_ms},
                       {"imbalance", r.causes.imbalance_ms}}}});
  }
  return {{"makespan_ms", m.makespan_ms},
          {"bubble_fraction", m.bubble_fraction},
          {"steady_step_ms", m.steady_step_ms},
          {"steady_bubble_fraction", m.steady_bubble_fraction},
          {"ranks", std::move(ranks)}};
}

}  // namespace pp
