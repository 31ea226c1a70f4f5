// The simulator against the published closed forms, with uniform stages and free communication:
//   GPipe, 1F1B:  makespan (M+K-1)(F+B),        bubble (K-1)/(M+K-1)
//   interleaved:  makespan (V*M+K-1)(F+B)/V,    bubble (K-1)/(V*M+K-1)
//   ZB-H1:        bubble time per rank (K-1)(F+I-W), I = B-W (Qi et al., 2024)
//   peak live activations: M for GPipe; min(K-s, M) on stage s for 1F1B.
#include <gtest/gtest.h>

#include <algorithm>

#include "pp/planner/simulation_request.h"
#include "planner/uniform_simulation.h"

namespace pp {
namespace {

const int kStages[] = {1, 2, 3, 4, 5, 8, 16};
const int kMicrobatches[] = {1, 2, 3, 4, 7, 8, 16, 32, 64};

TEST(ClosedForms, GpipeMakespanBubbleAndPeak) {
  for (int k : kStages) {
    for (int m : kMicrobatches) {
      SCOPED_TRACE(testing::Message() << "K=" << k << " M=" << m);
      const auto r = simulate_uniform("gpipe", k, m, 1, 1.0, 2.0, 1.0);
      EXPECT_DOUBLE_EQ(r.metrics.makespan_ms, (m + k - 1) * 3.0);
      EXPECT_NEAR(r.metrics.bubble_fraction, double(k - 1) / (m + k - 1), 1e-12);
      for (const auto& rank : r.metrics.ranks) EXPECT_EQ(rank.peak_inflight_microbatches, m);
    }
  }
}

TEST(ClosedForms, OneFOneBMakespanBubbleAndPeak) {
  for (int k : kStages) {
    for (int m : kMicrobatches) {
      SCOPED_TRACE(testing::Message() << "K=" << k << " M=" << m);
      const auto r = simulate_uniform("1f1b", k, m, 1, 1.5, 2.5, 1.0);
      EXPECT_NEAR(r.metrics.makespan_ms, (m + k - 1) * 4.0, 1e-9);
      EXPECT_NEAR(r.metrics.bubble_fraction, double(k - 1) / (m + k - 1), 1e-12);
      for (const auto& rank : r.metrics.ranks) {
        EXPECT_EQ(rank.peak_inflight_microbatches, std::min(k - rank.rank, m)) << "stage "
                                                                               << rank.rank;
        EXPECT_NEAR(rank.bubble_fraction, double(k - 1) / (m + k - 1), 1e-12);
      }
    }
  }
}

TEST(ClosedForms, InterleavedMakespanAndBubble) {
  for (int k : {1, 2, 3, 4, 8}) {
    for (int v : {2, 3, 4}) {
      for (int groups : {1, 2, 3, 4, 8}) {
        const int m = groups * k;
        SCOPED_TRACE(testing::Message() << "K=" << k << " M=" << m << " V=" << v);
        const auto r = simulate_uniform("interleaved", k, m, v, 1.0, 2.0, 1.0);
        EXPECT_NEAR(r.metrics.makespan_ms, (v * m + k - 1) * 3.0 / v, 1e-9);
        EXPECT_NEAR(r.metrics.bubble_fraction, double(k - 1) / (v * m + k - 1), 1e-12);
      }
    }
  }
}

TEST(ClosedForms, ZbH1BubbleTime) {
  struct Costs {
    double f, b, w;
  };
  for (const Costs c : {Costs{1, 2, 1}, Costs{2, 4, 2}}) {
    for (int k : kStages) {
      for (int m : kMicrobatches) {
        if (m < k) continue;  // the closed form assumes the pipeline reaches steady state
        SCOPED_TRACE(testing::Message() << "K=" << k << " M=" << m << " F=" << c.f);
        const auto r = simulate_uniform("zb-h1", k, m, 1, c.f, c.b, c.w);
        const double bubble = (k - 1) * (c.f + (c.b - c.w) - c.w);
        EXPECT_NEAR(r.metrics.makespan_ms, m * (c.f + c.b) + bubble, 1e-9);
        for (const auto& rank : r.metrics.ranks) EXPECT_NEAR(rank.idle_ms, bubble, 1e-9);
      }
    }
  }
}

TEST(ClosedForms, ZbH1BeatsOneFOneBAtTheSamePeakMemory) {
  for (int k : {2, 4, 8}) {
    const auto zb = simulate_uniform("zb-h1", k, 4 * k, 1, 1, 2, 1);
    const auto base = simulate_uniform("1f1b", k, 4 * k, 1, 1, 2, 1);
    EXPECT_LT(zb.metrics.makespan_ms, base.metrics.makespan_ms);
    double zb_peak = 0;
    double base_peak = 0;
    for (const auto& rank : zb.metrics.ranks) zb_peak = std::max(zb_peak, rank.peak_inflight_microbatches);
    for (const auto& rank : base.metrics.ranks) base_peak = std::max(base_peak, rank.peak_inflight_microbatches);
    EXPECT_EQ(zb_peak, base_peak);
  }
}

TEST(ClosedForms, OneFOneBWarmupAndDrainSplitOfTheBubble) {
  // Stage s waits s*F to start and (K-1-s)*B at the end on the last stage; on stage 0 the wait
  // for the first gradient, (K-1)*B, is warm-up and the tail, (K-1)*F, is drain.
  const int k = 4;
  const auto r = simulate_uniform("1f1b", k, 8, 1, 1.0, 2.0, 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.ranks[0].causes.warmup_ms, (k - 1) * 2.0);
  EXPECT_DOUBLE_EQ(r.metrics.ranks[0].causes.drain_ms, (k - 1) * 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.ranks[k - 1].causes.warmup_ms, (k - 1) * 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.ranks[k - 1].causes.drain_ms, (k - 1) * 2.0);
  for (const auto& rank : r.metrics.ranks) {
    EXPECT_DOUBLE_EQ(rank.causes.comm_ms, 0);
    EXPECT_DOUBLE_EQ(rank.causes.imbalance_ms, 0);
  }
}

}  // namespace
}  // namespace pp
