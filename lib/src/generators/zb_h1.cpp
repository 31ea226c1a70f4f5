// ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024). The backward is split into the
// input gradient I (on the critical path) and the weight gradient W (not). Stage s keeps 1F1B's
// warm-up of min(K-1-s, M) forwards and its F/I alternation, and defers up to s weight gradients,
// which then fill the drain. Bubble per stage: (K-1)(F + I - W); peak activations K on every
// stage, the same as 1F1B's first stage.
#include <algorithm>
#include <deque>

#include "pp/schedule_generators.h"

namespace pp {
namespace {

void emit_input_grad_and_due_weight_grads(int mb, int deferral, std::deque<int>* pending,
                                          std::vector<Action>* out) {
  out->push_back({ActionKind::kBackwardInput, mb, 0, -1});
  pending->push_back(mb);
  while (static_cast<int>(pending->size()) > deferral) {
    out->push_back({ActionKind::kBackwardWeight, pending->front(), 0, -1});
    pending->pop_front();
  }
}

}  // namespace

void emit_zb_h1(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  const int m = spec.microbatches;
  const int warmup = std::min(spec.ranks - 1 - rank, m);
  const int deferral = rank;
  std::deque<int> pending;
  for (int mb = 0; mb < warmup; ++mb) out->push_back({ActionKind::kForward, mb, 0, -1});
  for (int i = 0; i < m - warmup; ++i) {
    out->push_back({ActionKind::kForward, warmup + i, 0, -1});
    emit_input_grad_and_due_weight_grads(i, deferral, &pending, out);
  }
  for (int mb = m - warmup; mb < m; ++mb) {
    emit_input_grad_and_due_weight_grads(mb, deferral, &pending, out);
  }
  for (int mb : pending) out->push_back({ActionKind::kBackwardWeight, mb, 0, -1});
}

}  // namespace pp
