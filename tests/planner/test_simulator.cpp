// The simulator's modelling of communication and of unbalanced stages.
#include <gtest/gtest.h>

#include <algorithm>

#include "pp/error.h"
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

// Costs whose sum overflows (pp simulate --fwd-ms 1e308) are refused rather than drawn: the
// pictures' time axis cannot be drawn for an infinite makespan.
TEST(Simulator, RefusesAMakespanThatIsNotFinite) {
  try {
    run("1f1b", 4, 8, {{1e308}, {1e308}, {}, {0}, 0, 0});
    FAIL() << "no error for an infinite makespan";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("finite"), std::string::npos) << e.what();
  }
}

// A request too large for memory (4096 x 4096 took 10 GB and 90 s) is refused before any of it is
// generated, naming the flags; one at the limit's edge is estimated, not refused.
TEST(Simulator, RefusesATooLargeScheduleBeforeGeneratingIt) {
  try {
    run("1f1b", 4096, 4096, {{1}, {2}, {}, {0}, 0, 0});
    FAIL() << "no error for 4096 x 4096";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    const std::string message = e.what();
    EXPECT_NE(message.find("--stages 4096"), std::string::npos) << message;
    EXPECT_NE(message.find("--microbatches 4096"), std::string::npos) << message;
    EXPECT_NE(message.find("limit"), std::string::npos) << message;
  }
  EXPECT_NO_THROW(check_schedule_size("1f1b", {512, 512, 1}));
  EXPECT_THROW(check_schedule_size("interleaved", {1024, 1024, 8}), Error);
}

// The estimate is an upper bound of the real lowered size, and not a loose one.
TEST(Simulator, ActionBoundCoversTheLoweredSchedule) {
  for (const ScheduleGenerator& g : schedule_generators()) {
    for (int k : {1, 2, 4, 8}) {
      const ScheduleSpec spec{k, 2 * k, g.unsupported({k, 2 * k, 1}).empty() ? 1 : 2};
      const long long actual =
          static_cast<long long>(lower_communication(generate_schedule(g.name, spec)).action_count());
      const long long bound = lowered_action_bound(g, spec);
      EXPECT_GE(bound, actual) << g.name << " K=" << k;
      EXPECT_LE(bound, 2 * actual + 8) << g.name << " K=" << k;
    }
  }
}

}  // namespace
}  // namespace pp
