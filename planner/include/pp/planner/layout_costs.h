#pragma once
// What each layer costs under a layout on a cluster: time per micro-batch (its kernels timed on
// the cluster's figures, layer_kernels.h, or the measured profile), tensor-parallel communication, recompute, and the
// memory the partitioner needs. Formulas: docs/cost-model.md.

#include <vector>

#include "pp/cluster.h"
#include "pp/model.h"
#include "pp/plan.h"
#include "pp/planner/layer_profile.h"
#include "pp/planner/memory_model.h"

namespace pp {

struct LayerCost {
  double forward_ms = 0;       // including tensor-parallel communication
  double backward_ms = 0;      // full backward, recompute included
  double wgrad_ms = 0;         // weight-gradient part of backward_ms
  double recompute_ms = 0;     // the forward repeated in the backward (0 when not recomputed)
  double tp_comm_ms = 0;       // tensor-parallel communication in forward + backward
  double params = 0;           // parameters held on one GPU (its 1/t share)
  double static_bytes = 0;     // weights, gradients, optimizer state on one GPU
  double activation_bytes = 0; // kept per in-flight micro-batch on one GPU
  double transient_bytes = 0;  // working memory while recomputing
  bool recomputed = false;
};

// True when block `block_index` (0-based) is recomputed at checkpoint interval k.
bool is_recomputed(int block_index, int checkpoint_interval);

// Per layer of `profile` (which must be at the layout's micro-batch size and sequence length).
std::vector<LayerCost> layer_costs(const ModelProfile& profile, const ModelConfig& model,
                                   const ClusterSpec& cluster, const Layout& layout,
                                   const MemoryOptions& memory);

// The link joining pipeline ranks `from` and `to` (GPUs ordered tp fastest, then cp, then dp,
// then pp: Megatron-LM's order; the first GPUs of the two ranks on one node or not), the link the
// data-parallel group's (dp x cp GPUs') gradient reduction is limited by, and the context-parallel
// ring's.
const LinkSpec& pipeline_link(const ClusterSpec& cluster, const Layout& layout, int from, int to);
const LinkSpec& data_parallel_link(const ClusterSpec& cluster, const Layout& layout);
const LinkSpec& context_parallel_link(const ClusterSpec& cluster, const Layout& layout);

}  // namespace pp
