#pragma once
// CI gates: a policy of rules that a plan (`pp plan --check`) or a simulated schedule
// (`pp simulate --check`) must satisfy. Each rule is named by its command-line flag; a verdict
// says, in one line, what was measured against what limit. Exit code 6 when any rule fails
// (docs/ci.md, docs/exit-codes.md).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pp/plan.h"
#include "pp/timeline.h"

namespace pp {

// The exit code of a check with a violated rule.
inline constexpr int kCheckFailedExitCode = 6;

struct RuleVerdict {
  std::string rule;    // the flag that states it: "--max-bubble"
  nlohmann::json limit;   // the flag's value: 0.1, ["1f1b", "zb-h1"], true
  nlohmann::json actual;  // what was found, in the same unit: 0.143, "gpipe"
  bool passed = false;
  std::string reason;  // one line: "bubble 14.3% is above the limit 10.0%"
};

struct CheckReport {
  std::vector<RuleVerdict> verdicts;
  bool passed() const;
  int violations() const;
};

// Rules on a plan. Fractions are in [0, 1].
struct PlanPolicy {
  std::optional<double> max_bubble;           // predicted.bubble_fraction <= this
  std::optional<double> min_mfu;              // predicted.mfu >= this
  std::optional<double> max_memory_fraction;  // peak memory / the GPU's memory <= this
  std::optional<double> max_step_s;           // predicted.step_time_s <= this
  std::vector<std::string> schedules;         // the plan's schedule is one of these (empty: any)
  bool require_runnable = false;              // pp run can execute the plan
  bool empty() const;
};

// Rules on a simulated timeline.
struct TimelinePolicy {
  std::optional<double> max_bubble;         // one step's bubble fraction <= this
  std::optional<double> max_steady_bubble;  // the steady-state bubble fraction <= this
  std::optional<double> max_makespan_ms;    // the step's makespan <= this
  std::optional<double> max_inflight;       // every rank's peak in-flight micro-batches <= this
  bool empty() const;
};

CheckReport check_plan(const Plan& plan, const PlanPolicy& policy);
CheckReport check_timeline(const TimelineMetrics& metrics, const TimelinePolicy& policy);

// {"passed": bool, "violations": n, "rules": [{"rule", "limit", "actual", "passed", "reason"}]}
nlohmann::ordered_json check_report_json(const CheckReport& report);

}  // namespace pp
