#pragma once
// The closed-form tests' simulation: every stage costs the same (F forward, B full backward, W
// its weight-gradient part, per micro-batch on one whole stage), and communication is free.
#include <string>

#include "pp/planner/simulation_request.h"

namespace pp {

inline SimulationResult simulate_uniform(const std::string& name, int k, int m, int v, double f, double b,
                                         double w) {
  SimulationRequest request;
  request.schedule_name = name;
  request.spec = {k, m, v};
  request.costs.forward_ms = {f};
  request.costs.backward_ms = {b};
  request.costs.wgrad_ms = {w};
  request.costs.p2p_ms = {0};
  return run_simulation(request);
}

}  // namespace pp
