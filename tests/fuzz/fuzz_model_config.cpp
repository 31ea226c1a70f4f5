// libFuzzer target: parse_model_config() on any text (a Hugging Face config.json).
// The contract is check_model_config() in tests/fuzz/format_checks.h;
// scripts/fuzz.sh builds and runs it with the seeds in tests/fuzz/corpus/model_config/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/format_checks.h"
#include "fuzz/fuzz_target.h"

PP_FUZZ_TARGET(pp_test::check_model_config)
