// The CI gate's rules: each compares the figure it names with its limit, inclusively, and says so.
#include <gtest/gtest.h>

#include "pp/gate.h"

namespace pp {
namespace {

Plan plan_with(double bubble, double mfu, double peak_gib, double step_s, const std::string& schedule) {
  Plan plan;
  plan.predicted.bubble_fraction = bubble;
  plan.predicted.mfu = mfu;
  plan.predicted.peak_memory_bytes = peak_gib * (1 << 30);
  plan.predicted.step_time_s = step_s;
  plan.cluster_spec.gpu.memory_bytes = 80.0 * (1 << 30);
  plan.layout.schedule = schedule;
  return plan;
}

TEST(Gate, AnEmptyPolicyHasNoVerdicts) {
  EXPECT_TRUE(PlanPolicy{}.empty());
  EXPECT_TRUE(TimelinePolicy{}.empty());
  const CheckReport report = check_plan(plan_with(0.5, 0.1, 79, 9, "gpipe"), PlanPolicy{});
  EXPECT_TRUE(report.verdicts.empty());
  EXPECT_TRUE(report.passed());
}

TEST(Gate, PlanRulesAreInclusiveLimits) {
  PlanPolicy policy;
  policy.max_bubble = 0.25;
  policy.min_mfu = 0.4;
  policy.max_memory_fraction = 0.9;
  policy.max_step_s = 2;
  const CheckReport at_limits = check_plan(plan_with(0.25, 0.4, 72, 2, "1f1b"), policy);
  ASSERT_EQ(at_limits.verdicts.size(), 4u);
  EXPECT_TRUE(at_limits.passed()) << at_limits.verdicts[2].reason;

  const CheckReport beyond = check_plan(plan_with(0.26, 0.39, 73, 2.1, "1f1b"), policy);
  EXPECT_EQ(beyond.violations(), 4);
  EXPECT_EQ(beyond.verdicts[0].rule, "--max-bubble");
  EXPECT_EQ(beyond.verdicts[0].reason, "the pipeline bubble 26.0% is above the limit 25.0%");
  EXPECT_EQ(beyond.verdicts[1].reason, "MFU 39.0% is below the limit 40.0%");
  EXPECT_DOUBLE_EQ(beyond.verdicts[2].actual.get<double>(), 73.0 / 80.0);
  EXPECT_NE(beyond.verdicts[2].reason.find("73.0 GiB of 80.0 GiB"), std::string::npos);
}

TEST(Gate, RequiredSchedulesAreAList) {
  PlanPolicy policy;
  policy.schedules = {"1f1b", "zb-h1"};
  EXPECT_TRUE(check_plan(plan_with(0, 0, 0, 0, "zb-h1"), policy).passed());
  const CheckReport report = check_plan(plan_with(0, 0, 0, 0, "gpipe"), policy);
  ASSERT_EQ(report.violations(), 1);
  EXPECT_EQ(report.verdicts[0].reason, "the schedule gpipe is not one of 1f1b,zb-h1");
  EXPECT_EQ(report.verdicts[0].actual, "gpipe");
}

TEST(Gate, TimelineRulesNameTheWorstRank) {
  TimelineMetrics m;
  m.bubble_fraction = 0.2;
  m.steady_bubble_fraction = 0.1;
  m.makespan_ms = 33;
  m.ranks.resize(3);
  for (int r = 0; r < 3; ++r) {
    m.ranks[r].rank = r;
    m.ranks[r].peak_inflight_microbatches = r == 1 ? 5 : 3;
  }
  TimelinePolicy policy;
  policy.max_bubble = 0.2;
  policy.max_steady_bubble = 0.05;
  policy.max_makespan_ms = 32;
  policy.max_inflight = 4;
  const CheckReport report = check_timeline(m, policy);
  ASSERT_EQ(report.verdicts.size(), 4u);
  EXPECT_TRUE(report.verdicts[0].passed);
  EXPECT_FALSE(report.verdicts[1].passed);
  EXPECT_FALSE(report.verdicts[2].passed);
  EXPECT_FALSE(report.verdicts[3].passed);
  EXPECT_EQ(report.verdicts[3].reason, "rank 1's peak of 5 in-flight micro-batches is above the limit 4");
  EXPECT_EQ(report.violations(), 3);
}

TEST(Gate, JsonCarriesEveryVerdict) {
  TimelineMetrics m;
  m.bubble_fraction = 0.3;
  TimelinePolicy policy;
  policy.max_bubble = 0.1;
  const nlohmann::ordered_json doc = check_report_json(check_timeline(m, policy));
  EXPECT_EQ(doc["passed"], false);
  EXPECT_EQ(doc["violations"], 1);
  ASSERT_EQ(doc["rules"].size(), 1u);
  EXPECT_EQ(doc["rules"][0]["rule"], "--max-bubble");
  EXPECT_DOUBLE_EQ(doc["rules"][0]["limit"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(doc["rules"][0]["actual"].get<double>(), 0.3);
}

}  // namespace
}  // namespace pp
