#include "pp/planner/partitioner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pp/error.h"

// How the optimum is found. A time bound T is feasible when some partition keeps every stage
// within T and the memory limit; partition_layers() bisects T between the slowest single layer
// and the whole model, then reads the partition off the smallest feasible T.
//
// The feasibility check is the greedy "each stage takes as many layers as fit" generalised to
// stage-dependent memory. The plain greedy is exact only when a stage's memory does not depend on
// its index: with inflight[s] varying, running ahead can push a layer into a stage where it does
// not fit even alone (inflight {2, 2, 1}, a layer whose activations fit once but not twice: the
// greedy fills stages 0 and 1 and strands it in stage 1). So the check keeps, for each s, the set
// of layer boundaries the first s stages can end at, as sorted spans. When every layer fits alone
// in every stage that set is one span and the check is exactly the greedy, O(layers); layers that
// do not fit alone in the most loaded stage ("blockers") split it into a few more.

namespace pp {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr int kMaxBisections = 200;  // bisection stops earlier, when the interval stops shrinking

// Totals of a contiguous layer range, accumulated left to right. Every function here sums in this
// one order, so a range's time and memory are the same number whichever function asks, and (since
// rounding is monotone and every value is >= 0) they never shrink when the range gains a layer at
// either end. That monotonicity is all the search relies on.
struct RangeTotals {
  double time_ms = 0;
  double static_bytes = 0;
  double activation_bytes = 0;
  double max_transient_bytes = 0;

  void add(const PartitionLayer& layer) {
    time_ms += layer.time_ms;
    static_bytes += layer.static_bytes;
    activation_bytes += layer.activation_bytes;
    max_transient_bytes = std::max(max_transient_bytes, layer.transient_bytes);
  }
  double memory_bytes(double inflight) const {
    return static_bytes + inflight * activation_bytes + max_transient_bytes;
  }
};

int layer_count(const PartitionRequest& request) {
  return static_cast<int>(request.layers.size());
}

double inflight_of(const PartitionRequest& request, int stage) {
  return request.inflight.empty() ? 1.0 : request.inflight[static_cast<std::size_t>(stage)];
}

double max_inflight(const PartitionRequest& request) {
  if (request.inflight.empty()) return 1.0;
  return *std::max_element(request.inflight.begin(), request.inflight.end());
}

bool same_inflight_everywhere(const PartitionRequest& request) {
  const auto [low, high] = std::minmax_element(request.inflight.begin(), request.inflight.end());
  return request.inflight.empty() || *low == *high;
}

// The limit as a number to compare against: no limit is +infinity.
double limit_of(const PartitionRequest& request) {
  return request.memory_limit_bytes > 0 ? request.memory_limit_bytes : kInfinity;
}

RangeTotals totals_of(const PartitionRequest& request, int begin, int end) {
  RangeTotals totals;
  for (int i = begin; i < end; ++i) totals.add(request.layers[static_cast<std::size_t>(i)]);
  return totals;
}

// Memory of `layer` alone in a stage with `inflight` micro-batches in flight.
double single_layer_bytes(const PartitionLayer& layer, double inflight) {
  RangeTotals totals;
  totals.add(layer);
  return totals.memory_bytes(inflight);
}

std::string plural(int count, const char* noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

// Throws pp::Error (kInvalidInput) unless [begin, end) is a range of the request's layers.
void check_range(const PartitionRequest& request, int begin, int end) {
  if (begin >= 0 && begin <= end && end <= layer_count(request)) return;
  throw_invalid(fmt::format("partition: no layer range [{}, {}) in a model of {}", begin, end,
                            plural(layer_count(request), "layer")));
}

// ---- validation -------------------------------------------------------------------------------

void check_layer_value(std::size_t layer, const char* field, double value) {
  if (std::isfinite(value) && value >= 0) return;
  throw_invalid(fmt::format("partition: layer {} has {} = {}; it must be a finite number >= 0",
                            layer, field, value));
}

void check_inflight(const PartitionRequest& request) {
  const std::size_t stages = static_cast<std::size_t>(request.stages);
  if (!request.inflight.empty() && request.inflight.size() != stages) {
    throw_invalid(fmt::format("partition: inflight has {} entries for {} (give one per stage, or "
                              "none for 1 each)",
                              request.inflight.size(), plural(request.stages, "stage")));
  }
  for (std::size_t s = 0; s < request.inflight.size(); ++s) {
    const double value = request.inflight[s];
    if (std::isfinite(value) && value >= 0) continue;
    throw_invalid(fmt::format("partition: inflight[{}] = {}; it must be a finite number >= 0", s,
                              value));
  }
}

// Throws pp::Error (kInvalidInput) unless the request is well-formed.
void validate(const PartitionRequest& request) {
  if (request.stages < 1) {
    throw_invalid(fmt::format("partition: stages must be at least 1 (got {})", request.stages));
  }
  for (std::size_t i = 0; i < request.layers.size(); ++i) {
    const PartitionLayer& layer = request.layers[i];
    check_layer_value(i, "time_ms", layer.time_ms);
    check_layer_value(i, "static_bytes", layer.static_bytes);
    check_layer_value(i, "activation_bytes", layer.activation_bytes);
    check_layer_value(i, "transient_bytes", layer.transient_bytes);
  }
  check_inflight(request);
  if (std::isnan(request.memory_limit_bytes)) {
    throw_invalid("partition: the memory limit is not a number");
  }
}

// ---- the feasibility check --------------------------------------------------------------------

// For one memory limit and a time bound: the layer boundaries at which the first s stages can
// end, for every s, and from them one partition that fits. Reusable across time bounds.
class ReachSearch {
 public:
  // Precondition: `request` is valid and has at least as many layers as stages.
  ReachSearch(const PartitionRequest& request, double memory_limit_bytes);

  // Whether some partition keeps every stage within time_bound_ms and the memory limit.
  bool feasible(double time_bound_ms);

  // first_layer (size stages+1) of one such partition; only after feasible() returned true.
  std::vector<int> first_layers() const;

 private:
  struct Span {  // boundaries first..last, inclusive
    int first;
    int last;
  };
  using Spans = std::vector<Span>;

  bool fits_alone(int stage, int layer) const;
  void advance(int stage);
  void add_single_layer_ends(int stage, Span starts, Spans& ends) const;
  int extend(int stage, int begin, int end_bound) const;
  static void append(Spans& spans, int first, int last);
  static int latest_before(const Spans& spans, int end);

  const PartitionRequest& request_;
  int layers_;
  int stages_;
  double limit_;
  double max_layer_ms_ = 0;
  double time_bound_ = kInfinity;
  std::vector<int> blockers_;  // layers that do not fit alone in the most loaded stage, ascending
  std::vector<Spans> reach_;   // reach_[s]: where stages 0..s-1 can end; reach_[0] = {0}
};

ReachSearch::ReachSearch(const PartitionRequest& request, double memory_limit_bytes)
    : request_(request),
      layers_(layer_count(request)),
      stages_(request.stages),
      limit_(memory_limit_bytes),
      reach_(static_cast<std::size_t>(request.stages) + 1) {
  const double inflight = max_inflight(request);
  for (int i = 0; i < layers_; ++i) {
    const PartitionLayer& layer = request.layers[static_cast<std::size_t>(i)];
    max_layer_ms_ = std::max(max_layer_ms_, layer.time_ms);
    if (single_layer_bytes(layer, inflight) > limit_) blockers_.push_back(i);
  }
}

bool ReachSearch::feasible(double time_bound_ms) {
  if (!(time_bound_ms >= max_layer_ms_)) return false;  // some layer is slower on its own
  time_bound_ = time_bound_ms;
  reach_[0] = {{0, 0}};
  for (int s = 0; s < stages_; ++s) {
    advance(s);
    if (reach_[static_cast<std::size_t>(s) + 1].empty()) return false;
  }
  return reach_.back().back().last == layers_;
}

bool ReachSearch::fits_alone(int stage, int layer) const {
  const PartitionLayer& l = request_.layers[static_cast<std::size_t>(layer)];
  return l.time_ms <= time_bound_ &&
         single_layer_bytes(l, inflight_of(request_, stage)) <= limit_;
}

// reach_[stage] -> reach_[stage + 1]. From a span of starts b in [first, last], stage `stage`
// can end at b+1 wherever layer b fits alone (a longer stage ending there would hold it too),
// and beyond last+1 exactly as far as a stage starting at `last` extends. Ends inside the next
// span's reach are left to that span, so no layer is scanned twice.
void ReachSearch::advance(int stage) {
  const Spans& starts = reach_[static_cast<std::size_t>(stage)];
  Spans& ends = reach_[static_cast<std::size_t>(stage) + 1];
  ends.clear();
  const int cap = layers_ - (stages_ - 1 - stage);  // later stages need a layer each
  for (std::size_t i = 0; i < starts.size() && starts[i].first < cap; ++i) {
    const Span span{starts[i].first, std::min(starts[i].last, cap - 1)};
    add_single_layer_ends(stage, span, ends);
    const int bound = i + 1 < starts.size() ? std::min(starts[i + 1].first, cap) : cap;
    const int end = extend(stage, span.last, bound);
    if (end >= span.last + 2) append(ends, span.last + 2, end);
  }
}

// Ends b+1 for every start b in `starts` whose layer b fits alone in `stage`.
void ReachSearch::add_single_layer_ends(int stage, Span starts, Spans& ends) const {
  int run_first = starts.first;  // first start of the current run of layers that fit alone
  auto it = std::lower_bound(blockers_.begin(), blockers_.end(), starts.first);
  for (; it != blockers_.end() && *it <= starts.last; ++it) {
    if (fits_alone(stage, *it)) continue;
    if (run_first < *it) append(ends, run_first + 1, *it);
    run_first = *it + 1;
  }
  if (run_first <= starts.last) append(ends, run_first + 1, starts.last + 1);
}

// The largest end e <= end_bound such that layers [begin, e) fit in `stage` (begin if none).
int ReachSearch::extend(int stage, int begin, int end_bound) const {
  const double inflight = inflight_of(request_, stage);
  RangeTotals totals;
  int end = begin;
  while (end < end_bound) {
    totals.add(request_.layers[static_cast<std::size_t>(end)]);
    if (totals.time_ms > time_bound_ || totals.memory_bytes(inflight) > limit_) break;
    ++end;
  }
  return end;
}

// Appends boundaries first..last to ascending `spans`, merging with the last span if they touch.
void ReachSearch::append(Spans& spans, int first, int last) {
  if (!spans.empty() && first <= spans.back().last + 1) {
    spans.back().last = std::max(spans.back().last, last);
  } else {
    spans.push_back({first, last});
  }
}

// The largest boundary in `spans` below `end` (one exists when `end` was reached from `spans`).
int ReachSearch::latest_before(const Spans& spans, int end) {
  auto it = std::upper_bound(spans.begin(), spans.end(), end - 1,
                             [](int value, const Span& span) { return value < span.first; });
  return std::min(std::prev(it)->last, end - 1);
}

// Walking back from the last boundary, each stage starts at the latest boundary its predecessors
// can reach: the shortest stage ending there, which fits if any does.
std::vector<int> ReachSearch::first_layers() const {
  std::vector<int> first(static_cast<std::size_t>(stages_) + 1);
  first.back() = layers_;
  for (int s = stages_ - 1; s >= 0; --s) {
    const std::size_t index = static_cast<std::size_t>(s);
    first[index] = latest_before(reach_[index], first[index + 1]);
  }
  return first;
}

// ---- results and reasons ----------------------------------------------------------------------

// A partition with its stage times and memory filled in; feasible when every stage fits.
Partition describe(const PartitionRequest& request, std::vector<int> first_layer) {
  Partition result;
  result.first_layer = std::move(first_layer);
  const double limit = limit_of(request);
  result.feasible = true;
  for (int s = 0; s < request.stages; ++s) {
    const int begin = result.first_layer[static_cast<std::size_t>(s)];
    const int end = result.first_layer[static_cast<std::size_t>(s) + 1];
    result.stage_ms.push_back(stage_time_ms(request, begin, end));
    result.stage_bytes.push_back(stage_memory_bytes(request, s, begin, end));
    result.max_stage_ms = std::max(result.max_stage_ms, result.stage_ms.back());
    if (result.stage_bytes.back() > limit) result.feasible = false;
  }
  return result;
}

Partition infeasible(std::string why) {
  Partition result;
  result.why_infeasible = std::move(why);
  return result;
}

std::string too_few_layers(const PartitionRequest& request) {
  return fmt::format("cannot split {} into {}: every stage needs at least one layer",
                     plural(layer_count(request), "layer"), plural(request.stages, "stage"));
}

// `bytes` in the unit that suits `scale`, with `decimals` decimals.
std::string format_bytes(double bytes, double scale, int decimals) {
  constexpr double kKiB = 1024.0;
  constexpr double kMiB = kKiB * kKiB;
  constexpr double kGiB = kMiB * kKiB;
  if (scale >= kGiB) return fmt::format("{:.{}f} GiB", bytes / kGiB, decimals);
  if (scale >= kMiB) return fmt::format("{:.{}f} MiB", bytes / kMiB, decimals);
  if (scale >= kKiB) return fmt::format("{:.{}f} KiB", bytes / kKiB, decimals);
  return fmt::format("{:.{}f} B", bytes, decimals);
}

// `need` and `limit` in the limit's unit, with enough decimals that they read differently.
std::pair<std::string, std::string> format_need_and_limit(double need, double limit) {
  std::pair<std::string, std::string> text;
  for (int decimals = 1; decimals <= 6; ++decimals) {
    text = {format_bytes(need, limit, decimals), format_bytes(limit, limit, decimals)};
    if (text.first != text.second) break;
  }
  return text;
}

// The stages layer `layer` can go to when every stage holds at least one layer.
std::pair<int, int> stages_open_to(const PartitionRequest& request, int layer) {
  const int spare = layer_count(request) - request.stages;
  return {std::max(0, layer - spare), std::min(request.stages - 1, layer)};
}

// Where a layer that does not fit even alone would need least: "a stage" when every stage keeps
// the same number of micro-batches, otherwise the least loaded stage it can go to.
std::string least_loaded_place(const PartitionRequest& request, int layer) {
  const auto [first, last] = stages_open_to(request, layer);
  if (same_inflight_everywhere(request) && first < last) return "a stage";
  int best = first;
  for (int s = first + 1; s <= last; ++s) {
    if (inflight_of(request, s) < inflight_of(request, best)) best = s;
  }
  return fmt::format("stage {}, {}", best,
                     first == last ? "the only one it can go to" : "its least loaded option");
}

// The layer that fits least alone in the least loaded stage it can go to, if even that is over
// the limit.
std::optional<std::string> layer_too_big(const PartitionRequest& request, double limit) {
  double worst_need = limit;
  int worst_layer = -1;
  for (int i = 0; i < layer_count(request); ++i) {
    const auto [first, last] = stages_open_to(request, i);
    double inflight = inflight_of(request, first);
    for (int s = first + 1; s <= last; ++s) inflight = std::min(inflight, inflight_of(request, s));
    const double need = single_layer_bytes(request.layers[static_cast<std::size_t>(i)], inflight);
    if (need > worst_need) {
      worst_need = need;
      worst_layer = i;
    }
  }
  if (worst_layer < 0) return std::nullopt;
  const auto [need, limit_text] = format_need_and_limit(worst_need, limit);
  return fmt::format("layer {} needs at least {} (limit {}) even alone in {}", worst_layer, need,
                     limit_text, least_loaded_place(request, worst_layer));
}

// The stage that fits least with the smallest single layer it can hold, if that is over the limit.
std::optional<std::string> stage_too_small(const PartitionRequest& request, double limit) {
  const int spare = layer_count(request) - request.stages;
  double worst_need = limit;
  int worst_stage = -1;
  for (int s = 0; s < request.stages; ++s) {
    double need = kInfinity;
    for (int i = s; i <= s + spare; ++i) {
      need = std::min(need, single_layer_bytes(request.layers[static_cast<std::size_t>(i)],
                                               inflight_of(request, s)));
    }
    if (need > worst_need) {
      worst_need = need;
      worst_stage = s;
    }
  }
  if (worst_stage < 0) return std::nullopt;
  const auto [need, limit_text] = format_need_and_limit(worst_need, limit);
  return fmt::format("stage {} needs at least {} (limit {}) even with a single layer", worst_stage,
                     need, limit_text);
}

// The smallest limit some partition fits in (bisection on the limit, with no time bound), and
// the partition that attains it.
std::pair<double, std::vector<int>> smallest_peak(const PartitionRequest& request, double limit) {
  double low = limit;  // infeasible
  double high = totals_of(request, 0, layer_count(request)).memory_bytes(max_inflight(request));
  for (int i = 0; i < kMaxBisections; ++i) {
    const double middle = low + (high - low) / 2;
    if (!(middle > low && middle < high)) break;
    (ReachSearch(request, middle).feasible(kInfinity) ? high : low) = middle;
  }
  ReachSearch search(request, high);
  search.feasible(kInfinity);
  return {high, search.first_layers()};
}

std::string peak_too_high(const PartitionRequest& request, double limit) {
  const auto [peak, first_layer] = smallest_peak(request, limit);
  const Partition best = describe(request, first_layer);
  const auto peak_stage = std::max_element(best.stage_bytes.begin(), best.stage_bytes.end()) -
                          best.stage_bytes.begin();
  const auto [peak_text, limit_text] = format_need_and_limit(peak, limit);
  return fmt::format("no partition into {} fits in {}: the smallest possible peak is {} (stage {})",
                     plural(request.stages, "stage"), limit_text, peak_text, peak_stage);
}

// Why no partition fits in memory, most specific reason first.
std::string why_memory_infeasible(const PartitionRequest& request) {
  const double limit = limit_of(request);
  if (auto why = stage_too_small(request, limit)) return *why;
  if (auto why = layer_too_big(request, limit)) return *why;
  return peak_too_high(request, limit);
}

// The smallest feasible time bound, by bisection; `high` must be feasible.
double smallest_time_bound(ReachSearch& search, double low, double high) {
  if (search.feasible(low)) return low;
  for (int i = 0; i < kMaxBisections; ++i) {
    const double middle = low + (high - low) / 2;
    if (!(middle > low && middle < high)) break;
    (search.feasible(middle) ? high : low) = middle;
  }
  return high;
}

double slowest_layer_ms(const PartitionRequest& request) {
  double slowest = 0;
  for (const PartitionLayer& layer : request.layers) slowest = std::max(slowest, layer.time_ms);
  return slowest;
}

// Why the uniform partition does not fit: its stage furthest over the limit.
std::string uniform_overflow(const PartitionRequest& request, const Partition& uniform) {
  const auto worst = std::max_element(uniform.stage_bytes.begin(), uniform.stage_bytes.end()) -
                     uniform.stage_bytes.begin();
  const std::size_t s = static_cast<std::size_t>(worst);
  const auto [need, limit_text] =
      format_need_and_limit(uniform.stage_bytes[s], limit_of(request));
  return fmt::format("stage {} (layers {}-{}) needs {} (limit {})", s, uniform.first_layer[s],
                     uniform.first_layer[s + 1] - 1, need, limit_text);
}

}  // namespace

Partition partition_layers(const PartitionRequest& request) {
  validate(request);
  if (layer_count(request) < request.stages) return infeasible(too_few_layers(request));
  ReachSearch search(request, limit_of(request));
  const double total_ms = totals_of(request, 0, layer_count(request)).time_ms;
  if (!search.feasible(total_ms)) return infeasible(why_memory_infeasible(request));
  const double bound = smallest_time_bound(search, slowest_layer_ms(request), total_ms);
  search.feasible(bound);
  return describe(request, search.first_layers());
}

Partition uniform_partition(const PartitionRequest& request) {
  validate(request);
  const int layers = layer_count(request);
  if (layers < request.stages) return infeasible(too_few_layers(request));
  std::vector<int> first_layer(static_cast<std::size_t>(request.stages) + 1, 0);
  for (int s = 0; s < request.stages; ++s) {
    const int size = layers / request.stages + (s < layers % request.stages ? 1 : 0);
    first_layer[static_cast<std::size_t>(s) + 1] = first_layer[static_cast<std::size_t>(s)] + size;
  }
  Partition result = describe(request, std::move(first_layer));
  if (!result.feasible) result.why_infeasible = uniform_overflow(request, result);
  return result;
}

double stage_time_ms(const PartitionRequest& request, int begin, int end) {
  check_range(request, begin, end);
  return totals_of(request, begin, end).time_ms;
}

double stage_memory_bytes(const PartitionRequest& request, int stage, int begin, int end) {
  check_range(request, begin, end);
  const bool listed = request.inflight.empty() || stage < static_cast<int>(request.inflight.size());
  if (stage < 0 || stage >= request.stages || !listed) {
    throw_invalid(fmt::format("partition: no stage {} among {} (inflight has {} entries)", stage,
                              plural(request.stages, "stage"), request.inflight.size()));
  }
  return totals_of(request, begin, end).memory_bytes(inflight_of(request, stage));
}

}  // namespace pp
