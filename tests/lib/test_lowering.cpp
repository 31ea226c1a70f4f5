// Lowering inserts the sends and receives; checked here without the validator's help.
#include <gtest/gtest.h>

#include <map>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/schedule_generators.h"
#include "pp/validator.h"
#include "schedule_builders.h"

namespace pp {
namespace {

using nlohmann::json;
using testing_support::schedule_of;

struct Msg {
  bool gradient;
  int mb;
  int chunk_stage;  // stage of the sending or receiving chunk
  bool operator==(const Msg& o) const {
    return gradient == o.gradient && mb == o.mb && chunk_stage == o.chunk_stage;
  }
};

// For every ordered pair: the messages in send order, and in receive order, keyed by the data's
// consumer stage (activation for v comes from v-1; gradient for v from v+1).
void expect_pairs_match(const Schedule& s) {
  const StageMap map = make_stage_map(s);
  std::map<std::pair<int, int>, std::vector<Msg>> sent, received;
  for (int r = 0; r < s.ranks; ++r) {
    const auto& list = s.actions[r];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Action& a = list[i];
      const int v = is_step_end(a.kind) ? -1 : map.stage_of(r, a.chunk);
      if (a.kind == ActionKind::kSendActivation) {
        sent[{r, a.peer}].push_back({false, a.microbatch, v + 1});
        ASSERT_GT(i, 0u);
        EXPECT_EQ(list[i - 1].kind, ActionKind::kForward) << "send right after its producer";
      }
      if (a.kind == ActionKind::kSendGradient) sent[{r, a.peer}].push_back({true, a.microbatch, v - 1});
      if (a.kind == ActionKind::kRecvActivation) received[{a.peer, r}].push_back({false, a.microbatch, v});
      if (a.kind == ActionKind::kRecvGradient) received[{a.peer, r}].push_back({true, a.microbatch, v});
    }
  }
  EXPECT_EQ(sent.size(), received.size());
  for (const auto& [pair, messages] : sent) {
    EXPECT_TRUE(messages == received[pair]) << "pair " << pair.first << "->" << pair.second;
  }
}

TEST(Lowering, EveryCrossRankDependencyGetsOneSendAndOneMatchingReceive) {
  for (const auto& g : schedule_generators()) {
    for (int k : {1, 2, 3, 4}) {
      const Schedule s = lower_communication(
          generate_schedule(g.name, {k, 2 * k, g.unsupported({k, 2 * k, 1}).empty() ? 1 : 2}));
      expect_pairs_match(s);
      std::size_t comm = 0;
      for (const auto& list : s.actions) {
        for (const Action& a : list) comm += is_comm(a.kind);
      }
      // Each micro-batch crosses every boundary between stages on two ranks (the V shape's turn
      // stays on one) forward and backward: two actions each way.
      const StageMap map = make_stage_map(s);
      std::size_t crossings = 0;
      for (int v = 0; v + 1 < s.stage_count(); ++v) crossings += map.rank_of_stage[v] != map.rank_of_stage[v + 1];
      const std::size_t expected = 4u * crossings * 2 * k;
      EXPECT_EQ(comm, expected) << g.name << " K=" << k;
    }
  }
}

TEST(Lowering, ReceivesFollowTheSendOrderWhenTheConsumerOrderDiffers) {
  // Rank 1 uses micro-batch 1 before micro-batch 0, but rank 0 sends 0 first.
  const Schedule s =
      schedule_of(2, {json{"F0", "F1", "B1", "B0"}, json{"F1", "F0", "B1", "B0"}});
  const Schedule lowered = lower_communication(s);
  EXPECT_TRUE(validate_schedule(lowered).ok());
  const auto& r1 = lowered.actions[1];
  ASSERT_GE(r1.size(), 3u);
  EXPECT_EQ(r1[0], (Action{ActionKind::kRecvActivation, 0, 0, 0}));
  EXPECT_EQ(r1[1], (Action{ActionKind::kRecvActivation, 1, 0, 0}));
  EXPECT_EQ(r1[2], (Action{ActionKind::kForward, 1, 0, -1}));
  expect_pairs_match(lowered);
}

TEST(Lowering, SameRankChunksNeedNoMessage) {
  // V-shape on 2 ranks: rank 1 holds stages 1 and 2, so 1 -> 2 stays on rank 1.
  const Schedule s = schedule_of(1,
                                 {json{"F0.0", "F0.1", "B0.1", "B0.0"},
                                  json{"F0.0", "F0.1", "B0.1", "B0.0"}},
                                 2, json{{0, 3}, {1, 2}});
  const Schedule lowered = lower_communication(s);
  EXPECT_TRUE(validate_schedule(lowered).ok());
  int rank1_messages = 0;
  for (const Action& a : lowered.actions[1]) rank1_messages += is_comm(a.kind);
  EXPECT_EQ(rank1_messages, 4);  // F in from rank 0 and out to rank 0, B in and out likewise
  expect_pairs_match(lowered);
}

TEST(Lowering, RefusesLoweredOrInvalidInput) {
  const Schedule lowered = lower_communication(generate_schedule("1f1b", {2, 2, 1}));
  EXPECT_THROW(lower_communication(lowered), Error);
  const Schedule broken = schedule_of(1, {json{"B0", "F0"}});
  try {
    lower_communication(broken);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is invalid"), std::string::npos);
  }
}

}  // namespace
}  // namespace pp
