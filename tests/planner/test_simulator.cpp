// The simulator's modelling of communication and of unbalanced stages.
#include <gtest/gtest.h>

#include <algorithm>

#include "pp/lowering.h"
#include "pp/planner/simulation_request.h"
#include "pp/planner/simulator.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

SimulationResult run(const std::string& name, int k, int m, PerRankCosts costs, int v = 1) {
  SimulationRequest request;
  request.schedule_name = name;
  request.spec = {k, m, v};
  request.costs = std::move(costs);
  return run_simulation(request);
}

TEST(Simulator, GpipeWithCommunicationAddsTheFillAndDrainHops) {
  // With transfers C no longer than a compute, sends overlap compute: only the first activation's
  // K-1 hops and the last gradient's K-1 hops are exposed: (M+K-1)(F+B) + 2(K-1)C.
  for (int k : {2, 4, 8}) {
    for (double c : {0.1, 0.5, 1.0}) {
      const auto r = run("gpipe", k, 8, {{1.0}, {2.0}, {}, {c}, 0, 0});
      EXPECT_NEAR(r.metrics.makespan_ms, (8 + k - 1) * 3.0 + 2 * (k - 1) * c, 1e-9);
    }
  }
}

TEST(Simulator, CommunicationIsAttributedToComm) {
  const auto r = run("1f1b", 4, 8, {{1.0}, {2.0}, {}, {0.5}, 0, 0});
  for (const auto& rank : r.metrics.ranks) {
    const auto& c = rank.causes;
    EXPECT_NEAR(c.warmup_ms + c.drain_ms + c.comm_ms + c.imbalance_ms, rank.idle_ms, 1e-9);
  }
  EXPECT_GT(r.metrics.ranks[0].causes.comm_ms, 0);
  EXPECT_GT(r.metrics.ranks[3].causes.comm_ms, 0);
}

TEST(Simulator, SlowStageSetsThePaceAndOthersWaitInSteadyState) {
  // Stage 2 takes twice as long: in steady state every stage runs at its pace.
  const int m = 32;
  const auto r = run("1f1b", 4, m, {{1, 1, 2, 1}, {2, 2, 4, 2}, {}, {0}, 0, 0});
  EXPECT_GE(r.metrics.makespan_ms, m * 6.0);
  EXPECT_NEAR(r.metrics.ranks[2].causes.imbalance_ms, 0, 1e-9);
  EXPECT_GT(r.metrics.ranks[0].causes.imbalance_ms, 0);
  EXPECT_GT(r.metrics.ranks[3].causes.imbalance_ms, 0);
  for (const auto& rank : r.metrics.ranks) {
    const auto& c = rank.causes;
    EXPECT_NEAR(c.warmup_ms + c.drain_ms + c.comm_ms + c.imbalance_ms, rank.idle_ms, 1e-9);
  }
}

TEST(Simulator, EveryActionBecomesOneEventAndSendsPairWithReceives) {
  const auto r = run("interleaved", 4, 8, {{1.0}, {2.0}, {}, {0.2}, 0.5, 0.25}, 2);
  EXPECT_EQ(r.timeline.events.size(), r.schedule.action_count());
  std::vector<int> sends, recvs;
  for (const auto& e : r.timeline.events) {
    if (is_send(e.kind)) sends.push_back(static_cast<int>(e.flow));
    if (is_recv(e.kind)) recvs.push_back(static_cast<int>(e.flow));
  }
  std::sort(sends.begin(), sends.end());
  std::sort(recvs.begin(), recvs.end());
  EXPECT_EQ(sends, recvs);
  EXPECT_FALSE(sends.empty());
  // A receive never completes before its send's transfer does.
  std::vector<double> arrival(sends.size());
  for (const auto& e : r.timeline.events) {
    if (is_send(e.kind)) arrival[e.flow] = e.end_ms;
  }
  for (const auto& e : r.timeline.events) {
    if (is_recv(e.kind)) {
      EXPECT_GE(e.end_ms + 1e-12, arrival[e.flow]);
    }
  }
}

TEST(Simulator, StepEndActionsTakeTheirCostOnEveryRank) {
  const auto with = run("1f1b", 2, 4, {{1.0}, {2.0}, {}, {0}, 0.5, 0.25});
  const auto without = run("1f1b", 2, 4, {{1.0}, {2.0}, {}, {0}, 0, 0});
  EXPECT_NEAR(with.metrics.makespan_ms, without.metrics.makespan_ms + 0.75, 1e-9);
}

TEST(Simulator, ComputeOfARankNeverOverlaps) {
  const auto r = run("zb-h1", 4, 16, {{1, 2, 1, 1}, {2, 3, 2, 2}, {0.5, 1, 0.5, 0.5}, {0.3}, 0, 0});
  std::vector<std::vector<std::pair<double, double>>> spans(4);
  for (const auto& e : r.timeline.events) {
    if (e.lane == Lane::kCompute) spans[e.rank].push_back({e.start_ms, e.end_ms});
  }
  for (auto& list : spans) {
    std::sort(list.begin(), list.end());
    for (std::size_t i = 1; i < list.size(); ++i) EXPECT_LE(list[i - 1].second, list[i].first + 1e-12);
  }
}

}  // namespace
}  // namespace pp
