// The generators' orders against their papers' descriptions.
#include <gtest/gtest.h>

#include "pp/schedule_generators.h"

namespace pp {
namespace {

std::vector<std::string> labels(const Schedule& s, int rank) {
  std::vector<std::string> out;
  for (const Action& a : s.actions[rank]) out.push_back(action_label(a, s.chunks_per_rank));
  return out;
}

using Labels = std::vector<std::string>;

TEST(Generators, GpipeRunsAllForwardsThenAllBackwards) {
  const Schedule s = generate_schedule("gpipe", {2, 3, 1});
  EXPECT_EQ(labels(s, 1), (Labels{"F0", "F1", "F2", "B0", "B1", "B2", "REDUCE", "STEP"}));
}

TEST(Generators, OneFOneBWarmsUpWithKMinusOneMinusSForwards) {
  const Schedule s = generate_schedule("1f1b", {3, 4, 1});
  EXPECT_EQ(labels(s, 0), (Labels{"F0", "F1", "F2", "B0", "F3", "B1", "B2", "B3", "REDUCE", "STEP"}));
  EXPECT_EQ(labels(s, 1), (Labels{"F0", "F1", "B0", "F2", "B1", "F3", "B2", "B3", "REDUCE", "STEP"}));
  EXPECT_EQ(labels(s, 2), (Labels{"F0", "B0", "F1", "B1", "F2", "B2", "F3", "B3", "REDUCE", "STEP"}));
}

TEST(Generators, OneFOneBWithFewerMicrobatchesThanStages) {
  const Schedule s = generate_schedule("1f1b", {4, 2, 1});
  EXPECT_EQ(labels(s, 0), (Labels{"F0", "F1", "B0", "B1", "REDUCE", "STEP"}));
}

TEST(Generators, InterleavedFollowsMegatronOrder) {
  // K=2, V=2, M=2: rank 0 warms up (K-0-1)*2 + (V-1)*K = 4 = all M*V forwards; chunk order
  // F0.0 F1.0 F0.1 F1.1, backwards from the last chunk: B0.1 B1.1 B0.0 B1.0.
  const Schedule s = generate_schedule("interleaved", {2, 2, 2});
  EXPECT_EQ(labels(s, 0), (Labels{"F0.0", "F1.0", "F0.1", "F1.1", "B0.1", "B1.1", "B0.0", "B1.0",
                                  "REDUCE", "STEP"}));
  // Rank 1 warms up with (V-1)*K = 2 forwards, then alternates.
  EXPECT_EQ(labels(s, 1), (Labels{"F0.0", "F1.0", "F0.1", "B0.1", "F1.1", "B1.1", "B0.0", "B1.0",
                                  "REDUCE", "STEP"}));
  EXPECT_EQ(s.placement, (std::vector<std::vector<int>>{{0, 2}, {1, 3}}));
}

TEST(Generators, ZbH1DefersUpToSWeightGradientsOnStageS) {
  const Schedule s = generate_schedule("zb-h1", {2, 3, 1});
  EXPECT_EQ(labels(s, 0), (Labels{"F0", "F1", "I0", "W0", "F2", "I1", "W1", "I2", "W2", "REDUCE",
                                  "STEP"}));
  EXPECT_EQ(labels(s, 1), (Labels{"F0", "I0", "F1", "I1", "W0", "F2", "I2", "W1", "W2", "REDUCE",
                                  "STEP"}));
}

TEST(Generators, RegistryListsEveryScheduleOnce) {
  EXPECT_EQ(schedule_names(), "gpipe, 1f1b, interleaved, looped-bfs, zb-h1, zb-h2, zb1p, zb-v, v-half, v-min, dualpipev");
  EXPECT_TRUE(find_schedule_generator("zb-h1").splits_backward);
  EXPECT_FALSE(find_schedule_generator("1f1b").splits_backward);
}

TEST(Generators, PlacementsPutEachStageOnce) {
  EXPECT_EQ(interleaved_placement(3, 2), (std::vector<std::vector<int>>{{0, 3}, {1, 4}, {2, 5}}));
  EXPECT_EQ(v_shape_placement(3), (std::vector<std::vector<int>>{{0, 5}, {1, 4}, {2, 3}}));
}

}  // namespace
}  // namespace pp
