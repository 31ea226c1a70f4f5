#include <gtest/gtest.h>

#include "pp/error.h"
#include "pp/planner/bubble_model.h"
#include "pp/planner/cost_model.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

std::string error_of(const Schedule& s, const PerRankCosts& costs) {
  try {
    per_rank_cost_model(s, costs);
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    return e.what();
  }
  return "";
}

TEST(CostModel, InterleavedChunksCostAVthOfTheirStage) {
  const Schedule s = generate_schedule("interleaved", {2, 2, 2});
  const CostModel m = per_rank_cost_model(s, {{1.0, 3.0}, {2.0, 6.0}, {1.0, 2.0}, {0.5}, 0, 0});
  ASSERT_EQ(m.stage.size(), 4u);
  EXPECT_DOUBLE_EQ(m.stage[0].forward_ms, 0.5);  // rank 0, chunk 0
  EXPECT_DOUBLE_EQ(m.stage[1].forward_ms, 1.5);  // rank 1, chunk 0
  EXPECT_DOUBLE_EQ(m.stage[2].backward_ms, 1.0); // rank 0, chunk 1
  EXPECT_DOUBLE_EQ(m.stage[3].wgrad_ms, 1.0);
  EXPECT_DOUBLE_EQ(m.stage[3].input_grad_ms(), 2.0);
  ASSERT_EQ(m.boundary.size(), 3u);
  EXPECT_DOUBLE_EQ(m.boundary[1].transfer_ms(), 0.5);  // rank 1 -> rank 0 wrap-around
}

TEST(CostModel, DefaultWeightGradientIsHalfTheBackward) {
  const Schedule s = generate_schedule("zb-h1", {2, 2, 1});
  const CostModel m = per_rank_cost_model(s, {{1.0}, {3.0}, {}, {0}, 0, 0});
  EXPECT_DOUBLE_EQ(m.stage[1].wgrad_ms, 1.5);
}

TEST(CostModel, LinkCostIsLatencyPlusSizeOverBandwidth) {
  EXPECT_DOUBLE_EQ((LinkCost{0.01, 1e6, 4e6}).transfer_ms(), 4.01);
  EXPECT_DOUBLE_EQ((LinkCost{0.01, 0, 4e6}).transfer_ms(), 0.01);
}

TEST(CostModel, BadCostsNameTheFlag) {
  const Schedule s = generate_schedule("1f1b", {4, 4, 1});
  EXPECT_NE(error_of(s, {{1, 2}, {2}, {}, {0}, 0, 0}).find("--fwd-ms: expected 1 value or 4"),
            std::string::npos);
  EXPECT_NE(error_of(s, {{1}, {-2}, {}, {0}, 0, 0}).find("--bwd-ms"), std::string::npos);
  EXPECT_NE(error_of(s, {{1}, {2}, {3}, {0}, 0, 0}).find("--wgrad-ms"), std::string::npos);
  EXPECT_NE(error_of(s, {{1}, {2}, {}, {0, 1}, 0, 0}).find("--p2p-ms: expected 1 value or 3"),
            std::string::npos);
  EXPECT_NE(error_of(s, {{1}, {2}, {}, {0}, -1, 0}).find("--reduce-ms"), std::string::npos);
}

TEST(BubbleModel, PublishedFormulas) {
  EXPECT_DOUBLE_EQ(*closed_form_bubble_fraction("1f1b", 4, 8, 1, 1, 2, 1), 3.0 / 11);
  EXPECT_DOUBLE_EQ(*closed_form_bubble_fraction("gpipe", 8, 8, 1, 1, 2, 1), 7.0 / 15);
  EXPECT_DOUBLE_EQ(*closed_form_bubble_fraction("interleaved", 4, 8, 2, 1, 2, 1), 3.0 / 19);
  EXPECT_DOUBLE_EQ(*closed_form_bubble_fraction("zb-h1", 4, 8, 1, 1, 2, 1), 3.0 / 27);
  EXPECT_FALSE(closed_form_bubble_fraction("custom", 4, 8, 1, 1, 2, 1).has_value());
}

}  // namespace
}  // namespace pp
