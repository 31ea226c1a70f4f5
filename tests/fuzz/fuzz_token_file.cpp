// libFuzzer target: TokenData::open() on a file of any bytes (llm.c header or raw uint16 tokens).
// The contract is check_token_file() in tests/fuzz/runtime_format_checks.h;
// scripts/fuzz.sh builds and runs it with the seeds in tests/fuzz/corpus/token_file/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/runtime_format_checks.h"
#include "fuzz/fuzz_target.h"

PP_FUZZ_TARGET(pp_test::check_token_file)
