// Interleaved zero-bubble, ZB1P (Qi et al., ICLR 2024; PyTorch's ScheduleInterleavedZeroBubble):
// interleaved 1F1B's order with each backward split into I, in B's place, and W. Rank r defers up
// to r W's (oldest first out), which then fill the drain, where interleaved 1F1B waits for
// gradients, as in ZB-H1. With uniform stages and M >= K each rank idles (K-1)(F + I - W)/V, the
// ZB-H1 bubble divided by V, at interleaved 1F1B's peak activations.
#include <deque>

#include "interleaved_order.h"
#include "pp/schedule_generators.h"

namespace pp {

void emit_zb1p(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  std::vector<Action> order;
  emit_interleaved_order(spec, rank, &order);
  const int deferral = rank;
  std::deque<Action> pending;
  for (Action a : order) {
    if (a.kind != ActionKind::kBackward) {
      out->push_back(a);
      continue;
    }
    a.kind = ActionKind::kBackwardInput;
    out->push_back(a);
    a.kind = ActionKind::kBackwardWeight;
    pending.push_back(a);
    while (static_cast<int>(pending.size()) > deferral) {
      out->push_back(pending.front());
      pending.pop_front();
    }
  }
  for (const Action& a : pending) out->push_back(a);
}

}  // namespace pp
