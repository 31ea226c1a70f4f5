// Every generator's output, lowered, passes the validator and runs to completion in the simulator
// for K in 1..32 and M in 1..128 wherever the schedule is defined; where it is not, the generator
// refuses with a one-line reason (pp::Error, kInvalidInput), never a hang or a crash.
#include <gtest/gtest.h>

#include <string>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/planner/cost_model.h"
#include "pp/planner/simulator.h"
#include "pp/schedule_generators.h"
#include "pp/validator.h"

namespace pp {
namespace {

// Independent of the validator: each (micro-batch, stage) runs F once and its backward once.
void expect_complete(const Schedule& s) {
  const StageMap map = make_stage_map(s);
  std::vector<int> forwards(s.microbatches * s.stage_count(), 0);
  std::vector<int> backwards(s.microbatches * s.stage_count(), 0);
  for (int r = 0; r < s.ranks; ++r) {
    for (const Action& a : s.actions[r]) {
      const int i = a.microbatch * s.stage_count() + (is_step_end(a.kind) ? 0 : map.stage_of(r, a.chunk));
      if (a.kind == ActionKind::kForward) ++forwards[i];
      if (is_backward_part(a.kind)) ++backwards[i];
    }
  }
  for (int i = 0; i < s.microbatches * s.stage_count(); ++i) {
    ASSERT_EQ(forwards[i], 1) << "index " << i;
    ASSERT_EQ(backwards[i], 1) << "index " << i;
  }
}

void check_all(const std::string& name, int v) {
  int defined = 0;
  for (int k = 1; k <= 32; ++k) {
    for (int m = 1; m <= 128; ++m) {
      const ScheduleSpec spec{k, m, v};
      const ScheduleGenerator& generator = find_schedule_generator(name);
      const std::string why = generator.unsupported({k, m, chunks_for(generator, v)});
      if (!why.empty()) {
        try {
          generate_schedule(name, spec);
          ADD_FAILURE() << name << " K=" << k << " M=" << m << " should be refused: " << why;
        } catch (const Error& e) {
          EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
          EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
        continue;
      }
      ++defined;
      const Schedule compute = generate_schedule(name, spec);
      expect_complete(compute);
      const Schedule lowered = lower_communication(compute);
      const ValidationReport report = validate_schedule(lowered);
      ASSERT_TRUE(report.ok()) << name << " K=" << k << " M=" << m << ": "
                               << report.violations.front().message;
      if (m % 16 == 0 || m < 4) {  // the simulator: an independent check that nothing deadlocks
        const CostModel costs = per_rank_cost_model(lowered, {{1.0}, {2.0}, {}, {0.25}, 0, 0});
        EXPECT_NO_THROW(simulate(lowered, costs));
      }
    }
  }
  EXPECT_GT(defined, 0);
}

TEST(GeneratorProperties, Gpipe) { check_all("gpipe", 1); }
TEST(GeneratorProperties, OneFOneB) { check_all("1f1b", 1); }
TEST(GeneratorProperties, InterleavedTwoChunks) { check_all("interleaved", 2); }
TEST(GeneratorProperties, InterleavedFourChunks) { check_all("interleaved", 4); }
TEST(GeneratorProperties, ZbH1) { check_all("zb-h1", 1); }
TEST(GeneratorProperties, InterleavedThreeChunks) { check_all("interleaved", 3); }
TEST(GeneratorProperties, LoopedBfs) { check_all("looped-bfs", 1); }
TEST(GeneratorProperties, LoopedBfsThreeChunks) { check_all("looped-bfs", 3); }
TEST(GeneratorProperties, ZbH2) { check_all("zb-h2", 1); }
TEST(GeneratorProperties, Zb1pTwoChunks) { check_all("zb1p", 2); }
TEST(GeneratorProperties, Zb1pThreeChunks) { check_all("zb1p", 3); }
TEST(GeneratorProperties, ZbV) { check_all("zb-v", 2); }
TEST(GeneratorProperties, VHalf) { check_all("v-half", 2); }
TEST(GeneratorProperties, VMin) { check_all("v-min", 2); }
TEST(GeneratorProperties, DualPipeV) { check_all("dualpipev", 2); }
TEST(GeneratorProperties, VShapeDefaultsToTwoChunks) {
  for (const char* name : {"zb-v", "v-half", "v-min", "dualpipev"}) {
    const Schedule s = generate_schedule(name, {4, 8, 1});
    EXPECT_EQ(s.chunks_per_rank, 2) << name;
    EXPECT_EQ(s.placement, v_shape_placement(4)) << name;
  }
}

TEST(GeneratorProperties, UndefinedCombinationsAreRefusedClearly) {
  auto message = [](const std::string& name, ScheduleSpec spec) {
    try {
      generate_schedule(name, spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(message("interleaved", {4, 6, 2}), "(accepted)");
  EXPECT_NE(message("dualpipev", {4, 7, 2}).find("twice as many micro-batches"), std::string::npos);
  EXPECT_NE(message("zb-v", {4, 8, 3}).find("--virtual-stages 2"), std::string::npos);
  EXPECT_NE(message("zb1p", {4, 8, 1}).find("--virtual-stages"), std::string::npos);
  EXPECT_NE(message("interleaved", {4, 8, 1}).find("--virtual-stages"), std::string::npos);
  EXPECT_NE(message("zb-h1", {4, 8, 2}).find("--virtual-stages"), std::string::npos);
  EXPECT_NE(message("gpipe", {0, 8, 1}).find("--stages"), std::string::npos);
  EXPECT_NE(message("gpipe", {4, 0, 1}).find("--microbatches"), std::string::npos);
  EXPECT_NE(message("nosuch", {4, 8, 1}).find("known: gpipe, 1f1b"), std::string::npos);
  EXPECT_NE(message("1f1b", {4096, 1 << 20, 1}).find("limit"), std::string::npos);
}

}  // namespace
}  // namespace pp
