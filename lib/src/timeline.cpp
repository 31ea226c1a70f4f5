#include "pp/timeline.h"

#include <algorithm>

namespace pp {
namespace {

struct RankView {
  std::vector<const TimelineEvent*> compute;  // by start time
  std::vector<const TimelineEvent*> recvs;    // by end time
};

std::vector<RankView> split_by_rank(const Timeline& t) {
  std::vector<RankView> views(t.ranks);
  for (const TimelineEvent& e : t.events) {
    if (e.rank < 0 || e.rank >= t.ranks) continue;
    if (e.lane == Lane::kCompute) views[e.rank].compute.push_back(&e);
    if (is_recv(e.kind)) views[e.rank].recvs.push_back(&e);
  }
  for (RankView& v : views) {
    std::stable_sort(v.compute.begin(), v.compute.end(),
                     [](auto* a, auto* b) { return a->start_ms < b->start_ms; });
    std::stable_sort(v.recvs.begin(), v.recvs.end(),
                     [](auto* a, auto* b) { return a->end_ms < b->end_ms; });
  }
  return views;
}

// Send start time of every flow, for the comm part of a gap.
std::vector<double> send_starts(const Timeline& t) {
  std::vector<double> starts;
  for (const TimelineEvent& e : t.events) {
    if (!is_send(e.kind) || e.flow < 0) continue;
    if (static_cast<std::size_t>(e.flow) >= starts.size()) starts.resize(e.flow + 1, -1);
    starts[e.flow] = e.start_ms;
  }
  return starts;
}

struct Phases {
  double first_backward_start;
  double last_forward_end;
};

Phases phases(const RankView& v) {
  Phases p{1e300, -1e300};
  for (const TimelineEvent* e : v.compute) {
    if (e->kind == ActionKind::kForward) p.last_forward_end = std::max(p.last_forward_end, e->end_ms);
    if (is_compute(e->kind) && e->kind != ActionKind::kForward) {
      p.first_backward_start = std::min(p.first_backward_start, e->start_ms);
    }
  }
  return p;
}

// The latest receive that completed inside (g0, g1], or nullptr. `cursor` walks v.recvs.
const TimelineEvent* blocking_recv(const RankView& v, double g0, double g1, std::size_t* cursor) {
  const TimelineEvent* found = nullptr;
  while (*cursor < v.recvs.size() && v.recvs[*cursor]->end_ms <= g1) {
    if (v.recvs[*cursor]->end_ms > g0) found = v.recvs[*cursor];
    ++*cursor;
  }
  return found;
}

// Splits the gap [g0, g1] (ending at the start of the next compute, or at the makespan when
// `trailing`) into causes.
void attribute_gap(double g0, double g1, bool trailing, const TimelineEvent* recv,
                   const std::vector<double>& starts, const Phases& p, BubbleCauses* c) {
  if (trailing) {
    c->drain_ms += g1 - g0;
    return;
  }
  double comm = 0;
  if (recv != nullptr && recv->flow >= 0 && static_cast<std::size_t>(recv->flow) < starts.size() &&
      starts[recv->flow] >= 0) {
    comm = std::clamp(recv->end_ms - std::max(g0, starts[recv->flow]), 0.0, g1 - g0);
  }
  c->comm_ms += comm;
  const double waiting = g1 - g0 - comm;
  if (g1 <= p.first_backward_start) {
    c->warmup_ms += waiting;
  } else if (g0 >= p.last_forward_end) {
    c->drain_ms += waiting;
  } else {
    c->imbalance_ms += waiting;
  }
}

RankMetrics rank_metrics(int rank, const RankView& v, double makespan,
                         const std::vector<double>& starts) {
  RankMetrics m;
  m.rank = rank;
  const Phases p = phases(v);
  double previous_end = 0;
  std::size_t cursor = 0;
  for (const TimelineEvent* e : v.compute) {
    m.busy_ms += e->end_ms - e->start_ms;
    if (e->start_ms > previous_end) {
      const TimelineEvent* recv = blocking_recv(v, previous_end, e->start_ms, &cursor);
      attribute_gap(previous_end, e->start_ms, false, recv, starts, p, &m.causes);
    }
    previous_end = std::max(previous_end, e->end_ms);
  }
  if (makespan > previous_end) attribute_gap(previous_end, makespan, true, nullptr, starts, p,
                                             &m.causes);
  m.idle_ms = std::max(0.0, makespan - m.busy_ms);
  m.bubble_fraction = makespan > 0 ? m.idle_ms / makespan : 0;
  return m;
}

bool frees_activation(ActionKind kind) {
  return kind == ActionKind::kBackward || kind == ActionKind::kBackwardWeight;
}

}  // namespace

double Timeline::makespan_ms() const {
  double end = 0;
  for (const TimelineEvent& e : events) end = std::max(end, e.end_ms);
  return end;
}

namespace {

// The live-activation step function from one rank's compute events.
std::vector<InflightPoint> series_of(const std::vector<const TimelineEvent*>& compute,
                                     int chunks_per_rank) {
  std::vector<std::pair<double, int>> changes;  // (time, +1 or -1); frees sort first at a tie
  for (const TimelineEvent* e : compute) {
    if (e->kind == ActionKind::kForward) changes.emplace_back(e->start_ms, +1);
    if (frees_activation(e->kind)) changes.emplace_back(e->end_ms, -1);
  }
  std::sort(changes.begin(), changes.end());
  std::vector<InflightPoint> series;
  const double unit = 1.0 / std::max(1, chunks_per_rank);
  long long alive = 0;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    alive += changes[i].second;
    if (i + 1 < changes.size() && changes[i + 1].first == changes[i].first) continue;
    series.push_back({changes[i].first, alive * unit});
  }
  return series;
}

// From the rank's first compute action's start to its last one's end (0 with none).
double span_of(const std::vector<const TimelineEvent*>& compute) {
  if (compute.empty()) return 0;
  double first = compute.front()->start_ms;
  double last = 0;
  for (const TimelineEvent* e : compute) {
    first = std::min(first, e->start_ms);
    last = std::max(last, e->end_ms);
  }
  return last - first;
}

}  // namespace

std::vector<InflightPoint> inflight_series(const Timeline& t, int rank) {
  std::vector<const TimelineEvent*> compute;
  for (const TimelineEvent& e : t.events) {
    if (e.rank == rank && e.lane == Lane::kCompute) compute.push_back(&e);
  }
  return series_of(compute, t.chunks_per_rank);
}

TimelineMetrics compute_metrics(const Timeline& t) {
  TimelineMetrics m;
  m.makespan_ms = t.makespan_ms();
  const auto views = split_by_rank(t);
  const auto starts = send_starts(t);
  double idle = 0;
  for (int r = 0; r < t.ranks; ++r) {
    RankMetrics rm = rank_metrics(r, views[r], m.makespan_ms, starts);
    for (const InflightPoint& p : series_of(views[r].compute, t.chunks_per_rank)) {
      rm.peak_inflight_microbatches = std::max(rm.peak_inflight_microbatches, p.microbatches);
    }
    rm.span_ms = span_of(views[r].compute);
    idle += rm.idle_ms;
    m.steady_step_ms = std::max(m.steady_step_ms, rm.span_ms);
    m.ranks.push_back(rm);
  }
  m.bubble_fraction = (t.ranks > 0 && m.makespan_ms > 0) ? idle / (t.ranks * m.makespan_ms) : 0;
  double steady_idle = 0;
  for (const RankMetrics& rm : m.ranks) steady_idle += std::max(0.0, m.steady_step_ms - rm.busy_ms);
  m.steady_bubble_fraction = (t.ranks > 0 && m.steady_step_ms > 0) ? steady_idle / (t.ranks * m.steady_step_ms) : 0;
  return m;
}

}  // namespace pp
