// libFuzzer target: parse_plan() on any text (a pp.plan file, version 1 or 2).
// The contract is check_plan() in tests/fuzz/format_checks.h;
// scripts/fuzz.sh builds and runs it with the seeds in tests/fuzz/corpus/plan/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/format_checks.h"
#include "fuzz/fuzz_target.h"

PP_FUZZ_TARGET(pp_test::check_plan)
