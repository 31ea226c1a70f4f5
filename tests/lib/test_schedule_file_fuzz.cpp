// Deterministic mutation fuzzing of the schedule-file parser (runs in every CI build; the libFuzzer
// target in tests/fuzz/ explores further where clang is available).
//
// Starts from valid schedule files written by schedule_to_json_text() and applies seeded mutations
// (tests/fuzz/mutator.h, shared by every format's mutation test) and checks, for each mutated
// text, the contract of tests/fuzz/format_checks.h: the parser returns or throws
// pp::Error(kInvalidInput), never another exception. Whatever parses must go through
// validate_schedule() without throwing; what fails it must make require_valid_schedule() throw
// pp::Error (its message renders the schedule grid); what passes must survive a write/parse round
// trip and, when unlowered, lowering.

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/format_checks.h"
#include "fuzz/mutation_test.h"
#include "pp/lowering.h"
#include "pp/schedule.h"
#include "pp/schedule_file.h"
#include "pp/schedule_generators.h"

namespace {

constexpr int kMutationsPerSeed = 2500;  // x 8 seeds = 20,000 mutated texts

// Actions, ops and keys of the schedule format that a quoted string may be replaced by.
std::vector<std::string> schedule_strings() {
  return {"\"F0\"",     "\"B0\"",      "\"I1\"",     "\"W1\"",     "\"F1.1\"",    "\"B0.1\"",
          "\"F9\"",     "\"F0.9\"",    "\"F\"",      "\"X0\"",     "\"F00\"",     "\"F0.\"",
          "\"F-1\"",    "\"REDUCE\"",  "\"STEP\"",   "\"SEND_F\"", "\"RECV_B\"",  "\"op\"",
          "\"mb\"",     "\"peer\"",    "\"chunk\"",  "\"ranks\"",  "\"placement\"", "\"pp.schedule\""};
}

// ---------------------------------------------------------------------------------------------
// Seeds: small valid schedules of every generator, unlowered and lowered.

struct Seed {
  const char* label;
  const char* schedule;
  pp::ScheduleSpec spec;
  bool lowered;
};

const Seed kSeeds[] = {
    {"gpipe_k2_m3", "gpipe", {2, 3, 1}, false},
    {"1f1b_k3_m4", "1f1b", {3, 4, 1}, false},
    {"1f1b_k2_m2_lowered", "1f1b", {2, 2, 1}, true},
    {"interleaved_k2_m4_v2", "interleaved", {2, 4, 2}, false},
    {"interleaved_k2_m2_v2_lowered", "interleaved", {2, 2, 2}, true},
    {"zb_h1_k2_m3", "zb-h1", {2, 3, 1}, false},
    {"zb_h1_k3_m3_lowered", "zb-h1", {3, 3, 1}, true},
    {"gpipe_k1_m2", "gpipe", {1, 2, 1}, false},
};

std::string seed_text(const Seed& seed) {
  pp::Schedule schedule = pp::generate_schedule(seed.schedule, seed.spec);
  if (seed.lowered) schedule = pp::lower_communication(schedule);
  return pp::schedule_to_json_text(schedule);
}

class ScheduleFileFuzz : public ::testing::TestWithParam<int> {};

TEST_P(ScheduleFileFuzz, ParserThrowsOnlyPpErrorAndValidatorNeverThrows) {
  const Seed& seed = kSeeds[GetParam()];
  pp_test::ScheduleTally tally;
  const auto check = [&tally](std::string_view text, int* accepted) {
    const int before = tally.parsed;
    std::string broken = pp_test::check_schedule(text, &tally);
    *accepted += tally.parsed - before;
    return broken;
  };
  pp_test::Mutator mutator(0x5eed0000u + static_cast<std::uint64_t>(GetParam()), schedule_strings());
  const int parsed = pp_test::run_mutations(seed.label, seed_text(seed), mutator, kMutationsPerSeed, check);
  // The mutations must reach the validator, not only the JSON syntax check.
  EXPECT_GT(parsed, kMutationsPerSeed / 20) << seed.label;
  EXPECT_GT(tally.valid, 1) << seed.label;
}

INSTANTIATE_TEST_SUITE_P(Seeds, ScheduleFileFuzz,
                         ::testing::Range(0, static_cast<int>(std::size(kSeeds))),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return std::string(kSeeds[param.param].label);
                         });

// Hand-picked hostile inputs that random mutation rarely reaches.
TEST(ScheduleFileHostile, DeepNestingHugeHeadersAndOddActionsAreRejectedCleanly) {
  const std::string header = R"({"schema": "pp.schedule", "version": 1, )";
  std::vector<std::string> texts = {
      "",
      "null",
      std::string(100000, '['),
      std::string(50000, '[') + std::string(50000, ']'),
      header + R"("ranks": 4096, "microbatches": 1048576, "chunks_per_rank": 64, "actions": []})",
      header + R"("ranks": 4096, "microbatches": 4096, "actions": [])" + "}",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F2147483648"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0.65"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0.64"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F-0"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0", "B0", "REDUCE"]]})",
      header + R"("ranks": 2, "microbatches": 1, "actions": [["F0", {"op": "SEND_F", "mb": 0,
          "peer": 0}, "B0"], ["F0", "B0"]]})",
      header + R"("ranks": 2, "microbatches": 1, "placement": [[1], [1]], "actions": [[], []]})",
      header + R"("ranks": 1, "microbatches": 1, "name": "\u0000\ud800", "actions": [["F0"]]})",
      header + R"("ranks": 1.0, "microbatches": 1, "actions": [["F0"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0", "B0"]], "ranks": 2})",
  };
  std::string many_ranks = header + R"("ranks": 4096, "microbatches": 4096, "actions": [)";
  for (int r = 0; r < 4096; ++r) many_ranks += r ? ",[]" : "[]";
  texts.push_back(many_ranks + "]}");
  for (const std::string& text : texts) {
    EXPECT_EQ(pp_test::check_schedule(text), "") << text.substr(0, 200);
  }
}

}  // namespace
