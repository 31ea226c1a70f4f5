// The schedule file: round trips and one-line errors naming the field.
#include <gtest/gtest.h>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/schedule_file.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_schedule_json(text, "f.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    return e.what();
  }
  return "(accepted)";
}

const std::string kHeader =
    R"("schema": "pp.schedule", "version": 1, "ranks": 1, "microbatches": 1, )";

TEST(ScheduleFile, RoundTripsGeneratedAndLoweredSchedules) {
  for (const auto& g : schedule_generators()) {
    const Schedule s = generate_schedule(g.name, {3, 6, g.unsupported({3, 6, 1}).empty() ? 1 : 2});
    for (const Schedule& original : {s, lower_communication(s)}) {
      const Schedule back = parse_schedule_json(schedule_to_json_text(original), "x");
      EXPECT_EQ(back.name, original.name);
      EXPECT_EQ(back.ranks, original.ranks);
      EXPECT_EQ(back.microbatches, original.microbatches);
      EXPECT_EQ(back.chunks_per_rank, original.chunks_per_rank);
      EXPECT_EQ(back.placement, original.placement);
      EXPECT_EQ(back.actions, original.actions) << g.name;
    }
  }
}

TEST(ScheduleFile, ShorthandObjectsAndDefaults) {
  const Schedule s = parse_schedule_json(
      "{" + kHeader + R"("actions": [["F0", {"op": "B", "mb": 0}]]})", "f.json");
  EXPECT_EQ(s.name, "f.json");  // unnamed schedules are called by their file
  EXPECT_EQ(s.chunks_per_rank, 1);
  ASSERT_EQ(s.actions[0].size(), 4u);  // REDUCE and STEP appended
  EXPECT_EQ(s.actions[0][1].kind, ActionKind::kBackward);
  EXPECT_EQ(s.actions[0][3].kind, ActionKind::kOptimizerStep);
  const Schedule chunks = parse_schedule_json(
      R"({"schema": "pp.schedule", "version": 1, "ranks": 1, "microbatches": 1,
          "chunks_per_rank": 2, "actions": [["F0.0", "F0.1", "I0.1", "W0.1", "B0.0", "STEP"]]})",
      "f.json");
  EXPECT_EQ(chunks.actions[0][1].chunk, 1);
  EXPECT_EQ(chunks.actions[0].size(), 6u);  // STEP given: nothing appended
}

TEST(ScheduleFile, ErrorsNameTheField) {
  EXPECT_NE(error_of("not json").find("schedule file 'f.json': not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("top level must be a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"version": 1})").find("schema: must be \"pp.schedule\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"schema": "pp.schedule", "version": 2})").find("version 2 is not supported"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("actions": [], "extra": 1})").find("extra: unknown field"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("actions": []})").find("actions: must be a list of 1 lists"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("actions": [["X1"]]})").find("actions[0][0]: 'X1' is not an action"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("actions": [["F0", {"op": "B", "mb": 5}]]})")
                .find("actions[0][1].mb: 5 is outside 0..0"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("actions": [[{"op": "SEND_F", "mb": 0}]]})")
                .find("actions[0][0].peer: is missing"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("actions": [[{"op": "JUMP", "mb": 0}]]})")
                .find("actions[0][0].op: must be one of"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"schema": "pp.schedule", "version": 1, "ranks": 0, "microbatches": 1, "actions": []})")
                .find("ranks: 0 is outside 1..4096"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"schema": "pp.schedule", "version": 1, "ranks": 1.5})").find("ranks: must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"schema": "pp.schedule", "version": 1, "ranks": 99999999999999999999})")
                .find("ranks:"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("placement": [[3]], "actions": [["F0"]]})")
                .find("placement[0][0]: 3 is outside 0..0"),
            std::string::npos);
  EXPECT_NE(error_of("{" + kHeader + R"("actions": [["F0.x"]]})").find("'F0.x' is not an action"),
            std::string::npos);
}

TEST(ScheduleFile, ErrorsAreOneLine) {
  for (const std::string& text : {std::string("{"), std::string("{\"schema\": 1}"),
                                  "{" + kHeader + R"("actions": [[7]]})"}) {
    const std::string message = error_of(text);
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace pp
