#include "pp/planner/schedule_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "pp/error.h"
#include "pp/list_scheduler.h"
#include "pp/lowering.h"
#include "pp/planner/simulator.h"
#include "pp/schedule_generators.h"
#include "pp/timeline.h"
#include "pp/validator.h"

namespace pp {
namespace {

constexpr double kEps = 1e-9;

struct Evaluated {
  Schedule compute;  // unlowered, the form moves work on
  Schedule lowered;
  double makespan_ms = 0;
  double peak = 0;
};

// Lowers, validates and simulates; nothing when the order is not a valid schedule.
std::optional<Evaluated> evaluate(Schedule compute, const PerRankCosts& costs) {
  Schedule lowered;
  try {
    lowered = lower_communication(compute);
  } catch (const Error&) {
    return std::nullopt;  // an order the lowering cannot match (a move that breaks a dependency)
  }
  if (!validate_schedule(lowered).ok()) return std::nullopt;
  const CostModel model = per_rank_cost_model(lowered, costs);
  const TimelineMetrics m = compute_metrics(simulate(lowered, model));
  double peak = 0;
  for (const RankMetrics& r : m.ranks) peak = std::max(peak, r.peak_inflight_microbatches);
  return Evaluated{std::move(compute), std::move(lowered), m.makespan_ms, peak};
}

bool better(const Evaluated& a, const std::optional<Evaluated>& b) {
  return !b || a.makespan_ms < b->makespan_ms - kEps;
}

// The chunk counts a catalogue schedule is tried with: its fixed count, else 1 and 2.
std::vector<int> chunk_options(const ScheduleGenerator& g) {
  if (g.fixed_chunks > 0) return {g.fixed_chunks};
  return {1, 2};
}

// Every catalogue schedule that is defined here, simulated on the costs.
std::vector<CatalogueCandidate> simulate_catalogue(const AutoScheduleRequest& r, double limit,
                                                   std::optional<Evaluated>* best, std::string* best_name) {
  std::vector<CatalogueCandidate> out;
  for (const ScheduleGenerator& g : schedule_generators()) {
    for (int v : chunk_options(g)) {
      CatalogueCandidate c{std::string(g.name), v};
      c.unsupported = g.unsupported({r.ranks, r.microbatches, v});
      if (!c.unsupported.empty()) {
        if (g.fixed_chunks > 0) out.push_back(c);  // say why the V-shape one is missing
        continue;
      }
      std::optional<Evaluated> e = evaluate(generate_schedule(g.name, {r.ranks, r.microbatches, v}), r.costs);
      if (!e) continue;  // every generator is valid (tested); kept defensive
      c.makespan_ms = e->makespan_ms;
      c.peak = e->peak;
      c.fits = e->peak <= limit + kEps;
      if (c.fits && better(*e, *best)) {
        *best = std::move(e);
        *best_name = v > 1 && g.fixed_chunks == 0 ? fmt::format("{} V={}", g.name, v) : std::string(g.name);
      }
      out.push_back(c);
    }
  }
  return out;
}

// A schedule with a placement and no actions, to cost the placement's stages.
Schedule placement_stub(const AutoScheduleRequest& r, const std::vector<std::vector<int>>& placement) {
  Schedule stub;
  stub.ranks = r.ranks;
  stub.microbatches = r.microbatches;
  stub.chunks_per_rank = static_cast<int>(placement.front().size());
  stub.placement = placement;
  stub.actions.resize(r.ranks);
  return stub;
}

// The list scheduler on the real costs of one placement.
Schedule list_scheduled(const AutoScheduleRequest& r, double limit, std::vector<std::vector<int>> placement) {
  const Schedule stub = placement_stub(r, placement);
  const CostModel model = per_rank_cost_model(stub, r.costs);
  ListScheduleRequest q;
  q.name = "auto";
  q.ranks = r.ranks;
  q.microbatches = r.microbatches;
  q.chunks_per_rank = stub.chunks_per_rank;
  q.placement = std::move(placement);
  for (const ComputeCost& c : model.stage) {
    q.forward.push_back(c.forward_ms);
    q.input_grad.push_back(c.input_grad_ms());
    q.weight_grad.push_back(c.wgrad_ms);
  }
  for (const LinkCost& link : model.boundary) q.p2p = std::max(q.p2p, link.transfer_ms());
  q.memory_limit.assign(r.ranks, limit);
  return list_schedule(q);
}

// Local search: move one W a place earlier or later on its rank; keep the first move that helps.
int improve_by_weight_moves(const AutoScheduleRequest& r, double limit, Evaluated* best) {
  const long long actions = static_cast<long long>(best->lowered.action_count());
  long long budget = r.search_evaluations > 0 ? r.search_evaluations
                                              : std::clamp<long long>(kSearchActions / std::max(1LL, actions), 20, 2000);
  int moves = 0;
  for (bool improved = true; improved && budget > 0;) {
    improved = false;
    for (int rank = 0; rank < r.ranks && budget > 0; ++rank) {
      // (re-read after every accepted move: *best is replaced)
      for (std::size_t i = 0; i < best->compute.actions[rank].size() && budget > 0; ++i) {
        const std::vector<Action>& list = best->compute.actions[rank];
        if (list[i].kind != ActionKind::kBackwardWeight) continue;
        for (int step : {-1, +1}) {
          const std::size_t j = i + step;
          if (j >= list.size() || !is_compute(list[j].kind)) continue;
          if (list[j].microbatch == list[i].microbatch && list[j].chunk == list[i].chunk) continue;
          Schedule moved = best->compute;
          std::swap(moved.actions[rank][i], moved.actions[rank][j]);
          --budget;
          std::optional<Evaluated> e = evaluate(std::move(moved), r.costs);
          if (e && e->peak <= limit + kEps && better(*e, *best)) {
            *best = std::move(*e);
            ++moves;
            improved = true;
            break;
          }
        }
      }
    }
  }
  return moves;
}

const char* placement_name(int index) {
  static const char* names[] = {"one chunk per rank", "two interleaved chunks per rank", "V placement"};
  return names[index];
}

}  // namespace

double makespan_lower_bound(const CostModel& costs, const StageMap& map, int microbatches) {
  const int stages = static_cast<int>(costs.stage.size());
  const int ranks = static_cast<int>(map.placement.size());
  std::vector<double> reach(stages, 0), chain_below(stages, 0);  // mb 0's forward; I's below
  for (int v = 1; v < stages; ++v) {
    const double link = costs.boundary[v - 1].transfer_ms();
    reach[v] = reach[v - 1] + costs.stage[v - 1].forward_ms + link;
    chain_below[v] = chain_below[v - 1] + costs.stage[v - 1].input_grad_ms() + link;
  }
  const double round_trip = reach[stages - 1] + costs.stage[stages - 1].forward_ms +
                            chain_below[stages - 1] + costs.stage[stages - 1].input_grad_ms();
  double bound = round_trip;
  for (int r = 0; r < ranks; ++r) {
    double work = costs.duration_ms(ActionKind::kReduceGradients, 0, r) +
                  costs.duration_ms(ActionKind::kOptimizerStep, 0, r);
    double trailing = work;  // what may run while the chain below finishes
    int lowest = stages;
    for (int v : map.placement[r]) {
      work += microbatches * (costs.stage[v].forward_ms + costs.stage[v].backward_ms);
      trailing += microbatches * costs.stage[v].wgrad_ms;
      lowest = std::min(lowest, v);
    }
    bound = std::max(bound, reach[lowest] + work + std::max(0.0, chain_below[lowest] - trailing));
  }
  return bound;
}

AutoScheduleResult auto_schedule(const AutoScheduleRequest& r) {
  if (!std::isfinite(r.memory_limit) || r.memory_limit < 0) {
    throw_invalid("--memory-limit: must be a non-negative number of micro-batches");
  }
  AutoScheduleResult out;
  out.memory_limit = r.memory_limit > 0 ? r.memory_limit : r.ranks;
  std::optional<Evaluated> best;
  std::string catalogue_name;
  out.catalogue = simulate_catalogue(r, out.memory_limit, &best, &catalogue_name);
  for (const CatalogueCandidate& c : out.catalogue) {
    if (c.fits && (!out.best_catalogue || c.makespan_ms < out.best_catalogue->makespan_ms - kEps)) out.best_catalogue = c;
  }
  out.built_by = best ? fmt::format("catalogue: {}", catalogue_name) : "";
  const std::vector<std::vector<std::vector<int>>> placements = {
      interleaved_placement(r.ranks, 1), interleaved_placement(r.ranks, 2), v_shape_placement(r.ranks)};
  for (std::size_t p = 0; p < placements.size(); ++p) {
    std::optional<Evaluated> e = evaluate(list_scheduled(r, out.memory_limit, placements[p]), r.costs);
    if (e && e->peak <= out.memory_limit + kEps && better(*e, best)) {
      best = std::move(e);
      out.built_by = fmt::format("list scheduler, {}", placement_name(static_cast<int>(p)));
    }
  }
  if (!best) {
    throw_invalid(fmt::format("--memory-limit {}: no schedule keeps each rank within {} micro-batches of "
                              "activations (one micro-batch is the least any schedule needs)",
                              r.memory_limit, out.memory_limit));
  }
  out.improving_moves = improve_by_weight_moves(r, out.memory_limit, &*best);
  if (out.improving_moves > 0) out.built_by += fmt::format(", then {} W moves", out.improving_moves);
  out.schedule = std::move(best->lowered);
  out.schedule.name = "auto";
  out.makespan_ms = best->makespan_ms;
  out.peak = best->peak;
  // The bound of the placement that allows the most: a schedule of any of them is above it.
  out.lower_bound_ms = std::numeric_limits<double>::infinity();
  for (const auto& placement : placements) {
    const Schedule stub = placement_stub(r, placement);
    out.lower_bound_ms = std::min(out.lower_bound_ms, makespan_lower_bound(per_rank_cost_model(stub, r.costs),
                                                                           make_stage_map(stub), r.microbatches));
  }
  return out;
}

}  // namespace pp
