// The auto scheduler against its promises, on equal and unequal stages (a light embedding stage, a
// heavy head stage, uneven middles) and several memory limits: valid, within the limit, never
// slower than the fastest catalogue schedule that fits, never faster than the lower bound; and the
// lower bound against a schedule known to reach it (ZB-H2 on equal stages with F = I = W).
#include <gtest/gtest.h>

#include "pp/error.h"
#include "pp/planner/schedule_search.h"
#include "pp/planner/simulation_request.h"
#include "pp/validator.h"

namespace pp {
namespace {

struct Instance {
  const char* name;
  std::vector<double> f, b, w;
  double p2p;
};

std::vector<Instance> instances() {
  return {
      {"equal", {1}, {2}, {1}, 0},
      {"heavy head, light embedding", {0.6, 1, 1, 1, 1, 1, 1, 1.6}, {1.2, 2, 2, 2, 2, 2, 2, 3.2}, {}, 0},
      {"heavy head, comm", {1, 1, 1, 1, 1, 1, 1, 2}, {2, 2, 2, 2, 2, 2, 2, 4}, {}, 0.1},
      {"uneven", {1, 1.3, 0.8, 1, 1.2, 1, 0.9, 1.5}, {2, 2.6, 1.6, 2, 2.4, 2, 1.8, 3}, {0.8, 1, 0.6, 0.8, 1, 0.8, 0.7, 1.2}, 0},
  };
}

AutoScheduleRequest request_for(const Instance& in, int m, double limit) {
  AutoScheduleRequest r;
  r.ranks = 8;
  r.microbatches = m;
  r.costs.forward_ms = in.f;
  r.costs.backward_ms = in.b;
  r.costs.wgrad_ms = in.w;
  r.costs.p2p_ms = {in.p2p};
  r.memory_limit = limit;
  r.search_evaluations = 60;  // keeps the test quick; the promises hold for any budget
  return r;
}

TEST(AutoSchedule, ValidWithinTheLimitAndBetweenCatalogueAndBound) {
  for (const Instance& in : instances()) {
    for (int m : {8, 24}) {
      for (double limit : {0.0, 6.0, 4.0, 2.0}) {
        SCOPED_TRACE(testing::Message() << in.name << " M=" << m << " limit=" << limit);
        const AutoScheduleRequest r = request_for(in, m, limit);
        const AutoScheduleResult a = auto_schedule(r);
        ASSERT_TRUE(validate_schedule(a.schedule).ok());
        SimulationRequest again;
        again.custom = a.schedule;
        again.costs = r.costs;
        const SimulationResult sim = run_simulation(again);  // an independent re-simulation
        EXPECT_NEAR(sim.metrics.makespan_ms, a.makespan_ms, 1e-9);
        for (const RankMetrics& rank : sim.metrics.ranks) {
          EXPECT_LE(rank.peak_inflight_microbatches, a.memory_limit + 1e-9);
        }
        if (a.best_catalogue) {
          EXPECT_LE(a.makespan_ms, a.best_catalogue->makespan_ms + 1e-9);
        }
        EXPECT_GE(a.makespan_ms, a.lower_bound_ms - 1e-9);
        for (const CatalogueCandidate& c : a.catalogue) {
          if (!c.unsupported.empty()) continue;
          EXPECT_GE(c.makespan_ms, a.lower_bound_ms - 1e-9) << c.name;
        }
      }
    }
  }
}

TEST(AutoSchedule, BeatsTheCatalogueOnUnequalStagesUnderAMemoryLimit) {
  int strictly_better = 0;
  for (const Instance& in : instances()) {
    const AutoScheduleResult a = auto_schedule(request_for(in, 24, 4));
    if (a.best_catalogue && a.makespan_ms < a.best_catalogue->makespan_ms - 1e-6) ++strictly_better;
  }
  EXPECT_GE(strictly_better, 2);
}

TEST(AutoSchedule, LowerBoundIsReachedByZbH2OnEqualStages) {
  for (int k : {2, 4, 8}) {
    for (int m : {2 * k - 1, 3 * k}) {
      SimulationRequest zb;
      zb.schedule_name = "zb-h2";
      zb.spec = {k, m, 1};
      zb.costs.forward_ms = {1};
      zb.costs.backward_ms = {2};
      zb.costs.wgrad_ms = {1};
      zb.costs.p2p_ms = {0};
      const SimulationResult r = run_simulation(zb);
      EXPECT_NEAR(makespan_lower_bound(r.costs, make_stage_map(r.schedule), m), r.metrics.makespan_ms, 1e-9)
          << "K=" << k << " M=" << m;
    }
  }
}

TEST(AutoSchedule, RefusesALimitNoScheduleMeets) {
  AutoScheduleRequest r = request_for(instances()[0], 8, 0.5);
  try {
    auto_schedule(r);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("--memory-limit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pp
