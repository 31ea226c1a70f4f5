// libFuzzer target: parse_profile() on any text (a pp.profile file).
// The contract is check_profile() in tests/fuzz/format_checks.h;
// scripts/fuzz.sh builds and runs it with the seeds in tests/fuzz/corpus/profile/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/format_checks.h"
#include "fuzz/fuzz_target.h"

PP_FUZZ_TARGET(pp_test::check_profile)
