// The validator on hand-made schedules, valid and broken; each violation names rank and step.
#include <gtest/gtest.h>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/schedule_generators.h"
#include "pp/validator.h"
#include "schedule_builders.h"

namespace pp {
namespace {

using nlohmann::json;
using testing_support::recv_b;
using testing_support::recv_f;
using testing_support::schedule_of;
using testing_support::send_b;
using testing_support::send_f;

Violation first_violation(const Schedule& s) {
  const ValidationReport report = validate_schedule(s);
  EXPECT_FALSE(report.ok());
  return report.ok() ? Violation{} : report.violations.front();
}

TEST(Validator, AcceptsGeneratedSchedulesLoweredOrNot) {
  for (const auto& g : schedule_generators()) {
    const Schedule s = generate_schedule(g.name, {4, 8, g.unsupported({4, 8, 1}).empty() ? 1 : 2});
    EXPECT_TRUE(validate_schedule(s).ok()) << g.name;
    EXPECT_TRUE(validate_schedule(lower_communication(s)).ok()) << g.name;
  }
}

TEST(Validator, MissingBackwardNamesTheStage) {
  const Schedule s = schedule_of(2, {json{"F0", "F1", "B0", "B1"}, json{"F0", "B0", "F1"}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 1);
  EXPECT_NE(v.message.find("micro-batch 1 on stage 1"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("no backward"), std::string::npos) << v.message;
}

TEST(Validator, DuplicateForwardNamesBothSteps) {
  const Schedule s = schedule_of(1, {json{"F0", "F0", "B0"}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 0);
  EXPECT_EQ(v.step, 1);
  EXPECT_NE(v.message.find("already ran forward on this stage at step 0"), std::string::npos)
      << v.message;
}

TEST(Validator, BackwardBeforeForward) {
  const Schedule s = schedule_of(1, {json{"B0", "F0"}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 0);
  EXPECT_EQ(v.step, 0);
  EXPECT_NE(v.message.find("backward before its forward"), std::string::npos) << v.message;
}

TEST(Validator, WeightGradientBeforeInputGradient) {
  const Schedule s = schedule_of(1, {json{"F0", "W0", "I0"}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.step, 1);
  EXPECT_NE(v.message.find("weight gradient before its input gradient"), std::string::npos);
}

TEST(Validator, SplitAndFullBackwardTogetherIsRejected) {
  const Schedule s = schedule_of(1, {json{"F0", "B0", "W0"}});
  EXPECT_NE(first_violation(s).message.find("both a full backward"), std::string::npos);
}

TEST(Validator, InputGradientWithoutWeightGradientIsRejected) {
  const Schedule s = schedule_of(1, {json{"F0", "I0"}});
  EXPECT_NE(first_violation(s).message.find("no weight gradient"), std::string::npos);
}

TEST(Validator, StepMustBeLastAndSingle) {
  Schedule s = generate_schedule("1f1b", {2, 2, 1});
  // rank 1: F0 B0 F1 B1 REDUCE STEP -> F0 B0 F1 REDUCE STEP B1
  s.actions[1].erase(s.actions[1].begin() + 3);
  s.actions[1].push_back({ActionKind::kBackward, 1, 0, -1});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 1);
  EXPECT_NE(v.message.find("after the step-end"), std::string::npos) << v.message;

  Schedule twice = generate_schedule("1f1b", {2, 2, 1});
  twice.actions[0].push_back({ActionKind::kOptimizerStep, -1, 0, -1});
  EXPECT_NE(first_violation(twice).message.find("a second STEP"), std::string::npos);
}

TEST(Validator, FieldsOutOfRange) {
  Schedule s = generate_schedule("1f1b", {2, 2, 1});
  s.actions[0][1].microbatch = 7;
  Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 0);
  EXPECT_EQ(v.step, 1);
  EXPECT_NE(v.message.find("micro-batch 7 is outside 0..1"), std::string::npos) << v.message;
  Schedule c = generate_schedule("1f1b", {2, 2, 1});
  c.actions[1][0].chunk = 1;
  EXPECT_NE(first_violation(c).message.find("chunk 1 is outside 0..0"), std::string::npos);
}

TEST(Validator, DeadlockInAnUnloweredScheduleNamesTheWaitingRanks) {
  // Rank 0 runs B0 first, which needs rank 1's B0, which needs rank 0's F0: a cycle.
  const Schedule s = schedule_of(1, {json{"B0", "F0"}, json{"F0", "B0"}});
  const ValidationReport report = validate_schedule(s);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.violations.front().message.find("backward before its forward"),
            std::string::npos);
  // A cycle between ranks with each rank's own order correct:
  const Schedule cycle =
      schedule_of(2, {json{"F0", "B0", "F1", "B1"}, json{"F1", "F0", "B0", "B1"}});
  const Violation v = first_violation(cycle);
  EXPECT_NE(v.message.find("deadlock"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("rank 0 waits at step 1 (B0)"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("rank 1 waits at step 0 (F1)"), std::string::npos) << v.message;
}

TEST(Validator, LoweredDeadlockWhereBothRanksReceiveFirst) {
  // Each rank waits for the other's message before sending its own.
  const Schedule s = schedule_of(1, {json{"F0", recv_b(0, 1), send_f(0, 1), "B0"},
                                     json{recv_f(0, 0), "F0", "B0", send_b(0, 0)}});
  const Violation v = first_violation(s);
  EXPECT_NE(v.message.find("deadlock"), std::string::npos) << v.message;
}

TEST(Validator, MissingSendIsNamed) {
  const Schedule s =
      schedule_of(1, {json{"F0", recv_b(0, 1), "B0"}, json{recv_f(0, 0), "F0", "B0", send_b(0, 0)}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 0);
  EXPECT_NE(v.message.find("never sends the activation of micro-batch 0 for stage 1 to rank 1"),
            std::string::npos)
      << v.message;
}

TEST(Validator, WrongPeerIsNamed) {
  const Schedule s = schedule_of(1, {json{"F0", send_f(0, 2), recv_b(0, 1), "B0"},
                                     json{recv_f(0, 0), "F0", send_f(0, 2), recv_b(0, 2), "B0", send_b(0, 0)},
                                     json{recv_f(0, 1), "F0", "B0", send_b(0, 1)}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 0);
  EXPECT_EQ(v.step, 1);
  EXPECT_NE(v.message.find("peer should be rank 1"), std::string::npos) << v.message;
}

TEST(Validator, SendBeforeItsDataIsComputed) {
  const Schedule s = schedule_of(1, {json{send_f(0, 1), "F0", recv_b(0, 1), "B0"},
                                     json{recv_f(0, 0), "F0", "B0", send_b(0, 0)}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.step, 0);
  EXPECT_NE(v.message.find("sent before it is computed"), std::string::npos) << v.message;
}

TEST(Validator, ReceiveOrderMustMatchSendOrderPerPair) {
  const Schedule s = schedule_of(
      2, {json{"F0", send_f(0, 1), "F1", send_f(1, 1), recv_b(0, 1), "B0", recv_b(1, 1), "B1"},
          json{recv_f(1, 0), recv_f(0, 0), "F0", "B0", send_b(0, 0), "F1", "B1", send_b(1, 0)}});
  const Violation v = first_violation(s);
  EXPECT_EQ(v.rank, 1);
  EXPECT_EQ(v.step, 0);
  EXPECT_NE(v.message.find("in the order of the sends"), std::string::npos) << v.message;
}

TEST(Validator, ErrorShowsTheGridWithTheCulpritMarked) {
  const Schedule s = schedule_of(2, {json{"F0", "F1", "B1", "B0"}, json{"F0", "B0", "F1", "B0"}});
  try {
    require_valid_schedule(s);
    FAIL() << "accepted an invalid schedule";
  } catch (const Error& e) {
    const std::string text = e.what();
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    EXPECT_NE(text.find("schedule 'test' is invalid: rank 1, step 3 (B0)"), std::string::npos)
        << text;
    EXPECT_NE(text.find("step |"), std::string::npos) << text;
    EXPECT_NE(text.find("[B0]"), std::string::npos) << text;
    EXPECT_NE(text.find("*rank 1 |"), std::string::npos) << text;
  }
}

TEST(Validator, GridWindowsLongListsAndManyRanks) {
  const Schedule s = generate_schedule("1f1b", {32, 64, 1});
  const std::string grid = render_schedule_grid(s, 20, 50, 3);
  EXPECT_NE(grid.find("["), std::string::npos);
  EXPECT_NE(grid.find("(ranks 16..24 of 32 shown)"), std::string::npos) << grid;
  EXPECT_EQ(grid.find("rank 0 |"), std::string::npos);
  EXPECT_NE(grid.find(" 50 "), std::string::npos) << grid;
}

TEST(Validator, HostileHeaderDoesNotAllocateForIt) {
  Schedule s;
  s.name = "huge";
  s.ranks = 2;
  s.microbatches = 1 << 20;
  s.chunks_per_rank = 64;
  s.placement = interleaved_placement(2, 64);
  s.actions.resize(2);
  const Violation v = first_violation(s);
  EXPECT_NE(v.message.find("forwards"), std::string::npos);
}

}  // namespace
}  // namespace pp
