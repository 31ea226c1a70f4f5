#include "pp/list_scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>

#include "pp/error.h"

namespace pp {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();
constexpr double kSlack = 1e-9;  // memory comparisons in whole-stage units

// How forwards are held back by the memory limit.
enum class Gate {
  kReserve,  // a first visit reserves the micro-batch's whole footprint on the rank: never over
  kLive,     // any forward that fits the live activations; the oldest micro-batch always may
};

// One way to break the ties of the greedy rule; list_schedule plays out each and keeps the best.
struct Policy {
  Gate gate = Gate::kReserve;
  bool eager_weight = false;   // W straight after its I, before any forward (frees memory soonest)
  bool backward_first = true;  // a ready backward before a ready forward
};

// The play-out's state: per stage the next micro-batch of each kind and when inputs arrive; per
// rank when it is free and its live activations.
class PlayOut {
 public:
  PlayOut(const ListScheduleRequest& r, Policy policy)
      : r_(r), policy_(policy), stages_(r.ranks * r.chunks_per_rank), chunk_memory_(1.0 / r.chunks_per_rank) {
    rank_of_.assign(stages_, 0);
    chunk_of_.assign(stages_, 0);
    for (int rank = 0; rank < r.ranks; ++rank) {
      for (int c = 0; c < r.chunks_per_rank; ++c) {
        rank_of_[r.placement[rank][c]] = rank;
        chunk_of_[r.placement[rank][c]] = c;
      }
    }
    next_f_.assign(stages_, 0);
    next_b_.assign(stages_, 0);
    next_w_.assign(stages_, 0);
    input_at_.assign(stages_, std::vector<double>(r.microbatches, kNever));
    grad_at_.assign(stages_, std::vector<double>(r.microbatches, kNever));
    for (int mb = 0; mb < r.microbatches; ++mb) input_at_[0][mb] = 0;
    free_at_.assign(r.ranks, 0);
    committed_.assign(r.ranks, 0);
    live_.assign(r.ranks, 0);
    first_start_.assign(r.ranks, kNever);
    finished_stages_.assign(r.microbatches, 0);
    first_visit_.assign(stages_, false);
    for (int rank = 0; rank < r.ranks; ++rank) {
      first_visit_[*std::min_element(r.placement[rank].begin(), r.placement[rank].end())] = true;
    }
    remaining_ = 1LL * stages_ * r.microbatches;
  }

  Schedule run() {
    Schedule out;
    out.name = r_.name;
    out.ranks = r_.ranks;
    out.microbatches = r_.microbatches;
    out.chunks_per_rank = r_.chunks_per_rank;
    out.placement = r_.placement;
    out.actions.resize(r_.ranks);
    double now = 0;
    while (remaining_ > 0) {
      for (bool started = true; started;) {
        started = false;
        for (int rank = 0; rank < r_.ranks; ++rank) {
          if (free_at_[rank] <= now && start_next(rank, now, &out.actions[rank])) {
            first_start_[rank] = std::min(first_start_[rank], now);
            started = true;
          }
        }
      }
      if (remaining_ == 0) break;
      now = next_event_after(now);
    }
    for (auto& actions : out.actions) {
      actions.push_back({ActionKind::kReduceGradients, -1, 0, -1});
      actions.push_back({ActionKind::kOptimizerStep, -1, 0, -1});
    }
    return out;
  }

 private:
  double arrival(int from_stage, int to_stage, double end) const {
    return rank_of_[from_stage] == rank_of_[to_stage] ? end : end + r_.p2p;
  }

  void note_event(double time) {
    if (time < kNever) events_.push(time);
  }

  double next_event_after(double now) {
    double next = kNever;
    for (double f : free_at_) {
      if (f > now) next = std::min(next, f);
    }
    while (!events_.empty() && events_.top() <= now) events_.pop();
    if (!events_.empty()) next = std::min(next, events_.top());
    if (next == kNever) {
      throw Error(ErrorCategory::kInternal,
                  fmt::format("list scheduler '{}' stalled with {} actions left", r_.name, remaining_));
    }
    return next;
  }

  bool forward_ready(int v, double now) const {
    const int mb = next_f_[v];
    return mb < r_.microbatches && input_at_[v][mb] <= now;
  }
  bool backward_ready(int v, double now) const {
    const int mb = next_b_[v];
    return mb < next_f_[v] && grad_at_[v][mb] <= now;
  }
  bool weight_ready(int v) const { return r_.split_backward && next_w_[v] < next_b_[v]; }

  // Among the rank's stages where `ready` holds, the oldest micro-batch, then the deepest stage.
  int best_stage(int rank, const std::vector<int>& next, const std::function<bool(int)>& ready) const {
    int best = -1;
    for (int c = 0; c < r_.chunks_per_rank; ++c) {
      const int v = r_.placement[rank][c];
      if (!ready(v)) continue;
      if (best < 0 || next[v] < next[best] || (next[v] == next[best] && v > best)) best = v;
    }
    return best;
  }

  // A micro-batch's first forward on a rank reserves the activations of all its chunks there;
  // its later forwards on the rank are already paid for.
  // With kLive, any forward that keeps the live activations within the limit fits, and the
  // oldest unfinished micro-batch always does (so the play-out never stalls; it may then pass the
  // limit, which list_schedule checks).
  bool fits(int rank, int v) {
    if (r_.memory_limit.empty() || r_.memory_limit[rank] <= 0) return true;
    const double limit = std::max(r_.memory_limit[rank], footprint_) + kSlack;
    if (policy_.gate == Gate::kLive) {
      return next_f_[v] == oldest_unfinished() || live_[rank] + chunk_memory_ <= limit;
    }
    return !first_visit_[v] || committed_[rank] + footprint_ <= limit;
  }

  int oldest_unfinished() {
    while (oldest_ < r_.microbatches && finished_stages_[oldest_] == stages_) ++oldest_;
    return oldest_;
  }

  bool start_next(int rank, double now, std::vector<Action>* out) {
    const int b = best_stage(rank, next_b_, [&](int v) { return backward_ready(v, now); });
    const int w = best_stage(rank, next_w_, [&](int v) { return weight_ready(v); });
    if (policy_.eager_weight && w >= 0) return start_weight(w, now, out), true;
    if (b >= 0 && policy_.backward_first) return start_backward(b, now, out), true;
    const int f_any = best_stage(rank, next_f_, [&](int v) { return forward_ready(v, now); });
    const int f = best_stage(rank, next_f_, [&](int v) { return forward_ready(v, now) && fits(rank, v); });
    if (f >= 0 && !(f != f_any && w >= 0)) return start_forward(f, now, out), true;
    if (b >= 0) return start_backward(b, now, out), true;
    if (w >= 0) return start_weight(w, now, out), true;
    return false;
  }

  void start_forward(int v, double now, std::vector<Action>* out) {
    const int rank = rank_of_[v];
    const int mb = next_f_[v]++;
    const double end = now + r_.forward[v];
    free_at_[rank] = end;
    if (first_visit_[v]) committed_[rank] += footprint_;
    live_[rank] += chunk_memory_;
    peak_ = std::max(peak_, live_[rank] - limit_of(rank));
    out->push_back({ActionKind::kForward, mb, static_cast<std::int16_t>(chunk_of_[v]), -1});
    if (v + 1 < stages_) {
      input_at_[v + 1][mb] = arrival(v, v + 1, end);
      note_event(input_at_[v + 1][mb]);
    } else {
      grad_at_[v][mb] = end;
      note_event(end);
    }
  }

  void start_backward(int v, double now, std::vector<Action>* out) {
    const int rank = rank_of_[v];
    const int mb = next_b_[v]++;
    const double part = r_.split_backward ? r_.input_grad[v] : r_.input_grad[v] + r_.weight_grad[v];
    const double end = now + part;
    free_at_[rank] = end;
    const ActionKind kind = r_.split_backward ? ActionKind::kBackwardInput : ActionKind::kBackward;
    out->push_back({kind, mb, static_cast<std::int16_t>(chunk_of_[v]), -1});
    if (v > 0) {
      grad_at_[v - 1][mb] = arrival(v, v - 1, end);
      note_event(grad_at_[v - 1][mb]);
    }
    if (!r_.split_backward) finish(rank, mb);
  }

  void start_weight(int v, double now, std::vector<Action>* out) {
    const int rank = rank_of_[v];
    const int mb = next_w_[v]++;
    free_at_[rank] = now + r_.weight_grad[v];
    out->push_back({ActionKind::kBackwardWeight, mb, static_cast<std::int16_t>(chunk_of_[v]), -1});
    finish(rank, mb);
  }

  // The last part of (mb, stage) has started: its activations count as freed for the rank's next
  // decision, which comes only once this action has ended.
  void finish(int rank, int mb) {
    committed_[rank] -= chunk_memory_;
    live_[rank] -= chunk_memory_;
    ++finished_stages_[mb];
    --remaining_;
  }

  double limit_of(int rank) const {
    return r_.memory_limit.empty() || r_.memory_limit[rank] <= 0 ? kNever : r_.memory_limit[rank];
  }

 public:
  double makespan() const { return *std::max_element(free_at_.begin(), free_at_.end()); }
  // The longest rank span, first start to last end: the step time when steps overlap.
  double longest_span() const {
    double span = 0;
    for (int r = 0; r < r_.ranks; ++r) span = std::max(span, free_at_[r] - first_start_[r]);
    return span;
  }
  // The most the live activations went past a rank's limit (<= 0: never).
  double overshoot() const { return peak_; }

 private:
  const ListScheduleRequest& r_;
  const Policy policy_;
  const int stages_;
  const double chunk_memory_;
  std::vector<int> rank_of_, chunk_of_;
  std::vector<int> next_f_, next_b_, next_w_;
  std::vector<std::vector<double>> input_at_, grad_at_;  // [stage][micro-batch]
  const double footprint_ = 1.0;  // all V chunks of a micro-batch on a rank, in whole stages
  std::vector<double> free_at_;
  std::vector<double> committed_;   // per rank: live activations plus reserved later chunks
  std::vector<bool> first_visit_;   // per stage: a rank's lowest stage, where micro-batches enter it
  std::vector<double> live_;        // per rank: activations alive now
  std::vector<double> first_start_;  // per rank
  std::vector<int> finished_stages_;  // per micro-batch
  int oldest_ = 0;
  double peak_ = -kNever;
  long long remaining_ = 0;
  std::priority_queue<double, std::vector<double>, std::greater<>> events_;
};

}  // namespace

Schedule list_schedule(const ListScheduleRequest& request) {
  Schedule best;
  std::pair<double, double> best_key{kNever, kNever};
  for (Gate gate : {Gate::kReserve, Gate::kLive}) {
    for (bool eager : {false, true}) {
      for (bool backward_first : {true, false}) {
        PlayOut play(request, {gate, eager, backward_first});
        Schedule schedule = play.run();
        if (play.overshoot() > kSlack) continue;
        const std::pair<double, double> key{play.makespan(), play.longest_span()};
        if (key < best_key) best_key = key, best = std::move(schedule);
      }
    }
  }
  return best;
}

}  // namespace pp
