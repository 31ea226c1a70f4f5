#include "pp/lowering.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "pp/error.h"
#include "pp/validator.h"
#include "schedule_dependencies.h"

namespace pp {
namespace {

struct Message {
  MessageEnd end;
  int consumer_position;  // index of the consumer among the receiver's actions
};

// Per ordered pair, the messages in the order the sender sends them.
std::vector<std::vector<Message>> messages_by_pair(const Schedule& s, const StageMap& map,
                                                   PairIndex* pairs) {
  std::vector<std::int32_t> consumer_position(
      2 * static_cast<std::size_t>(s.microbatches) * s.stage_count(), -1);
  for (int r = 0; r < s.ranks; ++r) {
    for (int i = 0; i < static_cast<int>(s.actions[r].size()); ++i) {
      MessageEnd end;
      if (consumed_message(s, map, r, s.actions[r][i], &end)) consumer_position[end.key] = i;
    }
  }
  std::vector<std::vector<Message>> by_pair;
  for (int r = 0; r < s.ranks; ++r) {
    for (const Action& a : s.actions[r]) {
      MessageEnd end;
      if (!produced_message(s, map, r, a, &end)) continue;
      const int pair = pairs->id(end.src, end.dst);
      if (pair >= static_cast<int>(by_pair.size())) by_pair.resize(pair + 1);
      by_pair[pair].push_back({end, consumer_position[end.key]});
    }
  }
  return by_pair;
}

// receives_before[rank][i]: the receives to post right before the rank's action i.
std::vector<std::vector<std::vector<Action>>> place_receives(
    const Schedule& s, const std::vector<std::vector<Message>>& by_pair, const PairIndex& pairs) {
  std::vector<std::vector<std::vector<Action>>> before(s.ranks);
  for (int r = 0; r < s.ranks; ++r) before[r].resize(s.actions[r].size());
  for (int p = 0; p < static_cast<int>(by_pair.size()); ++p) {
    const auto [src, dst] = pairs.pair(p);
    const auto& messages = by_pair[p];
    // The receive of message i goes before the earliest consumer of messages i..n-1.
    std::vector<int> at(messages.size());
    int earliest = std::numeric_limits<int>::max();
    for (int i = static_cast<int>(messages.size()) - 1; i >= 0; --i) {
      earliest = std::min(earliest, messages[i].consumer_position);
      at[i] = earliest;
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
      // The receive names its own consumer, which may come later than the position it is at.
      const Action& named = s.actions[dst][messages[i].consumer_position];
      const ActionKind kind = named.kind == ActionKind::kForward ? ActionKind::kRecvActivation
                                                                 : ActionKind::kRecvGradient;
      before[dst][at[i]].push_back({kind,
                                    named.microbatch, named.chunk, src});
    }
  }
  return before;
}

}  // namespace

Schedule lower_communication(const Schedule& schedule) {
  if (schedule.is_lowered()) {
    throw_invalid(fmt::format("schedule '{}' already has send/recv actions", schedule.name));
  }
  require_valid_schedule(schedule);
  const StageMap map = make_stage_map(schedule);
  PairIndex pairs;
  const auto by_pair = messages_by_pair(schedule, map, &pairs);
  const auto receives_before = place_receives(schedule, by_pair, pairs);

  Schedule lowered = schedule;
  for (int r = 0; r < schedule.ranks; ++r) {
    const auto& in = schedule.actions[r];
    auto& out = lowered.actions[r];
    out.clear();
    out.reserve(in.size() * 2);
    for (std::size_t i = 0; i < in.size(); ++i) {
      out.insert(out.end(), receives_before[r][i].begin(), receives_before[r][i].end());
      out.push_back(in[i]);
      MessageEnd end;
      if (produced_message(schedule, map, r, in[i], &end)) {
        const ActionKind send = in[i].kind == ActionKind::kForward ? ActionKind::kSendActivation
                                                                   : ActionKind::kSendGradient;
        out.push_back({send, in[i].microbatch, in[i].chunk, end.dst});
      }
    }
  }
  return lowered;
}

}  // namespace pp
