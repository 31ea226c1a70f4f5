#pragma once
// The GoogleTest driver of the deterministic mutation tests: mutates a valid seed file many times
// (Mutator) and checks each mutated input against a format's contract (format_checks.h,
// runtime_format_checks.h). Header-only test code.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/mutator.h"

namespace pp_test {

inline constexpr int kMaxReportedFailures = 5;  // per seed, so a regression does not flood the log

// Checks `seed` itself (it must be accepted), then `count` mutations of it. `check(text,
// &accepted)` returns "" or what broke. Returns how many mutated inputs were accepted, so a test
// can require that the mutations reach past the syntax checks.
template <class Check>
int run_mutations(const std::string& label, const std::string& seed, Mutator mutator, int count,
                  Check check) {
  int accepted = 0;
  EXPECT_EQ(check(seed, &accepted), "") << label << ": the unmutated seed fails";
  EXPECT_EQ(accepted, 1) << label << ": the unmutated seed is rejected";
  accepted = 0;
  int failures = 0;
  for (int i = 0; i < count && failures < kMaxReportedFailures; ++i) {
    const std::string text = mutator.mutate(seed);
    const std::string broken = check(text, &accepted);
    if (broken.empty()) continue;
    ++failures;
    ADD_FAILURE() << label << ", mutation " << i << ": " << broken << "\n--- input ("
                  << text.size() << " bytes, first 2000) ---\n"
                  << std::string_view(text).substr(0, 2000) << "\n--- end ---";
  }
  ::testing::Test::RecordProperty(label + "_accepted", accepted);
  return accepted;
}

}  // namespace pp_test
