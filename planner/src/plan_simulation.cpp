#include "pp/planner/plan_simulation.h"

#include <fmt/format.h>

#include "pp/error.h"
#include "pp/planner/simulator.h"

namespace pp {

CostModel plan_cost_model(const Plan& plan) {
  CostModel model;
  for (const StagePlan& s : plan.stages) {
    model.stage.push_back({s.forward_ms, s.backward_ms, s.wgrad_ms});
  }
  for (std::size_t v = 0; v + 1 < plan.stages.size(); ++v) {
    model.boundary.push_back({plan.stages[v].p2p_ms, 0, 0});
  }
  model.reduce_ms = plan.reduce_ms;
  model.optimizer_ms = plan.optimizer_ms;
  return model;
}

SimulationResult simulate_plan(const Plan& plan) {
  const Layout& l = plan.layout;
  if (static_cast<int>(plan.stages.size()) != l.pp * l.virtual_stages) {
    throw_invalid(fmt::format("plan: {} stages listed for pp {} x virtual_stages {}",
                              plan.stages.size(), l.pp, l.virtual_stages));
  }
  SimulationResult result;
  result.schedule = build_schedule(l.schedule, {l.pp, l.microbatches, l.virtual_stages});
  result.costs = plan_cost_model(plan);
  result.timeline = simulate(result.schedule, result.costs);
  result.metrics = compute_metrics(result.timeline);
  return result;
}

}  // namespace pp
