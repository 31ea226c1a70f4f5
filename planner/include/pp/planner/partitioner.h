#pragma once
// Optimal contiguous partitioning of a model's layers into pipeline stages.
//
// Minimises the slowest stage's time subject to every stage fitting in memory. Layers are in
// model order (embedding first, head last, so the heavy ends are ordinary layers here); stage s
// takes layers [first_layer[s], first_layer[s+1]). Every stage gets at least one layer.
//
// Stage s's memory = sum of its layers' static_bytes
//                  + inflight[s] * sum of its layers' activation_bytes
//                  + max over its layers of transient_bytes.
// Stage s's time   = sum of its layers' time_ms.
// Both grow when a stage gains a layer, which is what makes the greedy check below exact.

#include <string>
#include <vector>

namespace pp {

struct PartitionLayer {
  double time_ms = 0;            // forward + backward (+ recompute) of one micro-batch
  double static_bytes = 0;       // weights, gradients, optimizer state
  double activation_bytes = 0;   // kept per in-flight micro-batch
  double transient_bytes = 0;    // working memory while the layer runs (e.g. recompute)
};

struct PartitionRequest {
  std::vector<PartitionLayer> layers;
  int stages = 1;
  std::vector<double> inflight;    // per stage, micro-batches alive at the peak; empty: all 1
  double memory_limit_bytes = 0;   // per stage; 0 or less: no limit
};

// partition_layers() leaves the vectors empty when !feasible; uniform_partition() fills them
// whenever there are at least as many layers as stages (feasible or not).
struct Partition {
  bool feasible = false;
  std::string why_infeasible;        // one line when !feasible
  std::vector<int> first_layer;      // size stages+1; first_layer[stages] = layer count
  std::vector<double> stage_ms;      // size stages
  std::vector<double> stage_bytes;   // size stages
  double max_stage_ms = 0;
};

// The optimal partition (the smallest max_stage_ms among partitions that fit), or an infeasible
// result saying why (more stages than layers; or the tightest stage over the limit, by how much).
// Throws pp::Error (kInvalidInput) when stages < 1, a layer value or an inflight entry is negative
// or not finite, or inflight is neither empty nor one entry per stage.
Partition partition_layers(const PartitionRequest& request);

// Equal layer counts per stage (the first stages take one more when it does not divide): the
// baseline the optimal partition must never lose to.
Partition uniform_partition(const PartitionRequest& request);

// Time and memory of stage s holding layers [begin, end).
double stage_time_ms(const PartitionRequest& request, int begin, int end);
double stage_memory_bytes(const PartitionRequest& request, int stage, int begin, int end);

}  // namespace pp
