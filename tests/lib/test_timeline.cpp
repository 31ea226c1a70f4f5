// Timeline metrics on hand-made timelines, computed by hand.
#include <gtest/gtest.h>

#include "pp/timeline.h"

namespace pp {
namespace {

TimelineEvent compute(int rank, ActionKind kind, int mb, double start, double end, int chunk = 0) {
  return {rank, Lane::kCompute, kind, mb, static_cast<std::int16_t>(chunk), -1, start, end, -1};
}

TimelineEvent comm(int rank, ActionKind kind, int mb, int peer, double start, double end,
                   std::int64_t flow) {
  return {rank, Lane::kComm, kind, mb, 0, peer, start, end, flow};
}

TEST(TimelineMetrics, BusyIdleAndBubble) {
  Timeline t;
  t.ranks = 2;
  t.microbatches = 1;
  // rank 0: F [0,1], waits, B [4,6]; rank 1: F [2,3] after a 1 ms transfer, B [3,4].
  t.events = {compute(0, ActionKind::kForward, 0, 0, 1),
              comm(0, ActionKind::kSendActivation, 0, 1, 1, 2, 0),
              comm(1, ActionKind::kRecvActivation, 0, 0, 0, 2, 0),
              compute(1, ActionKind::kForward, 0, 2, 3),
              compute(1, ActionKind::kBackward, 0, 3, 4),
              comm(1, ActionKind::kSendGradient, 0, 0, 4, 4, 1),
              comm(0, ActionKind::kRecvGradient, 0, 1, 1, 4, 1),
              compute(0, ActionKind::kBackward, 0, 4, 6)};
  const TimelineMetrics m = compute_metrics(t);
  EXPECT_DOUBLE_EQ(m.makespan_ms, 6);
  EXPECT_DOUBLE_EQ(m.ranks[0].busy_ms, 3);
  EXPECT_DOUBLE_EQ(m.ranks[0].idle_ms, 3);
  EXPECT_DOUBLE_EQ(m.ranks[1].busy_ms, 2);
  EXPECT_DOUBLE_EQ(m.bubble_fraction, 7.0 / 12);
  // Rank 1: [0,2] before its first backward: 1 ms waiting for rank 0's forward (warm-up), 1 ms
  // of transfer (comm); [4,6] after its last action: drain.
  EXPECT_DOUBLE_EQ(m.ranks[1].causes.warmup_ms, 1);
  EXPECT_DOUBLE_EQ(m.ranks[1].causes.comm_ms, 1);
  EXPECT_DOUBLE_EQ(m.ranks[1].causes.drain_ms, 2);
  // Rank 0: [1,4] waits for the gradient, which is on the wire for zero time: warm-up.
  EXPECT_DOUBLE_EQ(m.ranks[0].causes.warmup_ms, 3);
  EXPECT_DOUBLE_EQ(m.ranks[0].causes.comm_ms, 0);
  EXPECT_DOUBLE_EQ(m.ranks[0].peak_inflight_microbatches, 1);
}

TEST(TimelineMetrics, InflightCountsChunksAsAVthAndFreesAtTheLastBackwardPart) {
  Timeline t;
  t.ranks = 1;
  t.microbatches = 2;
  t.chunks_per_rank = 2;
  t.events = {compute(0, ActionKind::kForward, 0, 0, 1, 0),
              compute(0, ActionKind::kForward, 0, 1, 2, 1),
              compute(0, ActionKind::kForward, 1, 2, 3, 0),
              compute(0, ActionKind::kBackwardInput, 0, 3, 4, 1),
              compute(0, ActionKind::kBackwardWeight, 0, 4, 5, 1),
              compute(0, ActionKind::kBackward, 0, 5, 6, 0),
              compute(0, ActionKind::kForward, 1, 6, 7, 1)};
  const auto series = inflight_series(t, 0);
  ASSERT_EQ(series.size(), 5u);
  EXPECT_DOUBLE_EQ(series[2].microbatches, 1.5);  // three chunk activations after t=2
  EXPECT_DOUBLE_EQ(series[3].time_ms, 5);         // I does not free; W does
  EXPECT_DOUBLE_EQ(series[3].microbatches, 1.0);
  EXPECT_DOUBLE_EQ(compute_metrics(t).ranks[0].peak_inflight_microbatches, 1.5);
}

TEST(TimelineMetrics, EmptyTimeline) {
  Timeline t;
  t.ranks = 2;
  const TimelineMetrics m = compute_metrics(t);
  EXPECT_EQ(m.makespan_ms, 0);
  EXPECT_EQ(m.bubble_fraction, 0);
  ASSERT_EQ(m.ranks.size(), 2u);
}

}  // namespace
}  // namespace pp
