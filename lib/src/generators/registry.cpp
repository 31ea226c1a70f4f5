#include <fmt/format.h>

#include "pp/error.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

std::string needs_single_chunk(const ScheduleSpec& spec) {
  if (spec.virtual_stages != 1) {
    return fmt::format("runs one chunk per rank (--virtual-stages 1), not {}",
                       spec.virtual_stages);
  }
  return "";
}

std::string interleaved_unsupported(const ScheduleSpec& spec) {
  if (spec.virtual_stages < 2) {
    return "needs --virtual-stages of at least 2 (with 1 it is plain 1f1b)";
  }
  if (spec.microbatches % spec.ranks != 0) {
    return fmt::format("needs the micro-batch count (--microbatches {}) to be a multiple of the "
                       "stage count (--stages {})",
                       spec.microbatches, spec.ranks);
  }
  return "";
}

std::vector<std::vector<int>> default_placement(const ScheduleSpec& spec) {
  return interleaved_placement(spec.ranks, spec.virtual_stages);
}

void check_ranges(const ScheduleSpec& spec) {
  if (spec.ranks < 1 || spec.ranks > kMaxRanks) {
    throw_invalid(fmt::format("--stages must be between 1 and {}, not {}", kMaxRanks, spec.ranks));
  }
  if (spec.microbatches < 1 || spec.microbatches > kMaxMicrobatches) {
    throw_invalid(fmt::format("--microbatches must be between 1 and {}, not {}", kMaxMicrobatches,
                              spec.microbatches));
  }
  if (spec.virtual_stages < 1 || spec.virtual_stages > kMaxVirtualStages) {
    throw_invalid(fmt::format("--virtual-stages must be between 1 and {}, not {}",
                              kMaxVirtualStages, spec.virtual_stages));
  }
  const long long size = 1LL * spec.ranks * spec.virtual_stages * spec.microbatches;
  if (size > kMaxStageMicrobatches) {
    throw_invalid(fmt::format("--stages x --virtual-stages x --microbatches = {} is over pp's limit "
                              "of {}",
                              size, kMaxStageMicrobatches));
  }
}

}  // namespace

const std::vector<ScheduleGenerator>& schedule_generators() {
  static const std::vector<ScheduleGenerator> generators = {
      {"gpipe", "GPipe: all forwards, then all backwards", false, needs_single_chunk,
       default_placement, emit_gpipe},
      {"1f1b", "1F1B (PipeDream-flush): one forward, one backward", false, needs_single_chunk,
       default_placement, emit_1f1b},
      {"interleaved", "interleaved 1F1B, V chunks per rank (Megatron-LM order)", false,
       interleaved_unsupported, default_placement, emit_interleaved_1f1b},
      {"zb-h1", "ZB-H1 zero-bubble: backward split into input and weight gradients", true,
       needs_single_chunk, default_placement, emit_zb_h1},
  };
  return generators;
}

std::string schedule_names() {
  std::string names;
  for (const auto& g : schedule_generators()) {
    if (!names.empty()) names += ", ";
    names += g.name;
  }
  return names;
}

long long lowered_action_bound(const ScheduleGenerator& generator, const ScheduleSpec& spec) {
  const long long compute_kinds = generator.splits_backward ? 3 : 2;
  const long long comm_kinds = 4;  // RECV_F, SEND_F, RECV_B, SEND_B
  const long long units = 1LL * spec.ranks * spec.virtual_stages * spec.microbatches;
  return units * (compute_kinds + comm_kinds) + 2LL * spec.ranks;
}

void check_schedule_size(std::string_view name, const ScheduleSpec& spec) {
  const ScheduleGenerator& generator = find_schedule_generator(name);
  check_ranges(spec);
  const long long actions = lowered_action_bound(generator, spec);
  if (actions > kMaxScheduleActions) {
    throw_invalid(fmt::format(
        "--stages {} x --microbatches {} x --virtual-stages {} makes up to {} actions (about {:.1f} "
        "GB to simulate), over pp's limit of {} actions: use fewer stages or micro-batches",
        spec.ranks, spec.microbatches, spec.virtual_stages, actions,
        static_cast<double>(actions) * kBytesPerAction / 1e9, kMaxScheduleActions));
  }
}

const ScheduleGenerator& find_schedule_generator(std::string_view name) {
  for (const auto& g : schedule_generators()) {
    if (g.name == name) return g;
  }
  throw_invalid(fmt::format("--schedule: unknown schedule '{}' (known: {})", name,
                            schedule_names()));
}

Schedule generate_schedule(std::string_view name, const ScheduleSpec& spec) {
  const ScheduleGenerator& generator = find_schedule_generator(name);
  check_ranges(spec);
  if (std::string why = generator.unsupported(spec); !why.empty()) {
    throw_invalid(fmt::format("schedule '{}' {}", name, why));
  }
  Schedule schedule;
  schedule.name = std::string(name);
  schedule.ranks = spec.ranks;
  schedule.microbatches = spec.microbatches;
  schedule.chunks_per_rank = spec.virtual_stages;
  schedule.placement = generator.placement(spec);
  schedule.actions.resize(spec.ranks);
  for (int r = 0; r < spec.ranks; ++r) {
    auto& out = schedule.actions[r];
    out.reserve(3LL * spec.microbatches * spec.virtual_stages + 2);
    generator.emit_rank(spec, r, &out);
    out.push_back({ActionKind::kReduceGradients, -1, 0, -1});
    out.push_back({ActionKind::kOptimizerStep, -1, 0, -1});
  }
  return schedule;
}

}  // namespace pp
