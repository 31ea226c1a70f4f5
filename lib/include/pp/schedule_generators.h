#pragma once
// Schedule generators: each produces the compute actions of one well-known pipeline schedule
// (plus the step-end REDUCE and STEP on every rank). Communication is added afterwards by
// lower_communication(). A new schedule is one generator file plus one row in the registry
// (lib/src/generators/registry.cpp).

#include <string>
#include <string_view>
#include <vector>

#include "pp/schedule.h"

namespace pp {

struct ScheduleSpec {
  int ranks = 1;           // K: pipeline ranks
  int microbatches = 1;    // M: micro-batches per global batch
  int virtual_stages = 1;  // V: model chunks per rank
};

// Sizes a schedule may have; larger requests are rejected as invalid input.
inline constexpr int kMaxRanks = 4096;
inline constexpr int kMaxMicrobatches = 1 << 20;
inline constexpr int kMaxVirtualStages = 64;
inline constexpr long long kMaxStageMicrobatches = 1LL << 24;  // M * K * V
// The most actions a schedule may have once lowered (sends and receives included). Simulating
// takes about kBytesPerAction of memory per action (the schedule, its lowered copy, the timeline
// and the metrics' views), so the limit keeps `pp simulate` under about 1 GB (docs/simulate.md).
inline constexpr long long kMaxScheduleActions = 1LL << 23;
inline constexpr long long kBytesPerAction = 110;

struct ScheduleGenerator {
  std::string_view name;         // the --schedule name, e.g. "1f1b"
  std::string_view description;  // one line for --help and tables
  bool splits_backward;          // emits I and W instead of B
  // Returns an empty string when the generator supports the spec, else why not (one line).
  std::string (*unsupported)(const ScheduleSpec& spec);
  // The placement of stages on ranks for this spec.
  std::vector<std::vector<int>> (*placement)(const ScheduleSpec& spec);
  // Appends the compute actions of `rank` in execution order (per-rank generators), or null.
  void (*emit_rank)(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
  // Builds every rank's compute actions with REDUCE and STEP at once (play-out generators), or
  // null. Exactly one of emit_rank and build is set.
  Schedule (*build)(const ScheduleSpec& spec) = nullptr;
  // Chunks per rank the schedule always has (2 for the V-shape ones), or 0 when it takes
  // --virtual-stages. A fixed count accepts --virtual-stages 1 (the default) or that count.
  int fixed_chunks = 0;
  // The closed form of the peak live activations on `rank`, in micro-batches of a whole stage
  // (each chunk 1/V), with uniform stages: exact for the rule-based schedules, the memory limit
  // for the list-scheduled ones (which may stay under it). The planner screens layouts with it
  // and simulates its finalists.
  double (*peak_inflight)(const ScheduleSpec& spec, int rank) = nullptr;
};

// The registry, in the order tables list them: gpipe, 1f1b, interleaved, looped-bfs, zb-h1,
// zb-h2, zb1p, zb-v, v-half, v-min, dualpipev.
const std::vector<ScheduleGenerator>& schedule_generators();

// An upper bound of the actions of the generator's schedule for `spec` once lowered, computed
// without generating it: per (stage, micro-batch) its compute actions (F and B, or F, I and W)
// and up to four sends and receives, plus REDUCE and STEP per rank.
long long lowered_action_bound(const ScheduleGenerator& generator, const ScheduleSpec& spec);

// Throws pp::Error(kInvalidInput) naming the flags when the lowered schedule `name` for `spec`
// could have more than kMaxScheduleActions actions (or `spec` is out of range). Checked before
// simulating, so that a request too large for memory is refused before any memory is taken.
void check_schedule_size(std::string_view name, const ScheduleSpec& spec);

// Throws pp::Error(kInvalidInput) listing the known names when `name` is unknown.
const ScheduleGenerator& find_schedule_generator(std::string_view name);

// Comma-separated known names, for messages and help.
std::string schedule_names();

// Generates the (unlowered) schedule. Throws pp::Error(kInvalidInput) with a one-line reason when
// the spec is out of range or the schedule is not defined for it (say dualpipev with M < 2K).
// A V-shape schedule given --virtual-stages 1 runs its 2 chunks (chunks_for).
Schedule generate_schedule(std::string_view name, const ScheduleSpec& spec);

// Generator entry points (one file each under lib/src/generators/).
void emit_gpipe(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
void emit_1f1b(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
void emit_interleaved_1f1b(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
void emit_zb_h1(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
void emit_looped_bfs(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
void emit_dualpipev(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
Schedule build_zb_h2(const ScheduleSpec& spec);
void emit_zb1p(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
void emit_zb_v(const ScheduleSpec& spec, int rank, std::vector<Action>* out);
Schedule build_v_half(const ScheduleSpec& spec);
Schedule build_v_min(const ScheduleSpec& spec);

// The chunks per rank `generator` runs for a requested --virtual-stages: its fixed count when it
// has one and 1 was asked (the default), else what was asked.
int chunks_for(const ScheduleGenerator& generator, int requested_virtual_stages);

}  // namespace pp
