#pragma once
// The contract of pp::core's input parsers on hostile text, shared by the deterministic mutation
// tests (tests/lib, tests/planner) and the libFuzzer targets (tests/fuzz). Header-only test code.
//
// Each check_* function parses one input and returns an empty string when the contract holds,
// else what broke; `accepted`, when given, counts the inputs the parser accepted. The contract:
// the parser returns, or throws pp::Error of category kInvalidInput (kIo too where it reads other
// files), never another exception. What it accepts must be usable: written back by pp's own
// writer, it parses again, and writing that gives the same text (the writer and the parser agree
// on every value the parser lets through).

#include <exception>
#include <string>
#include <string_view>

#include "pp/cluster.h"
#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/model.h"
#include "pp/plan.h"
#include "pp/profile.h"
#include "pp/schedule.h"
#include "pp/schedule_file.h"
#include "pp/validator.h"

namespace pp_test {

// Runs `parse_and_check` (which returns "" or what broke for an accepted input) and maps its
// exceptions onto the contract: pp::Error of kInvalidInput (or kIo when `io_allowed`) is a clean
// rejection; anything else is reported.
template <class ParseAndCheck>
std::string parser_contract(ParseAndCheck&& parse_and_check, bool io_allowed = false) {
  try {
    return parse_and_check();
  } catch (const pp::Error& e) {
    if (e.category() == pp::ErrorCategory::kInvalidInput) return "";
    if (io_allowed && e.category() == pp::ErrorCategory::kIo) return "";
    return std::string("threw pp::Error of another category: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("threw a non-pp exception: ") + e.what();
  } catch (...) {
    return "threw something that is not a std::exception";
  }
}

// Writes an accepted value, parses the text again and writes it once more: the second parse must
// succeed and both texts must agree.
template <class Value, class Write, class Parse>
std::string round_trip(const Value& value, Write write, Parse parse) {
  const std::string first = write(value);
  std::string second;
  try {
    second = write(parse(first, "written"));
  } catch (const std::exception& e) {
    return std::string("an accepted input, written back by pp, does not parse: ") + e.what() +
           "\n--- written ---\n" + first;
  }
  if (first != second) {
    return "an accepted input changed in a write/parse/write round trip\n--- first ---\n" + first +
           "\n--- second ---\n" + second;
  }
  return "";
}

inline std::string check_model_config(std::string_view text, int* accepted = nullptr) {
  return parser_contract([&] {
    const pp::ModelConfig model = pp::parse_model_config(std::string(text), "fuzz.json");
        if (accepted != nullptr) ++*accepted;
    return round_trip(model, pp::model_config_to_json_text, pp::parse_model_config);
  });
}

inline std::string check_cluster(std::string_view text, int* accepted = nullptr) {
  return parser_contract([&] {
    const pp::ClusterSpec cluster = pp::parse_cluster(std::string(text), "fuzz.json");
        if (accepted != nullptr) ++*accepted;
    return round_trip(cluster, pp::cluster_to_json_text, pp::parse_cluster);
  });
}

inline std::string check_profile(std::string_view text, int* accepted = nullptr) {
  return parser_contract([&] {
    const pp::MeasuredProfile profile = pp::parse_profile(std::string(text), "fuzz.json");
        if (accepted != nullptr) ++*accepted;
    return round_trip(profile, pp::profile_to_json_text, pp::parse_profile);
  });
}

// A version 1 plan loads its model and cluster by name, which may fail with kIo.
inline std::string check_plan(std::string_view text, int* accepted = nullptr) {
  return parser_contract(
      [&] {
        const pp::Plan plan = pp::parse_plan(std::string(text), "fuzz.json");
        if (accepted != nullptr) ++*accepted;
        (void)pp::pp_run_obstacles(plan);
        return round_trip(plan, pp::plan_to_json_text, pp::parse_plan);
      },
      /*io_allowed=*/true);
}

// ---- schedule files: parse, then validate, reject or lower -------------------------------------

// Lowering allocates per (micro-batch, stage): larger valid schedules are not lowered here.
inline constexpr std::size_t kMaxFuzzLoweredActions = 100000;

// A schedule that validated: it must survive writing and re-parsing unchanged and, when
// unlowered (and small), lower into a schedule that validates.
inline std::string check_valid_schedule(const pp::Schedule& schedule) {
  const auto same = [](const pp::Schedule& a, const pp::Schedule& b) {
    return a.name == b.name && a.ranks == b.ranks && a.microbatches == b.microbatches &&
           a.chunks_per_rank == b.chunks_per_rank && a.placement == b.placement &&
           a.actions == b.actions;
  };
  try {
    const std::string written = pp::schedule_to_json_text(schedule);
    if (!same(schedule, pp::parse_schedule_json(written, "written"))) {
      return "a valid schedule changed in a write/parse round trip";
    }
    if (schedule.is_lowered() || schedule.action_count() >= kMaxFuzzLoweredActions) return "";
    if (!pp::validate_schedule(pp::lower_communication(schedule)).ok()) {
      return "lowering a valid schedule gave an invalid one";
    }
  } catch (const std::exception& e) {
    return std::string("a valid schedule threw in round trip or lowering: ") + e.what();
  }
  return "";
}

// A schedule that failed validation: require_valid_schedule() must throw pp::Error(kInvalidInput)
// with the first violation and the grid around it (render_schedule_grid on hostile data).
inline std::string check_invalid_schedule(const pp::Schedule& schedule) {
  try {
    pp::require_valid_schedule(schedule);
  } catch (const pp::Error& e) {
    if (e.category() == pp::ErrorCategory::kInvalidInput) return "";
    return std::string("require_valid_schedule threw a non-input pp::Error: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("require_valid_schedule threw a non-pp exception: ") + e.what();
  }
  return "require_valid_schedule accepted a schedule that validate_schedule rejects";
}

// How far schedule texts got: parsed, and of those, valid.
struct ScheduleTally {
  int parsed = 0;
  int valid = 0;
};

// Parses and validates one schedule text; counts what got how far (when `tally` is given).
inline std::string check_schedule(std::string_view text, ScheduleTally* tally = nullptr) {
  pp::Schedule schedule;
  bool parsed = false;
  const std::string parse_broken = parser_contract([&] {
    schedule = pp::parse_schedule_json(text, "fuzz.json");
    parsed = true;
    return std::string();
  });
  if (!parsed) return parse_broken;
  if (tally != nullptr) ++tally->parsed;
  pp::ValidationReport report;
  try {
    report = pp::validate_schedule(schedule);
  } catch (const std::exception& e) {
    return std::string("validate_schedule threw: ") + e.what();
  }
  if (!report.ok()) return check_invalid_schedule(schedule);
  if (tally != nullptr) ++tally->valid;
  return check_valid_schedule(schedule);
}

}  // namespace pp_test
