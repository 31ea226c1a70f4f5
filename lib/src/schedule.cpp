#include "pp/schedule.h"

#include <fmt/format.h>

#include <array>

#include "pp/error.h"

namespace pp {
namespace {

constexpr std::array<std::string_view, kActionKindCount> kKindNames = {
    "F", "B", "I", "W", "SEND_F", "RECV_F", "SEND_B", "RECV_B", "REDUCE", "STEP"};

}  // namespace

bool is_compute(ActionKind kind) {
  return kind == ActionKind::kForward || kind == ActionKind::kBackward ||
         kind == ActionKind::kBackwardInput || kind == ActionKind::kBackwardWeight;
}

bool is_backward_part(ActionKind kind) {
  return kind == ActionKind::kBackward || kind == ActionKind::kBackwardInput;
}

bool is_send(ActionKind kind) {
  return kind == ActionKind::kSendActivation || kind == ActionKind::kSendGradient;
}

bool is_recv(ActionKind kind) {
  return kind == ActionKind::kRecvActivation || kind == ActionKind::kRecvGradient;
}

bool is_comm(ActionKind kind) { return is_send(kind) || is_recv(kind); }

bool is_step_end(ActionKind kind) {
  return kind == ActionKind::kReduceGradients || kind == ActionKind::kOptimizerStep;
}

std::string_view action_kind_name(ActionKind kind) {
  return kKindNames[static_cast<std::size_t>(kind)];
}

bool parse_action_kind(std::string_view name, ActionKind* kind) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) {
      *kind = static_cast<ActionKind>(i);
      return true;
    }
  }
  return false;
}

std::string action_label(const Action& action, int chunks_per_rank) {
  if (is_step_end(action.kind)) return std::string(action_kind_name(action.kind));
  std::string label;
  switch (action.kind) {
    case ActionKind::kSendActivation:
    case ActionKind::kRecvActivation: label = "F"; break;
    case ActionKind::kSendGradient:
    case ActionKind::kRecvGradient: label = "B"; break;
    default: label = std::string(action_kind_name(action.kind));
  }
  label += std::to_string(action.microbatch);
  if (chunks_per_rank > 1 || action.chunk != 0) label += fmt::format(".{}", action.chunk);
  if (is_send(action.kind)) label += fmt::format(">r{}", action.peer);
  if (is_recv(action.kind)) label += fmt::format("<r{}", action.peer);
  return label;
}

bool Schedule::is_lowered() const {
  for (const auto& rank_actions : actions) {
    for (const Action& a : rank_actions) {
      if (is_comm(a.kind)) return true;
    }
  }
  return false;
}

std::size_t Schedule::action_count() const {
  std::size_t n = 0;
  for (const auto& rank_actions : actions) n += rank_actions.size();
  return n;
}

std::vector<std::vector<int>> interleaved_placement(int ranks, int chunks_per_rank) {
  std::vector<std::vector<int>> placement(ranks, std::vector<int>(chunks_per_rank));
  for (int r = 0; r < ranks; ++r) {
    for (int c = 0; c < chunks_per_rank; ++c) placement[r][c] = c * ranks + r;
  }
  return placement;
}

std::vector<std::vector<int>> v_shape_placement(int ranks) {
  std::vector<std::vector<int>> placement(ranks, std::vector<int>(2));
  for (int r = 0; r < ranks; ++r) {
    placement[r][0] = r;
    placement[r][1] = 2 * ranks - 1 - r;
  }
  return placement;
}

std::vector<int> rank_of_each_stage(const std::vector<std::vector<int>>& placement) {
  std::size_t stages = 0;
  for (const auto& chunks : placement) stages += chunks.size();
  std::vector<int> rank_of(stages, 0);
  for (std::size_t r = 0; r < placement.size(); ++r) {
    for (int stage : placement[r]) rank_of[stage] = static_cast<int>(r);
  }
  return rank_of;
}

int StageMap::stage_of(int rank, int chunk) const { return placement[rank][chunk]; }

StageMap make_stage_map(const Schedule& schedule) {
  const int stages = schedule.stage_count();
  if (static_cast<int>(schedule.placement.size()) != schedule.ranks) {
    throw_invalid(fmt::format("placement: expected {} ranks, found {}", schedule.ranks,
                              schedule.placement.size()));
  }
  StageMap map;
  map.rank_of_stage.assign(stages, -1);
  map.chunk_of_stage.assign(stages, -1);
  map.placement = schedule.placement;
  for (int r = 0; r < schedule.ranks; ++r) {
    const auto& chunks = schedule.placement[r];
    if (static_cast<int>(chunks.size()) != schedule.chunks_per_rank) {
      throw_invalid(fmt::format("placement[{}]: expected {} chunks, found {}", r,
                                schedule.chunks_per_rank, chunks.size()));
    }
    for (int c = 0; c < schedule.chunks_per_rank; ++c) {
      const int stage = chunks[c];
      if (stage < 0 || stage >= stages) {
        throw_invalid(fmt::format("placement[{}][{}]: stage {} is outside 0..{}", r, c, stage,
                                  stages - 1));
      }
      if (map.rank_of_stage[stage] != -1) {
        throw_invalid(fmt::format("placement[{}][{}]: stage {} is already placed on rank {}", r,
                                  c, stage, map.rank_of_stage[stage]));
      }
      map.rank_of_stage[stage] = r;
      map.chunk_of_stage[stage] = c;
    }
  }
  return map;
}

}  // namespace pp
