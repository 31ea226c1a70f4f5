// ZB-V (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024, section 6; PyTorch's
// ScheduleZBVZeroBubble follows the authors' order): K ranks in V placement, rank r holding
// chunk 0 = stage r and chunk 1 = stage 2K-1-r, the backward split into I and W. Per rank, with
// F0/F1, I0/I1, W0/W1 the parts of chunk 0/1:
//   warm-up    2(K-r)-1 x F0;  r x (F1, F0);  K-r x (F1, I1, W1)
//   steady     (F0 while any is left), I0, W0, F1, I1, W1, until every F1 has run
//   cool-down  r x (I0, I1) with their W's deferred;  K-r x (I0, then the oldest deferred W0);
//              the deferred W1's; the deferred W0's
// It is laid out for n = max(M, 2K-1) micro-batches; with fewer, the actions of the missing ones
// are left out. With F = I = W it has no bubble in the steady state (step after step) at 1F1B's
// peak of K micro-batches.
#include <algorithm>
#include <deque>

#include "pp/schedule_generators.h"

namespace pp {
namespace {

class ZbvRank {
 public:
  ZbvRank(int microbatches, std::vector<Action>* out) : m_(microbatches), out_(out) {}

  int forwards(int chunk) const { return next_f_[chunk]; }
  void f(int chunk) { emit(ActionKind::kForward, next_f_[chunk]++, chunk); }
  void i(int chunk) {
    const int mb = next_i_[chunk]++;
    emit(ActionKind::kBackwardInput, mb, chunk);
    deferred_[chunk].push_back(mb);
  }
  void w(int chunk) {
    const int mb = deferred_[chunk].front();
    deferred_[chunk].pop_front();
    emit(ActionKind::kBackwardWeight, mb, chunk);
  }
  void all_w(int chunk) {
    while (!deferred_[chunk].empty()) w(chunk);
  }

 private:
  void emit(ActionKind kind, int mb, int chunk) {
    if (mb < m_) out_->push_back({kind, mb, static_cast<std::int16_t>(chunk), -1});
  }

  int m_;
  std::vector<Action>* out_;
  int next_f_[2] = {0, 0};
  int next_i_[2] = {0, 0};
  std::deque<int> deferred_[2];
};

}  // namespace

void emit_zb_v(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  const int k = spec.ranks;
  const int n = std::max(spec.microbatches, 2 * k - 1);
  ZbvRank e(spec.microbatches, out);
  for (int x = 0; x < 2 * (k - rank) - 1; ++x) e.f(0);
  for (int x = 0; x < rank; ++x) e.f(1), e.f(0);
  for (int x = 0; x < k - rank; ++x) e.f(1), e.i(1), e.w(1);
  while (e.forwards(1) < e.forwards(0) || e.forwards(0) < n) {
    if (e.forwards(0) < n) e.f(0);
    e.i(0), e.w(0), e.f(1), e.i(1), e.w(1);
  }
  for (int x = 0; x < rank; ++x) e.i(0), e.i(1);
  for (int x = 0; x < k - rank; ++x) e.i(0), e.w(0);
  e.all_w(1);
  e.all_w(0);
}

}  // namespace pp
