#pragma once
// The simulator's cost model: how long each action takes. Milliseconds throughout.

#include <vector>

#include "pp/schedule.h"

namespace pp {

struct ComputeCost {
  double forward_ms = 0;
  double backward_ms = 0;  // the full backward: input gradient plus weight gradient
  double wgrad_ms = 0;     // the weight-gradient part of backward_ms (W); I takes the rest
  double input_grad_ms() const { return backward_ms - wgrad_ms; }
};

// A point-to-point transfer between the ranks of two adjacent stages: latency plus size over
// bandwidth, the same in both directions.
struct LinkCost {
  double latency_ms = 0;
  double bytes_per_ms = 0;   // 0 means unlimited bandwidth
  double message_bytes = 0;  // size of one activation (or gradient) message
  double transfer_ms() const;
};

struct CostModel {
  std::vector<ComputeCost> stage;  // per virtual stage, size K*V
  std::vector<LinkCost> boundary;  // boundary[v] joins stages v and v+1, size K*V-1
  std::vector<double> reduce_ms;     // REDUCE per rank (empty: free)
  std::vector<double> optimizer_ms;  // STEP per rank (empty: free)

  // The duration of an action of virtual stage `stage` on `rank` (step-end actions use the rank).
  double duration_ms(ActionKind kind, int stage, int rank) const;
};

// Costs given per rank (per pipeline stage of K), as a user states them: one entry, or K entries.
struct PerRankCosts {
  std::vector<double> forward_ms;
  std::vector<double> backward_ms;
  std::vector<double> wgrad_ms;  // empty: half of backward_ms
  std::vector<double> p2p_ms;    // one entry, or K-1 (boundary r joins ranks r and r+1)
  double reduce_ms = 0;
  double optimizer_ms = 0;
};

// Spreads per-rank costs over the schedule's virtual stages: each of a rank's V chunks costs 1/V
// of the rank's figure. A boundary between ranks r and r+1 costs p2p_ms[r]; one between the same
// rank costs nothing; the wrap-around from rank K-1 to rank 0 (interleaved) costs the largest
// p2p_ms. Throws pp::Error(kInvalidInput) naming the flag (--fwd-ms, --bwd-ms, --wgrad-ms,
// --p2p-ms) for a wrong count, a negative or non-finite value, or a W larger than its B.
CostModel per_rank_cost_model(const Schedule& schedule, const PerRankCosts& costs);

}  // namespace pp
