// 1F1B, PipeDream-flush (Narayanan et al., 2021): stage s runs min(K-1-s, M) warm-up forwards,
// then alternates one forward and one backward, then drains the remaining backwards. Stage s holds
// at most min(K-s, M) micro-batches of activations.
#include <algorithm>

#include "pp/schedule_generators.h"

namespace pp {

void emit_1f1b(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  const int m = spec.microbatches;
  const int warmup = std::min(spec.ranks - 1 - rank, m);
  for (int mb = 0; mb < warmup; ++mb) out->push_back({ActionKind::kForward, mb, 0, -1});
  for (int i = 0; i < m - warmup; ++i) {
    out->push_back({ActionKind::kForward, warmup + i, 0, -1});
    out->push_back({ActionKind::kBackward, i, 0, -1});
  }
  for (int mb = m - warmup; mb < m; ++mb) out->push_back({ActionKind::kBackward, mb, 0, -1});
}

}  // namespace pp
