#include "pp/gate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace pp {
namespace {

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100 * fraction); }

// An upper limit on a fraction, reported in percent.
RuleVerdict at_most_fraction(const std::string& rule, const std::string& what, double actual, double limit) {
  const bool passed = actual <= limit;
  return {rule, limit, actual, passed,
          fmt::format("{} {} is {} the limit {}", what, percent(actual), passed ? "within" : "above", percent(limit))};
}

RuleVerdict at_most(const std::string& rule, const std::string& what, double actual, double limit,
                    const std::string& unit) {
  const bool passed = actual <= limit;
  return {rule, limit, actual, passed,
          fmt::format("{} {:.4g} {} is {} the limit {:g} {}", what, actual, unit, passed ? "within" : "above", limit,
                      unit)};
}

}  // namespace

bool CheckReport::passed() const { return violations() == 0; }

int CheckReport::violations() const {
  return static_cast<int>(std::count_if(verdicts.begin(), verdicts.end(), [](const RuleVerdict& v) { return !v.passed; }));
}

bool PlanPolicy::empty() const {
  return !max_bubble && !min_mfu && !max_memory_fraction && !max_step_s && schedules.empty() && !require_runnable;
}

bool TimelinePolicy::empty() const { return !max_bubble && !max_steady_bubble && !max_makespan_ms && !max_inflight; }

CheckReport check_plan(const Plan& plan, const PlanPolicy& policy) {
  CheckReport report;
  const PlanPrediction& p = plan.predicted;
  if (policy.max_bubble) {
    report.verdicts.push_back(at_most_fraction("--max-bubble", "the pipeline bubble", p.bubble_fraction, *policy.max_bubble));
  }
  if (policy.min_mfu) {
    const bool passed = p.mfu >= *policy.min_mfu;
    report.verdicts.push_back({"--min-mfu", *policy.min_mfu, p.mfu, passed,
                               fmt::format("MFU {} is {} the limit {}", percent(p.mfu), passed ? "at or above" : "below",
                                           percent(*policy.min_mfu))});
  }
  if (policy.max_memory_fraction) {
    const double capacity = plan.cluster_spec.gpu.memory_bytes;
    const double fraction = capacity > 0 ? p.peak_memory_bytes / capacity : 0;
    RuleVerdict v = at_most_fraction("--max-memory-fraction", "peak memory", fraction, *policy.max_memory_fraction);
    v.reason = fmt::format("{} ({:.1f} GiB of {:.1f} GiB on the busiest rank)", v.reason,
                           p.peak_memory_bytes / (1 << 30), capacity / (1 << 30));
    report.verdicts.push_back(std::move(v));
  }
  if (policy.max_step_s) {
    report.verdicts.push_back(at_most("--max-step-s", "the step time", p.step_time_s, *policy.max_step_s, "s"));
  }
  if (!policy.schedules.empty()) {
    const std::string& s = plan.layout.schedule;
    const bool passed = std::find(policy.schedules.begin(), policy.schedules.end(), s) != policy.schedules.end();
    const std::string allowed = fmt::format("{}", fmt::join(policy.schedules, ","));
    report.verdicts.push_back({"--require-schedule", policy.schedules, s, passed,
                               fmt::format("the schedule {} is {} {}", s, passed ? "one of" : "not one of", allowed)});
  }
  if (policy.require_runnable) {
    const std::vector<std::string> obstacles = pp_run_obstacles(plan);
    report.verdicts.push_back(
        {"--require-runnable", true, obstacles.empty(), obstacles.empty(),
         obstacles.empty() ? "pp run can execute the plan"
                           : fmt::format("pp run cannot execute the plan: {}", fmt::join(obstacles, "; "))});
  }
  return report;
}

CheckReport check_timeline(const TimelineMetrics& m, const TimelinePolicy& policy) {
  CheckReport report;
  if (policy.max_bubble) {
    report.verdicts.push_back(at_most_fraction("--max-bubble", "the bubble", m.bubble_fraction, *policy.max_bubble));
  }
  if (policy.max_steady_bubble) {
    report.verdicts.push_back(
        at_most_fraction("--max-steady-bubble", "the steady-state bubble", m.steady_bubble_fraction, *policy.max_steady_bubble));
  }
  if (policy.max_makespan_ms) {
    report.verdicts.push_back(at_most("--max-makespan-ms", "the makespan", m.makespan_ms, *policy.max_makespan_ms, "ms"));
  }
  if (policy.max_inflight) {
    double peak = 0;
    int worst = 0;
    for (const RankMetrics& r : m.ranks) {
      if (r.peak_inflight_microbatches > peak) {
        peak = r.peak_inflight_microbatches;
        worst = r.rank;
      }
    }
    RuleVerdict v = at_most("--max-inflight", "the peak of in-flight micro-batches", peak, *policy.max_inflight, "");
    v.reason = fmt::format("rank {}'s peak of {:g} in-flight micro-batches is {} the limit {:g}", worst, peak,
                           v.passed ? "within" : "above", *policy.max_inflight);
    report.verdicts.push_back(std::move(v));
  }
  return report;
}

nlohmann::ordered_json check_report_json(const CheckReport& report) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const RuleVerdict& v : report.verdicts) {
    rules.push_back({{"rule", v.rule}, {"limit", v.limit}, {"actual", v.actual}, {"passed", v.passed}, {"reason", v.reason}});
  }
  return {{"passed", report.passed()}, {"violations", report.violations()}, {"rules", rules}};
}

}  // namespace pp
