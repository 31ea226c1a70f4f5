// Interleaved 1F1B (Narayanan et al., 2021), in Megatron-LM's order. Rank r holds V chunks; chunk c
// is virtual stage c*K + r. The micro-batches go in groups of K (the last group takes what is
// left, so M need not be a multiple of K); within a group every micro-batch runs chunk 0, then
// chunk 1, and so on. The k-th forward of a rank is entry k of that table; the k-th backward is
// entry k with the chunk mirrored (V-1-c). Rank r runs (K-r-1)*2 + (V-1)*K warm-up forwards
// (at most all of them), then alternates one forward and one backward, then drains.
#include <algorithm>

#include "interleaved_order.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

struct Entry {
  int microbatch;
  int chunk;
};

// Group sizes: M split into max(1, M / K) groups as even as possible, the larger ones first, so
// every group holds at least K micro-batches (or all M when M < K).
std::vector<int> group_sizes(const ScheduleSpec& spec) {
  const int groups = std::max(1, spec.microbatches / spec.ranks);
  std::vector<int> sizes(groups, spec.microbatches / groups);
  for (int g = 0; g < spec.microbatches % groups; ++g) ++sizes[g];
  return sizes;
}

std::vector<Entry> forward_table(const ScheduleSpec& spec) {
  std::vector<Entry> table;
  table.reserve(1LL * spec.microbatches * spec.virtual_stages);
  int first = 0;
  for (int size : group_sizes(spec)) {
    for (int c = 0; c < spec.virtual_stages; ++c) {
      for (int mb = first; mb < first + size; ++mb) table.push_back({mb, c});
    }
    first += size;
  }
  return table;
}

long long warmup_forwards(const ScheduleSpec& spec, int rank) {
  return 2LL * (spec.ranks - rank - 1) + 1LL * (spec.virtual_stages - 1) * group_sizes(spec).front();
}

Action at(const std::vector<Entry>& table, int k, bool forward, int chunks) {
  const Entry& e = table[k];
  const int chunk = forward ? e.chunk : chunks - 1 - e.chunk;
  return {forward ? ActionKind::kForward : ActionKind::kBackward, e.microbatch,
          static_cast<std::int16_t>(chunk), -1};
}

}  // namespace

long long interleaved_peak_chunks(const ScheduleSpec& spec, int rank) {
  return std::min(warmup_forwards(spec, rank) + 1, 1LL * spec.microbatches * spec.virtual_stages);
}

void emit_interleaved_1f1b(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  emit_interleaved_order(spec, rank, out);
}

void emit_interleaved_order(const ScheduleSpec& spec, int rank, std::vector<Action>* out) {
  const std::vector<Entry> table = forward_table(spec);
  const int v = spec.virtual_stages;
  const int total = static_cast<int>(table.size());
  const int warmup = static_cast<int>(std::min<long long>(warmup_forwards(spec, rank), total));
  for (int k = 0; k < warmup; ++k) out->push_back(at(table, k, true, v));
  for (int k = 0; k < total - warmup; ++k) {
    out->push_back(at(table, k + warmup, true, v));
    out->push_back(at(table, k, false, v));
  }
  for (int k = total - warmup; k < total; ++k) out->push_back(at(table, k, false, v));
}

}  // namespace pp
