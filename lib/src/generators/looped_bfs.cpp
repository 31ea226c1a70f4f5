// Looped BFS (Lamy-Poirier, "Breadth-First Pipeline Parallelism", 2023; PyTorch's
// ScheduleLoopedBFS): with V chunks per rank in Megatron-LM's placement, a rank runs the forwards
// of every micro-batch on chunk 0, then on chunk 1, ..., then the backwards chunk by chunk in
// reverse. It keeps all M micro-batches alive, as GPipe does, and with V = 1 it is GPipe.
#include "pp/schedule_generators.h"

namespace pp {

void emit_looped_bfs(const ScheduleSpec& spec, int /*rank*/, std::vector<Action>* out) {
  for (int c = 0; c < spec.virtual_stages; ++c) {
    for (int mb = 0; mb < spec.microbatches; ++mb) {
      out->push_back({ActionKind::kForward, mb, static_cast<std::int16_t>(c), -1});
    }
  }
  for (int c = spec.virtual_stages - 1; c >= 0; --c) {
    for (int mb = 0; mb < spec.microbatches; ++mb) {
      out->push_back({ActionKind::kBackward, mb, static_cast<std::int16_t>(c), -1});
    }
  }
}

}  // namespace pp
