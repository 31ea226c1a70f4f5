// GPipe (Huang et al., 2019): all forwards, then all backwards, in micro-batch order.
// Every stage holds the activations of all M micro-batches at the turn.
#include "pp/schedule_generators.h"

namespace pp {

void emit_gpipe(const ScheduleSpec& spec, int /*rank*/, std::vector<Action>* out) {
  for (int mb = 0; mb < spec.microbatches; ++mb) out->push_back({ActionKind::kForward, mb, 0, -1});
  for (int mb = 0; mb < spec.microbatches; ++mb) {
    out->push_back({ActionKind::kBackward, mb, 0, -1});
  }
}

}  // namespace pp
