#include <fmt/format.h>

#include "interleaved_order.h"
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
  return "";
}

std::string zb1p_unsupported(const ScheduleSpec& spec) {
  if (spec.virtual_stages < 2) {
    return "needs --virtual-stages of at least 2 (with 1 use zb-h1 or zb-h2)";
  }
  return "";
}

std::string any_chunks(const ScheduleSpec& spec) {
  return spec.virtual_stages >= 1 ? "" : fmt::format("needs --virtual-stages of at least 1, not {}", spec.virtual_stages);
}

std::string needs_v_shape(const ScheduleSpec& spec) {
  if (spec.virtual_stages != 2) {
    return fmt::format("runs two chunks per rank in V placement (--virtual-stages 2), not {}",
                       spec.virtual_stages);
  }
  return "";
}

std::string dualpipev_unsupported(const ScheduleSpec& spec) {
  if (std::string why = needs_v_shape(spec); !why.empty()) return why;
  if (spec.microbatches < 2 * spec.ranks) {
    return fmt::format("needs at least twice as many micro-batches as stages (--microbatches {} < "
                       "2 x --stages {})",
                       spec.microbatches, spec.ranks);
  }
  return "";
}

// Peak live activations per rank, whole-stage micro-batches (ScheduleGenerator::peak_inflight).
double all_microbatches(const ScheduleSpec& s, int) { return s.microbatches; }
double one_f_one_b_peak(const ScheduleSpec& s, int r) { return std::min(s.ranks - r, s.microbatches); }
double interleaved_peak(const ScheduleSpec& s, int r) {
  return static_cast<double>(interleaved_peak_chunks(s, r)) / s.virtual_stages;
}
double zb_h1_peak(const ScheduleSpec& s, int) { return std::min(s.ranks, s.microbatches); }
double zb_h2_peak(const ScheduleSpec& s, int) { return std::min(2 * s.ranks - 1, s.microbatches); }
double zb1p_peak(const ScheduleSpec& s, int r) {  // interleaved's plus r deferred W's
  return std::min<double>(interleaved_peak(s, r) + double(r) / s.virtual_stages, s.microbatches);
}
double v_half_peak(const ScheduleSpec& s, int) { return std::min(std::max(1, (s.ranks + 2) / 2), s.microbatches); }
double v_min_peak(const ScheduleSpec& s, int) { return std::min(std::max(1, (s.ranks + 4) / 3), s.microbatches); }
double dualpipev_peak(const ScheduleSpec& s, int) { return s.ranks + 0.5; }  // 2K+1 chunks

std::vector<std::vector<int>> default_placement(const ScheduleSpec& spec) {
  return interleaved_placement(spec.ranks, spec.virtual_stages);
}

std::vector<std::vector<int>> v_placement(const ScheduleSpec& spec) { return v_shape_placement(spec.ranks); }

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
       default_placement, emit_gpipe, nullptr, 0, all_microbatches},
      {"1f1b", "1F1B (PipeDream-flush): one forward, one backward", false, needs_single_chunk,
       default_placement, emit_1f1b, nullptr, 0, one_f_one_b_peak},
      {"interleaved", "interleaved 1F1B, V chunks per rank (Megatron-LM order)", false,
       interleaved_unsupported, default_placement, emit_interleaved_1f1b, nullptr, 0, interleaved_peak},
      {"looped-bfs", "looped BFS: every micro-batch through chunk 0, then chunk 1, ...", false,
       any_chunks, default_placement, emit_looped_bfs, nullptr, 0, all_microbatches},
      {"zb-h1", "ZB-H1 zero-bubble: backward split into input and weight gradients", true,
       needs_single_chunk, default_placement, emit_zb_h1, nullptr, 0, zb_h1_peak},
      {"zb-h2", "ZB-H2 zero-bubble: up to 2K-1 micro-batches in flight fill the warm-up", true,
       needs_single_chunk, default_placement, nullptr, build_zb_h2, 0, zb_h2_peak},
      {"zb1p", "interleaved zero-bubble (ZB1P): V chunks, interleaved 1F1B's memory", true,
       zb1p_unsupported, default_placement, emit_zb1p, nullptr, 0, zb1p_peak},
      {"zb-v", "ZB-V: two chunks per rank in V placement, 1F1B's memory", true, needs_v_shape,
       v_placement, emit_zb_v, nullptr, 2, zb_h1_peak},
      {"v-half", "V-Half: V placement at about half of 1F1B's activation memory", true,
       needs_v_shape, v_placement, nullptr, build_v_half, 2, v_half_peak},
      {"v-min", "V-Min: V placement at about a third of 1F1B's activation memory", true,
       needs_v_shape, v_placement, nullptr, build_v_min, 2, v_min_peak},
      {"dualpipev", "DualPipeV: V placement, each forward beside another micro-batch's backward",
       true, dualpipev_unsupported, v_placement, emit_dualpipev, nullptr, 2, dualpipev_peak},
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

void check_schedule_size(std::string_view name, const ScheduleSpec& requested) {
  const ScheduleGenerator& generator = find_schedule_generator(name);
  ScheduleSpec spec = requested;
  spec.virtual_stages = chunks_for(generator, requested.virtual_stages);
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

int chunks_for(const ScheduleGenerator& generator, int requested_virtual_stages) {
  if (generator.fixed_chunks > 0 && requested_virtual_stages == 1) return generator.fixed_chunks;
  return requested_virtual_stages;
}

Schedule generate_schedule(std::string_view name, const ScheduleSpec& requested) {
  const ScheduleGenerator& generator = find_schedule_generator(name);
  ScheduleSpec spec = requested;
  spec.virtual_stages = chunks_for(generator, requested.virtual_stages);
  check_ranges(spec);
  if (std::string why = generator.unsupported(spec); !why.empty()) {
    throw_invalid(fmt::format("schedule '{}' {}", name, why));
  }
  if (generator.build != nullptr) return generator.build(spec);
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
