// libFuzzer target for the schedule file: parse_schedule_json() must return or throw pp::Error on
// any input; validate_schedule() must return a report for anything that parses;
// require_valid_schedule() must throw pp::Error for what the report rejects (exercising the error
// grid); lowering a valid, unlowered schedule must succeed and give a schedule that validates.
// Any other exception, a crash, a sanitizer report or a failed check (abort) is a finding.
//
// Build: CC=clang CXX=clang++ cmake -DPP_BUILD_FUZZERS=ON ...; ninja pp_fuzz_schedule_file
//        (add -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined so that pp_core, where
//        the parser and validator live, is instrumented for coverage and checked by the sanitizers)
// Run:   pp_fuzz_schedule_file -max_total_time=180 -rss_limit_mb=4096
//          -dict=tests/fuzz/schedule_file.dict CORPUS_COPY/   (seeds in tests/fuzz/corpus/)

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/schedule.h"
#include "pp/schedule_file.h"
#include "pp/validator.h"

namespace {

// Lowering is linear in the actions but allocates per (micro-batch, stage): keep iterations fast.
constexpr std::size_t kMaxLoweredActions = 100000;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what);
  std::abort();
}

// Lowers a valid unlowered schedule; the result must validate too.
void check_lowering(const pp::Schedule& schedule) {
  const pp::Schedule lowered = pp::lower_communication(schedule);
  if (!pp::validate_schedule(lowered).ok()) finding("the lowered schedule does not validate");
}

// An invalid schedule: require_valid_schedule() must throw pp::Error(kInvalidInput), whose message
// renders the schedule grid around the first violation.
void check_rejection(const pp::Schedule& schedule) {
  try {
    pp::require_valid_schedule(schedule);
  } catch (const pp::Error& e) {
    if (e.category() != pp::ErrorCategory::kInvalidInput) finding("rejection is not invalid input");
    return;
  }
  finding("require_valid_schedule accepted a schedule that validate_schedule rejects");
}

void run_one(std::string_view text) {
  pp::Schedule schedule;
  try {
    schedule = pp::parse_schedule_json(text, "fuzz");
  } catch (const pp::Error& e) {
    if (e.category() != pp::ErrorCategory::kInvalidInput) finding("parse threw a non-input error");
    return;
  }
  const pp::ValidationReport report = pp::validate_schedule(schedule);
  if (!report.ok()) {
    check_rejection(schedule);
    return;
  }
  if (schedule.is_lowered()) return;
  if (schedule.action_count() >= kMaxLoweredActions) return;
  try {
    check_lowering(schedule);
  } catch (const pp::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("lowering threw on a schedule the validator accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run_one(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
