#pragma once
// Simulating a plan: its schedule (pp ranks, M micro-batches, V chunks) lowered, costed with the
// plan's own per-stage figures. `pp plan` scores candidates with it and `pp simulate --plan`
// shows it, so both see the same timeline.

#include "pp/plan.h"
#include "pp/planner/simulation_request.h"

namespace pp {

// The cost model a plan's stage figures describe (per virtual stage; step-end per rank).
CostModel plan_cost_model(const Plan& plan);

// Throws pp::Error(kInvalidInput) when the plan's schedule is not defined for its shape.
SimulationResult simulate_plan(const Plan& plan);

}  // namespace pp
