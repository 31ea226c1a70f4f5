// libFuzzer target: parse_cluster() on any text (a pp.cluster file).
// The contract is check_cluster() in tests/fuzz/format_checks.h;
// scripts/fuzz.sh builds and runs it with the seeds in tests/fuzz/corpus/cluster/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/format_checks.h"
#include "fuzz/fuzz_target.h"

PP_FUZZ_TARGET(pp_test::check_cluster)
