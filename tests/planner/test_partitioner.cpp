// The stage partitioner against brute force (every composition of L layers into K non-empty
// contiguous stages) on random heterogeneous instances, against the uniform split, and on edges.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "pp/error.h"
#include "pp/planner/partitioner.h"

namespace pp {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- an independent model of the problem ------------------------------------------------------

double inflight_at(const PartitionRequest& r, int stage) {
  return r.inflight.empty() ? 1.0 : r.inflight[static_cast<size_t>(stage)];
}

// Stage memory written from the header's definition, not via stage_memory_bytes().
double memory_of(const PartitionRequest& r, int stage, int begin, int end) {
  double static_sum = 0, activation_sum = 0, transient_max = 0;
  for (int i = begin; i < end; ++i) {
    const PartitionLayer& l = r.layers[static_cast<size_t>(i)];
    static_sum += l.static_bytes;
    activation_sum += l.activation_bytes;
    transient_max = std::max(transient_max, l.transient_bytes);
  }
  return static_sum + inflight_at(r, stage) * activation_sum + transient_max;
}

double time_of(const PartitionRequest& r, int begin, int end) {
  double sum = 0;
  for (int i = begin; i < end; ++i) sum += r.layers[static_cast<size_t>(i)].time_ms;
  return sum;
}

double limit_or_inf(const PartitionRequest& r) {
  return r.memory_limit_bytes > 0 ? r.memory_limit_bytes : kInf;
}

struct BruteForce {
  double best_ms = kInf;     // smallest max stage time among partitions that fit; inf: none fit
  double best_peak = kInf;   // smallest max stage memory over all partitions
};

// Calls visit(first_layer) for every composition of the layers into r.stages non-empty stages.
void for_each_partition(const PartitionRequest& r,
                        const std::function<void(const std::vector<int>&)>& visit) {
  const int layers = static_cast<int>(r.layers.size());
  std::vector<int> first(static_cast<size_t>(r.stages) + 1, 0);
  first.back() = layers;
  std::function<void(int)> place = [&](int stage) {
    if (stage == r.stages) return visit(first);
    const int remaining = r.stages - stage;  // stages still to start, this one included
    for (int b = first[static_cast<size_t>(stage) - 1] + 1; b <= layers - remaining; ++b) {
      first[static_cast<size_t>(stage)] = b;
      place(stage + 1);
    }
  };
  if (r.stages <= layers) place(1);
}

BruteForce brute_force(const PartitionRequest& r) {
  BruteForce result;
  const double limit = limit_or_inf(r);
  for_each_partition(r, [&](const std::vector<int>& first) {
    double max_ms = 0, peak = 0;
    for (int s = 0; s < r.stages; ++s) {
      const int b = first[static_cast<size_t>(s)], e = first[static_cast<size_t>(s) + 1];
      max_ms = std::max(max_ms, time_of(r, b, e));
      peak = std::max(peak, memory_of(r, s, b, e));
    }
    result.best_peak = std::min(result.best_peak, peak);
    if (peak <= limit) result.best_ms = std::min(result.best_ms, max_ms);
  });
  return result;
}

// Checks the shape of a feasible partition and that every stage fits, independently.
void expect_valid(const PartitionRequest& r, const Partition& p) {
  ASSERT_EQ(p.first_layer.size(), static_cast<size_t>(r.stages) + 1);
  ASSERT_EQ(p.stage_ms.size(), static_cast<size_t>(r.stages));
  ASSERT_EQ(p.stage_bytes.size(), static_cast<size_t>(r.stages));
  EXPECT_EQ(p.first_layer.front(), 0);
  EXPECT_EQ(p.first_layer.back(), static_cast<int>(r.layers.size()));
  double max_ms = 0;
  for (int s = 0; s < r.stages; ++s) {
    const int b = p.first_layer[static_cast<size_t>(s)];
    const int e = p.first_layer[static_cast<size_t>(s) + 1];
    ASSERT_LT(b, e) << "stage " << s << " is empty";
    const double bytes = memory_of(r, s, b, e);
    EXPECT_LE(bytes, limit_or_inf(r) * (1 + 1e-12)) << "stage " << s;
    EXPECT_NEAR(p.stage_bytes[static_cast<size_t>(s)], bytes, 1e-9 * bytes);
    EXPECT_NEAR(p.stage_ms[static_cast<size_t>(s)], time_of(r, b, e), 1e-9 * time_of(r, b, e));
    max_ms = std::max(max_ms, p.stage_ms[static_cast<size_t>(s)]);
  }
  EXPECT_DOUBLE_EQ(p.max_stage_ms, max_ms);
}

// ---- random instances -------------------------------------------------------------------------

// L up to 12, K up to 5; heavy ends, zero values, per-stage inflight of several shapes, and
// limits from none through generous to impossible.
PartitionRequest random_request(std::mt19937& rng) {
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<>(lo, hi)(rng);
  };
  auto integer = [&](int lo, int hi) { return std::uniform_int_distribution<>(lo, hi)(rng); };
  PartitionRequest r;
  const int layers = integer(1, 12);
  r.stages = integer(1, std::min(5, layers));
  const bool heavy_ends = integer(0, 1) == 1;
  for (int i = 0; i < layers; ++i) {
    PartitionLayer l;
    l.time_ms = integer(0, 9) == 0 ? 0.0 : uniform(0.2, 2.0);
    if (heavy_ends && (i == 0 || i == layers - 1)) l.time_ms *= 3;
    l.static_bytes = uniform(0, 10);
    l.activation_bytes = integer(0, 4) == 0 ? 0.0 : uniform(0, 5);
    if (integer(0, 5) == 0) l.activation_bytes = uniform(5, 20);  // fits only lightly loaded stages
    l.transient_bytes = integer(0, 2) == 0 ? 0.0 : uniform(0, 8);
    r.layers.push_back(l);
  }
  switch (integer(0, 3)) {
    case 0: break;  // empty: 1 everywhere
    case 1: for (int s = 0; s < r.stages; ++s) r.inflight.push_back(r.stages - s); break;  // 1F1B
    case 2: for (int s = 0; s < r.stages; ++s) r.inflight.push_back(integer(1, r.stages)); break;
    default: for (int s = 0; s < r.stages; ++s) r.inflight.push_back(uniform(0.5, 4)); break;
  }
  switch (integer(0, 3)) {
    case 0: break;  // no limit
    case 1: {       // around an even share of everything in the most loaded stage
      double everything = 0;
      for (int s = 0; s < r.stages; ++s) {
        everything = std::max(everything, memory_of(r, s, 0, layers));
      }
      r.memory_limit_bytes = everything / r.stages * uniform(0.5, 3.0);
      break;
    }
    default:  // around the smallest peak any partition reaches: tight, often just infeasible
      r.memory_limit_bytes = brute_force(r).best_peak * uniform(0.9, 1.3);
      break;
  }
  return r;
}

// Where the reason quotes the smallest possible peak (in bytes here, one decimal), it is the
// brute-force one.
void expect_peak_matches(const std::string& why, double best_peak) {
  const std::string quote = "the smallest possible peak is ";
  const size_t at = why.find(quote);
  if (at == std::string::npos) return;
  EXPECT_NEAR(std::stod(why.substr(at + quote.size())), best_peak, 0.05 + 1e-9 * best_peak) << why;
}

TEST(PartitionBruteForce, MatchesTheOptimumOnRandomInstances) {
  std::mt19937 rng(20240611);
  int feasible = 0, infeasible = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const PartitionRequest r = random_request(rng);
    const BruteForce expected = brute_force(r);
    const Partition p = partition_layers(r);
    SCOPED_TRACE("trial " + std::to_string(trial) + ", L=" + std::to_string(r.layers.size()) +
                 ", K=" + std::to_string(r.stages));
    ASSERT_EQ(p.feasible, expected.best_ms < kInf) << p.why_infeasible;
    if (!p.feasible) {
      ++infeasible;
      EXPECT_FALSE(p.why_infeasible.empty());
      EXPECT_EQ(p.why_infeasible.find('\n'), std::string::npos);
      expect_peak_matches(p.why_infeasible, expected.best_peak);
      continue;
    }
    ++feasible;
    expect_valid(r, p);
    EXPECT_NEAR(p.max_stage_ms, expected.best_ms, 1e-9 * expected.best_ms);
  }
  std::printf("partition vs brute force: %d feasible, %d infeasible instances\n", feasible,
              infeasible);
  EXPECT_GT(feasible, 1000);
  EXPECT_GT(infeasible, 200);
}

TEST(PartitionBruteForce, StageDependentInflightWhereGreedyRunsAhead) {
  // Layer 2's activations fit once (stage 2) but not twice (stages 0 and 1). Filling stage 0
  // greedily with layers 0-1 strands layer 2 in stage 1; the only fit is [0][1][2 3].
  PartitionRequest r;
  r.layers = {{1, 1, 1, 0}, {1, 1, 1, 0}, {1, 0, 4, 0}, {1, 1, 1, 0}};
  r.stages = 3;
  r.inflight = {2, 2, 1};
  r.memory_limit_bytes = 7;
  const Partition p = partition_layers(r);
  ASSERT_TRUE(p.feasible) << p.why_infeasible;
  EXPECT_EQ(p.first_layer, (std::vector<int>{0, 1, 2, 4}));
  EXPECT_DOUBLE_EQ(p.max_stage_ms, 2.0);
}

TEST(PartitionUniform, NeverBeatsTheOptimumOnRandomInstances) {
  std::mt19937 rng(7);
  int compared = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const PartitionRequest r = random_request(rng);
    const Partition uniform = uniform_partition(r);
    if (!uniform.feasible) continue;
    const Partition best = partition_layers(r);
    ASSERT_TRUE(best.feasible) << "trial " << trial << ": " << best.why_infeasible;
    EXPECT_LE(best.max_stage_ms, uniform.max_stage_ms * (1 + 1e-12)) << "trial " << trial;
    ++compared;
  }
  EXPECT_GT(compared, 500);
}

// An embedding and a head 3x a block, around 30 blocks.
PartitionRequest heavy_ends(int stages) {
  PartitionRequest r;
  r.stages = stages;
  r.layers.push_back({3, 0, 0, 0});
  for (int i = 0; i < 30; ++i) r.layers.push_back({1, 0, 0, 0});
  r.layers.push_back({3, 0, 0, 0});
  return r;
}

TEST(PartitionUniform, LosesToTheOptimumWithHeavyEnds) {
  const PartitionRequest r = heavy_ends(4);
  const Partition uniform = uniform_partition(r);
  const Partition best = partition_layers(r);
  ASSERT_TRUE(uniform.feasible);
  ASSERT_TRUE(best.feasible);
  EXPECT_DOUBLE_EQ(uniform.max_stage_ms, 10.0);  // 8 layers each: 3 + 7 at both ends
  EXPECT_DOUBLE_EQ(best.max_stage_ms, 9.0);      // 36 / 4, with 6 blocks beside each end
  EXPECT_EQ(best.first_layer, (std::vector<int>{0, 7, 16, 25, 32}));
}

TEST(PartitionUniform, FirstStagesTakeTheRemainder) {
  PartitionRequest r;
  r.layers.assign(10, {1, 1, 0, 0});
  r.stages = 4;
  const Partition p = uniform_partition(r);
  ASSERT_TRUE(p.feasible);
  EXPECT_EQ(p.first_layer, (std::vector<int>{0, 3, 6, 8, 10}));
  EXPECT_EQ(p.stage_ms, (std::vector<double>{3, 3, 2, 2}));
}

TEST(PartitionUniform, InfeasibleNamesTheStageOverTheLimit) {
  PartitionRequest r;
  r.layers.assign(8, {1, 10 * kGiB, 0, 0});
  r.stages = 2;
  r.memory_limit_bytes = 30 * kGiB;
  const Partition p = uniform_partition(r);
  EXPECT_FALSE(p.feasible);
  EXPECT_EQ(p.stage_bytes, (std::vector<double>{40 * kGiB, 40 * kGiB}));
  EXPECT_EQ(p.why_infeasible, "stage 0 (layers 0-3) needs 40.0 GiB (limit 30.0 GiB)");
}

// ---- edges ------------------------------------------------------------------------------------

PartitionRequest ramp(int layers, int stages) {
  PartitionRequest r;
  for (int i = 0; i < layers; ++i) r.layers.push_back({1.0 + i, 2.0 * i, 1.0, 0.5});
  r.stages = stages;
  return r;
}

TEST(PartitionLayers, OneStageHoldsEverything) {
  const PartitionRequest r = ramp(6, 1);
  const Partition p = partition_layers(r);
  ASSERT_TRUE(p.feasible);
  EXPECT_EQ(p.first_layer, (std::vector<int>{0, 6}));
  EXPECT_DOUBLE_EQ(p.max_stage_ms, 21.0);
  EXPECT_DOUBLE_EQ(p.stage_bytes[0], 30.0 + 6.0 + 0.5);
}

TEST(PartitionLayers, AsManyStagesAsLayersGivesOneLayerEach) {
  const PartitionRequest r = ramp(6, 6);
  const Partition p = partition_layers(r);
  ASSERT_TRUE(p.feasible);
  EXPECT_EQ(p.first_layer, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_DOUBLE_EQ(p.max_stage_ms, 6.0);
}

TEST(PartitionLayers, MoreStagesThanLayersIsInfeasible) {
  const Partition p = partition_layers(ramp(3, 5));
  EXPECT_FALSE(p.feasible);
  EXPECT_EQ(p.why_infeasible,
            "cannot split 3 layers into 5 stages: every stage needs at least one layer");
  EXPECT_TRUE(p.first_layer.empty());
  EXPECT_FALSE(uniform_partition(ramp(3, 5)).feasible);
}

TEST(PartitionLayers, ALayerOverTheLimitIsNamedWithItsSize) {
  PartitionRequest r;
  r.layers.assign(6, {1, 10 * kGiB, 0, 0});
  r.layers[3].static_bytes = 81.2 * kGiB;
  r.stages = 3;
  r.memory_limit_bytes = 80 * kGiB;
  const Partition p = partition_layers(r);
  EXPECT_FALSE(p.feasible);
  EXPECT_EQ(p.why_infeasible,
            "layer 3 needs at least 81.2 GiB (limit 80.0 GiB) even alone in a stage");
}

TEST(PartitionLayers, ALayerOverTheLimitEverywhereNamesItsLeastLoadedStage) {
  PartitionRequest r;
  r.layers.assign(4, {1, 1 * kGiB, 1 * kGiB, 0});
  r.layers[2].activation_bytes = 49 * kGiB;
  r.stages = 2;
  r.inflight = {2, 1};
  r.memory_limit_bytes = 40 * kGiB;
  const Partition p = partition_layers(r);
  EXPECT_FALSE(p.feasible);
  EXPECT_EQ(p.why_infeasible,
            "layer 2 needs at least 50.0 GiB (limit 40.0 GiB) even alone in stage 1, its least "
            "loaded option");
}

TEST(PartitionLayers, AStageThatCannotHoldAnyLayerIsNamed) {
  PartitionRequest r;
  r.layers.assign(4, {1, 0, 2 * kGiB, 0});
  r.stages = 2;
  r.inflight = {41, 1};  // stage 0 would keep 82 GiB of activations for any one layer
  r.memory_limit_bytes = 80 * kGiB;
  const Partition p = partition_layers(r);
  EXPECT_FALSE(p.feasible);
  EXPECT_EQ(p.why_infeasible,
            "stage 0 needs at least 82.0 GiB (limit 80.0 GiB) even with a single layer");
}

TEST(PartitionLayers, NoFitReportsTheSmallestPossiblePeak) {
  PartitionRequest r;
  r.layers.assign(8, {1, 30 * kGiB, 0, 0});
  r.stages = 3;                      // 8 layers in 3 stages: some stage holds 3, 90 GiB
  r.memory_limit_bytes = 80 * kGiB;
  const Partition p = partition_layers(r);
  EXPECT_FALSE(p.feasible);
  EXPECT_NEAR(brute_force(r).best_peak, 90 * kGiB, 1);
  EXPECT_EQ(p.why_infeasible,
            "no partition into 3 stages fits in 80.0 GiB: the smallest possible peak is 90.0 GiB "
            "(stage 0)");
}

TEST(PartitionLayers, NoLimitOnlyBalancesTime) {
  PartitionRequest r = ramp(9, 3);
  r.layers[4].static_bytes = 1e30;
  for (double limit : {0.0, -1.0}) {
    r.memory_limit_bytes = limit;
    const Partition p = partition_layers(r);
    ASSERT_TRUE(p.feasible);
    EXPECT_DOUBLE_EQ(p.max_stage_ms, brute_force(r).best_ms);
  }
}

TEST(PartitionLayers, EqualLayersTakeCeilOfLayersOverStagesEach) {
  for (int layers = 1; layers <= 20; ++layers) {
    for (int stages = 1; stages <= layers; ++stages) {
      PartitionRequest r;
      r.layers.assign(static_cast<size_t>(layers), {1.5, 1, 1, 1});
      r.stages = stages;
      const Partition p = partition_layers(r);
      ASSERT_TRUE(p.feasible);
      EXPECT_DOUBLE_EQ(p.max_stage_ms, 1.5 * ((layers + stages - 1) / stages))
          << layers << " layers, " << stages << " stages";
    }
  }
}

TEST(PartitionLayers, TheMemoryLimitCanOutweighTime) {
  // Time alone would split 6 equal layers 3/3; stage 0, keeping 3 micro-batches, fits only 2.
  PartitionRequest r;
  r.layers.assign(6, {1, 1, 1, 0});
  r.stages = 2;
  r.inflight = {3, 1};
  r.memory_limit_bytes = 10;
  const Partition p = partition_layers(r);
  ASSERT_TRUE(p.feasible) << p.why_infeasible;
  EXPECT_EQ(p.first_layer, (std::vector<int>{0, 2, 6}));  // 2 * (1 + 3) = 8; 4 * (1 + 1) = 8
  EXPECT_DOUBLE_EQ(p.max_stage_ms, 4.0);
}

// ---- invalid input ----------------------------------------------------------------------------

ErrorCategory category_of(const PartitionRequest& r) {
  try {
    partition_layers(r);
  } catch (const Error& e) {
    return e.category();
  }
  return ErrorCategory::kInternal;  // did not throw
}

TEST(PartitionErrors, InvalidRequestsThrowInvalidInput) {
  PartitionRequest no_stages = ramp(4, 0);
  EXPECT_EQ(category_of(no_stages), ErrorCategory::kInvalidInput);
  PartitionRequest negative = ramp(4, 2);
  negative.layers[2].activation_bytes = -1;
  EXPECT_EQ(category_of(negative), ErrorCategory::kInvalidInput);
  PartitionRequest not_a_number = ramp(4, 2);
  not_a_number.layers[1].time_ms = std::nan("");
  EXPECT_EQ(category_of(not_a_number), ErrorCategory::kInvalidInput);
  PartitionRequest wrong_inflight = ramp(4, 3);
  wrong_inflight.inflight = {1, 2};
  EXPECT_EQ(category_of(wrong_inflight), ErrorCategory::kInvalidInput);
  EXPECT_THROW(uniform_partition(wrong_inflight), Error);
}

TEST(PartitionErrors, MessagesNameTheField) {
  PartitionRequest r = ramp(4, 2);
  r.layers[2].static_bytes = -5;
  try {
    partition_layers(r);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "partition: layer 2 has static_bytes = -5; it must be a finite number >= 0");
  }
}

}  // namespace
}  // namespace pp
