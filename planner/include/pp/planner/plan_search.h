#pragma once
// The planner's search: over tp x pp x dp factorisations of the GPUs, micro-batch size and count,
// schedule, virtual stages and checkpoint interval. Every layout is partitioned optimally under
// the memory limit and estimated with the closed-form bubble model; the best survivors are
// scored by simulating their lowered schedule, and memory is re-checked with the simulator's
// peak live activations. Never touches MPI or CUDA.

#include <optional>
#include <string>
#include <vector>

#include "pp/cluster.h"
#include "pp/model.h"
#include "pp/plan.h"
#include "pp/planner/layer_profile.h"
#include "pp/planner/layout_costs.h"
#include "pp/planner/partitioner.h"

namespace pp {

// Size limits of the search, refused (kInvalidInput) before any work or skipped when auto, so that
// pp plan answers in seconds: each layout is partitioned in O(layers) per bisection step, and each
// finalist's schedule is simulated action by action (pp x V x M stage-micro-batches).
inline constexpr int kMaxPlanBlocks = 2048;                 // transformer blocks of the model
inline constexpr long long kMaxPlanStageMicrobatches = 1 << 16;  // pp x V x M of a layout
// Auto tries context parallelism that leaves each GPU at least this many tokens of a sequence.
inline constexpr int kMinAutoContextParallelTokens = 4096;

// Fixed choices; an empty optional means "auto".
struct PlanChoices {
  std::optional<int> tp, cp, pp, dp, microbatch_size, microbatches, virtual_stages, checkpoint_interval;
  std::optional<std::string> schedule;
  std::optional<bool> selective_recompute;  // auto: tried where attention is not fused
  std::optional<bool> distributed_optimizer;  // auto: tried where dp > 1
  std::optional<bool> tp_overlap;             // auto: on where tp > 1 with sequence parallelism
};

struct PlanRequest {
  ModelConfig model;
  ClusterSpec cluster;
  int gpus = 1;
  int global_batch = 1;  // sequences per optimizer step
  int seq_len = 1;
  PlanChoices fixed;
  double memory_limit_bytes = 0;  // per GPU
  MemoryOptions memory;
  bool overlap_dp_allreduce = true;  // the gradient all-reduce overlaps the last backward
  std::optional<MeasuredProfile> measured;  // --profile
  std::string profile_origin = "analytic";
  int top = 5;             // plans to return
  int simulate_top = 12;   // candidates scored by simulation
  bool estimate_only = false;  // skip simulation (what-if searches)
};

// Checks the request for invalid input (pp::Error kInvalidInput naming the flag): sizes out of
// range, fixed choices that cannot divide the GPUs or the heads, unknown schedule.
void check_plan_request(const PlanRequest& request);

// Every layout the request allows.
std::vector<Layout> enumerate_layouts(const PlanRequest& request);

struct Candidate {
  Layout layout;
  bool fits = false;
  std::string why_not;             // when !fits: which constraint, by how much
  double needed_bytes = 0;         // when !fits for memory: the smallest peak any partition needs
  double estimate_ms = 0;          // closed-form step time
  Plan plan;                       // stages, costs and estimated memory filled in
  std::vector<LayerCost> costs;
  std::vector<double> inflight;    // per virtual stage, assumed (closed form) or simulated
};

// Partitions and estimates one layout. `profile` must be at the layout's micro-batch size.
Candidate evaluate_layout(const PlanRequest& request, const ModelProfile& profile,
                          const Layout& layout,
                          const std::vector<double>* simulated_inflight = nullptr);

struct RankedPlan {
  Plan plan;
  std::string why;  // one line: why it ranks where it does
  double tp_comm_share = 0;    // of the busiest rank's compute time
  double recompute_share = 0;  // of the busiest rank's compute time
  double step_end_ms = 0;      // the slowest rank's exposed gradient reduction + optimizer step
};

// Where some choices are fixed (a published layout, say): the plan the search finds with every
// choice left to auto, and one line setting it beside the fixed plan's #1 (which is faster, by
// how much, and where the slower one loses most).
struct AutoComparison {
  RankedPlan plan;
  std::string why;
};

struct PlanSearchResult {
  std::vector<RankedPlan> plans;  // best first; empty when nothing fits
  long long layouts = 0;          // enumerated
  long long fitting = 0;          // fit in memory (closed-form estimate)
  long long simulated = 0;
  std::vector<std::string> infeasible;  // when nothing fits: why, and what would fit
  std::optional<AutoComparison> versus_auto;  // when choices were fixed and a plan was found
};

// Searches; where the request fixes any choice (and is not estimate_only), also searches with
// every choice left to auto and fills versus_auto.
PlanSearchResult search_plans(const PlanRequest& request);

// The layout in words: "tp=8 pp=8 dp=16, micro-batch 1 x 96, interleaved V=4, no recompute, ...".
std::string describe_layout(const Layout& layout);

}  // namespace pp
