#include "pp/planner/simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "pp/error.h"
#include "pp/rank_sweep.h"

namespace pp {
namespace {

// Messages in flight on one ordered pair of ranks, in send order (the transport matches in order).
struct Channel {
  std::vector<double> arrival_ms;
  std::vector<std::int64_t> flow;
  std::size_t next_recv = 0;
  double link_free_ms = 0;
};

class Simulation {
 public:
  Simulation(const Schedule& s, const CostModel& c) : s_(s), c_(c), map_(make_stage_map(s)) {
    index_channels();
    position_.assign(s.ranks, 0);
    clock_ms_.assign(s.ranks, 0.0);
    timeline_.schedule_name = s.name;
    timeline_.source = "simulated";
    timeline_.ranks = s.ranks;
    timeline_.microbatches = s.microbatches;
    timeline_.chunks_per_rank = s.chunks_per_rank;
    timeline_.events.reserve(s.action_count());
  }

  Timeline run() {
    sweep_until_stuck(s_.ranks, [this](int rank) { return advance(rank); });
    for (int r = 0; r < s_.ranks; ++r) {
      if (position_[r] < s_.actions[r].size()) {
        throw Error(ErrorCategory::kInvalidInput,
                    fmt::format("schedule '{}' deadlocks in simulation at rank {}, step {}",
                                s_.name, r, position_[r]));
      }
    }
    return std::move(timeline_);
  }

 private:
  void index_channels() {
    std::unordered_map<std::int64_t, int> ids;
    channel_of_.resize(s_.ranks);
    for (int r = 0; r < s_.ranks; ++r) {
      const auto& list = s_.actions[r];
      channel_of_[r].assign(list.size(), -1);
      for (std::size_t i = 0; i < list.size(); ++i) {
        const Action& a = list[i];
        if (!is_comm(a.kind)) continue;
        const int src = is_send(a.kind) ? r : a.peer;
        const int dst = is_send(a.kind) ? a.peer : r;
        const std::int64_t code = static_cast<std::int64_t>(src) * s_.ranks + dst;
        auto [it, inserted] = ids.try_emplace(code, static_cast<int>(channels_.size()));
        if (inserted) channels_.emplace_back();
        channel_of_[r][i] = it->second;
      }
    }
  }

  void emit(int r, Lane lane, const Action& a, double start, double end, std::int64_t flow) {
    timeline_.events.push_back({r, lane, a.kind, a.microbatch, a.chunk, a.peer, start, end, flow});
  }

  double transfer_ms(int r, const Action& a) const {
    const int v = map_.placement[r][a.chunk];
    const int boundary = a.kind == ActionKind::kSendActivation ? v : v - 1;
    return c_.boundary[boundary].transfer_ms();
  }

  // Runs rank r's actions until it waits for a message not yet sent. Returns whether it moved.
  bool advance(int r) {
    const auto& list = s_.actions[r];
    std::size_t& i = position_[r];
    double& clock = clock_ms_[r];
    const std::size_t start = i;
    for (; i < list.size(); ++i) {
      const Action& a = list[i];
      if (is_recv(a.kind)) {
        Channel& ch = channels_[channel_of_[r][i]];
        if (ch.next_recv >= ch.arrival_ms.size()) break;
        const double waited_from = clock;
        clock = std::max(clock, ch.arrival_ms[ch.next_recv]);
        emit(r, Lane::kComm, a, waited_from, clock, ch.flow[ch.next_recv]);
        ++ch.next_recv;
      } else if (is_send(a.kind)) {
        Channel& ch = channels_[channel_of_[r][i]];
        const double begin = std::max(clock, ch.link_free_ms);
        ch.link_free_ms = begin + transfer_ms(r, a);
        ch.arrival_ms.push_back(ch.link_free_ms);
        ch.flow.push_back(next_flow_);
        emit(r, Lane::kComm, a, begin, ch.link_free_ms, next_flow_++);
      } else {
        const int stage = is_step_end(a.kind) ? 0 : map_.placement[r][a.chunk];
        const double end = clock + c_.duration_ms(a.kind, stage, r);
        emit(r, Lane::kCompute, a, clock, end, -1);
        clock = end;
      }
    }
    return i != start;
  }

  const Schedule& s_;
  const CostModel& c_;
  const StageMap map_;
  std::vector<Channel> channels_;
  std::vector<std::vector<int>> channel_of_;
  std::vector<std::size_t> position_;
  std::vector<double> clock_ms_;
  std::int64_t next_flow_ = 0;
  Timeline timeline_;
};

}  // namespace

Timeline simulate(const Schedule& schedule, const CostModel& costs) {
  if (static_cast<int>(costs.stage.size()) != schedule.stage_count()) {
    throw Error(ErrorCategory::kInternal,
                fmt::format("cost model has {} stages, schedule {}", costs.stage.size(),
                            schedule.stage_count()));
  }
  return Simulation(schedule, costs).run();
}

}  // namespace pp
