// DualPipeV (DeepSeek-AI's DualPipe, "cut in half" by Sea AI Lab, 2025): K ranks in V placement,
// rank r holding chunk 0 = stage r and chunk 1 = stage 2K-1-r. Eight phases per rank, with
// n = K and F0/F1, B0/B1 the forward and backward of chunk 0/1:
//   1. 2(n-r-1) x F0                     5. (n-r-1) x (B1, F1, B0)
//   2. (r+1) x (F0, F1)                  6. (r+1) x (B1, B0); the last r+1 of these split, W deferred
//   3. (n-r-1) x (I1, W1, F1)            7. (n-r-1) x (W, I0), the deferred W's in order
//   4. (M-2n+r+1) x (F0, B1, F1, B0)     8. (r+1) x W
// In phases 4 and 5 DualPipe overlaps each forward with the backward beside it (F0&B1, F1&B0);
// pp runs them one after the other, so its bubble is the published (n-1)(F&B + B - 3W) with F&B
// taken as F + B (per chunk). Needs M >= 2K.
#include <deque>

#include "pp/schedule_generators.h"

namespace pp {
namespace {

class RankEmitter {
 public:
  explicit RankEmitter(std::vector<Action>* out) : out_(out) {}

  void forward(int chunk) { emit(ActionKind::kForward, next_f_[chunk]++, chunk); }
  void backward(int chunk, bool defer_weight) {
    const int mb = next_b_[chunk]++;
    if (!defer_weight) return emit(ActionKind::kBackward, mb, chunk);
    emit(ActionKind::kBackwardInput, mb, chunk);
    deferred_.push_back({mb, chunk});
  }
  void input_then_weight(int chunk) {
    const int mb = next_b_[chunk]++;
    emit(ActionKind::kBackwardInput, mb, chunk);
    emit(ActionKind::kBackwardWeight, mb, chunk);
  }
  void deferred_weight() {
    const auto [mb, chunk] = deferred_.front();
    deferred_.pop_front();
    emit(ActionKind::kBackwardWeight, mb, chunk);
  }

 private:
  void emit(ActionKind kind, int mb, int chunk) {
    out_->push_back({kind, mb, static_cast<std::int16_t>(chunk), -1});
  }

  std::vector<Action>* out_;
  int next_f_[2] = {0, 0};
  int next_b_[2] = {0, 0};
  std::deque<std::pair<int, int>> deferred_;
};

}  // namespace

void emit_dualpipev(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  const int n = spec.ranks;
  const int r = rank;
  RankEmitter e(out);
  for (int i = 0; i < 2 * (n - r - 1); ++i) e.forward(0);
  for (int i = 0; i < r + 1; ++i) e.forward(0), e.forward(1);
  for (int i = 0; i < n - r - 1; ++i) e.input_then_weight(1), e.forward(1);
  for (int i = 0; i < spec.microbatches - 2 * n + r + 1; ++i) {
    e.forward(0), e.backward(1, false), e.forward(1), e.backward(0, false);
  }
  for (int i = 0; i < n - r - 1; ++i) e.backward(1, false), e.forward(1), e.backward(0, false);
  for (int i = 0; i < 2 * (r + 1); ++i) e.backward(i % 2 == 0 ? 1 : 0, i >= r + 1);
  for (int i = 0; i < n - r - 1; ++i) e.deferred_weight(), e.backward(0, true);
  for (int i = 0; i < r + 1; ++i) e.deferred_weight();
}

}  // namespace pp
