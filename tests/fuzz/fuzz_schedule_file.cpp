// libFuzzer target: parse_schedule_json() on any text (a pp.schedule file); what parses must be
// validated, rejected with the schedule grid, or lowered as check_schedule() in
// tests/fuzz/format_checks.h says. scripts/fuzz.sh builds and runs it with the seeds in
// tests/fuzz/corpus/schedule_file/ and the dictionary tests/fuzz/schedule_file.dict.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/format_checks.h"
#include "fuzz/fuzz_target.h"

namespace {
std::string check(std::string_view text) { return pp_test::check_schedule(text); }
}  // namespace

PP_FUZZ_TARGET(check)
