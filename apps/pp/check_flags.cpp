#include "check_flags.h"

#include <fmt/format.h>

#include "exit_status.h"
#include "number_text.h"
#include "pp/error.h"
#include "pp/schedule_generators.h"

namespace pp::cli {
namespace {

constexpr const char* kCheckHelp =
    "Gate on the rules given (below): one line per rule on stderr; exit 6 when any is violated (docs/ci.md)";

// An optional<double> option whose value is a finite number in [low, high].
void add_limit(CLI::App* cmd, const std::string& flag, std::optional<double>* target, double low, double high,
               const std::string& help) {
  cmd->add_option_function<double>(flag, [target](double value) { *target = value; }, help)
      ->check(finite_in(low, high))
      ->group("Checks (with --check)");
}

CLI::Validator known_schedule() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        for (const auto& g : schedule_generators()) {
          if (g.name == text) return "";
        }
        return fmt::format("unknown schedule '{}' (known: {})", text, schedule_names());
      },
      "SCHEDULE");
}

// The rule as it was given: "--max-bubble 0.1", "--require-schedule 1f1b,zb-h1", "--require-runnable".
std::string rule_text(const RuleVerdict& v) {
  if (v.limit.is_number()) return fmt::format("{} {:g}", v.rule, v.limit.get<double>());
  if (v.limit.is_array()) return fmt::format("{} {}", v.rule, fmt::join(v.limit.get<std::vector<std::string>>(), ","));
  return v.rule;
}

}  // namespace

void add_plan_check_flags(CLI::App* cmd, PlanCheckOptions* o) {
  cmd->add_flag("--check", o->check, kCheckHelp)->group("Checks (with --check)");
  add_limit(cmd, "--max-bubble", &o->policy.max_bubble, 0, 1, "The predicted pipeline bubble at most this fraction");
  add_limit(cmd, "--min-mfu", &o->policy.min_mfu, 0, 1, "The predicted MFU at least this fraction");
  add_limit(cmd, "--max-memory-fraction", &o->policy.max_memory_fraction, 0, 1e3,
            "The busiest rank's predicted memory at most this fraction of the GPU's");
  add_limit(cmd, "--max-step-s", &o->policy.max_step_s, 0, 1e9, "The predicted step time at most this many seconds");
  cmd->add_option("--require-schedule", o->policy.schedules,
                  "The chosen schedule is one of these (comma list)")
      ->delimiter(',')
      ->check(known_schedule())
      ->group("Checks (with --check)");
  cmd->add_flag("--require-runnable", o->policy.require_runnable, "pp run can execute the chosen plan")
      ->group("Checks (with --check)");
}

void add_timeline_check_flags(CLI::App* cmd, TimelineCheckOptions* o) {
  cmd->add_flag("--check", o->check, kCheckHelp)->group("Checks (with --check)");
  add_limit(cmd, "--max-bubble", &o->policy.max_bubble, 0, 1, "The step's bubble at most this fraction");
  add_limit(cmd, "--max-steady-bubble", &o->policy.max_steady_bubble, 0, 1,
            "The steady-state bubble at most this fraction");
  add_limit(cmd, "--max-makespan-ms", &o->policy.max_makespan_ms, 0, 1e18, "The step's makespan at most this (ms)");
  add_limit(cmd, "--max-inflight", &o->policy.max_inflight, 0, 1e9,
            "Every rank's peak of in-flight micro-batches at most this");
}

void check_gate_flags(bool check, bool has_rules, const std::string& rule_flags) {
  if (check && !has_rules) throw_invalid(fmt::format("--check needs at least one rule ({})", rule_flags));
  if (!check && has_rules) {
    throw_invalid(fmt::format("the rule flags ({}) state a --check policy: add --check", rule_flags));
  }
}

void report_check(const CheckReport& report, const std::string& subject) {
  for (const RuleVerdict& v : report.verdicts) {
    fmt::print(stderr, "check {}: {}: {}\n", v.passed ? "passed" : "failed", rule_text(v), v.reason);
  }
  const int failed = report.violations();
  if (failed == 0) {
    fmt::print(stderr, "check: {} passes {}\n", subject,
               report.verdicts.size() == 1 ? std::string("its rule") : fmt::format("all {} rules", report.verdicts.size()));
  } else {
    fmt::print(stderr, "check: {} violates {} of {} rules (exit {})\n", subject, failed, report.verdicts.size(),
               kCheckFailedExitCode);
    deferred_exit_code() = kCheckFailedExitCode;
  }
}

}  // namespace pp::cli
