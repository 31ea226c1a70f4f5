#pragma once
// The body every libFuzzer target of pp shares: run one format's contract check
// (format_checks.h, runtime_format_checks.h) on the input and abort on a finding, so that libFuzzer
// saves the input as a crash. A crash, a hang or a sanitizer report is a finding too.

#include <cstdio>
#include <cstdlib>
#include <string>

namespace pp_test {

// `broken`: what the check found broken, empty when the contract held.
inline int report_finding(const std::string& broken) {
  if (broken.empty()) return 0;
  std::fprintf(stderr, "fuzz finding: %s\n", broken.c_str());
  std::abort();
}

}  // namespace pp_test

// Defines LLVMFuzzerTestOneInput calling `check(std::string_view)`.
#define PP_FUZZ_TARGET(check)                                                             \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {     \
    return pp_test::report_finding(                                                       \
        check(std::string_view(reinterpret_cast<const char*>(data), size)));              \
  }
