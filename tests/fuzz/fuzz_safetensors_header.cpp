// libFuzzer target: parse_safetensors_header() on any bytes (a checkpoint's header).
// The contract is check_safetensors_header() in tests/fuzz/runtime_format_checks.h;
// scripts/fuzz.sh builds and runs it with the seeds in tests/fuzz/corpus/safetensors_header/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/runtime_format_checks.h"
#include "fuzz/fuzz_target.h"

PP_FUZZ_TARGET(pp_test::check_safetensors_header)
