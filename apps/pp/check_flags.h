#pragma once
// The --check gate shared by pp plan and pp simulate: the flag, its rules' flags, and the
// report (one line per rule on stderr; exit 6 when any rule is violated). docs/ci.md.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "pp/gate.h"

namespace pp::cli {

struct PlanCheckOptions {
  bool check = false;
  PlanPolicy policy;
};

struct TimelineCheckOptions {
  bool check = false;
  TimelinePolicy policy;
};

void add_plan_check_flags(CLI::App* cmd, PlanCheckOptions* o);
void add_timeline_check_flags(CLI::App* cmd, TimelineCheckOptions* o);

// Throws pp::Error(kInvalidInput) for a rule without --check, or --check without a rule.
void check_gate_flags(bool check, bool has_rules, const std::string& rule_flags);
inline void check_gate_flags(const PlanCheckOptions& o) {
  check_gate_flags(o.check, !o.policy.empty(),
                   "--max-bubble, --min-mfu, --max-memory-fraction, --max-step-s, --require-schedule, "
                   "--require-runnable");
}
inline void check_gate_flags(const TimelineCheckOptions& o) {
  check_gate_flags(o.check, !o.policy.empty(), "--max-bubble, --max-steady-bubble, --max-makespan-ms, --max-inflight");
}

// Prints "check passed: <reason>" or "check failed: <reason>" per rule on stderr and a summary
// line; sets the deferred exit code to 6 when a rule failed. `subject` names what was checked.
void report_check(const CheckReport& report, const std::string& subject);

}  // namespace pp::cli
