#pragma once
// `pp plan`'s text output: the per-layer profile, the ranked plans and the best plan's stages.
// Each numeric column has one format, chosen from its values, and its unit in the header.

#include "pp/planner/plan_search.h"

namespace pp::cli {

// The per-layer profile table at the fixed (or default 1) micro-batch size, tp and checkpoint
// interval (default 0), and selective recompute (default off).
void print_profile(const PlanRequest& request);

// Each layer kind's kernels with their times per micro-batch on one GPU, at the fixed (or 1)
// tp and micro-batch size, with the request's sequence-parallel and flash-attention choices.
void print_kernels(const PlanRequest& request);

// The ranked plans with a "why" line each; `seconds`: the search's wall time.
void print_table(const PlanRequest& request, const PlanSearchResult& result, double seconds);

// The best plan's stages: layers, per-micro-batch times, peak memory of the rank.
void print_stages(const Plan& plan);

}  // namespace pp::cli
