#include "pp/planner/layout_costs.h"

#include <algorithm>

#include "pp/planner/kernel_time.h"
#include "pp/planner/layer_kernels.h"

namespace pp {
namespace {

// Tensor-parallel all-reduces per micro-batch (forward, backward) of an activation, for layers
// timed from a measured profile (taken at tp 1, so without them).
std::pair<int, int> tp_collectives(LayerKind kind) {
  switch (kind) {
    case LayerKind::kBlock: return {2, 2};      // after attention and after the MLP
    case LayerKind::kEmbedding: return {1, 0};  // vocab-parallel lookup
    case LayerKind::kHead: return {1, 1};       // vocab-parallel loss, input gradient
  }
  return {0, 0};
}

// A measured layer: its times at tp 1 divided by t, plus the tensor-parallel all-reduces of its
// b*s*h*2-byte activation (the head's forward one reduces only the loss, a few floats per token).
void set_measured_times(const LayerProfile& l, const Layout& layout, const ClusterSpec& cluster,
                        double activation_bytes, LayerCost* c) {
  const double t = double(layout.tp) * layout.cp;  // a load-balanced cp split shares all work evenly
  const auto [fwd_collectives, bwd_collectives] = tp_collectives(l.kind);
  auto collective = [&](double bytes) { return all_reduce_ms(bytes, layout.tp, cluster.intra_node); };
  const double fwd_comm =
      fwd_collectives * collective(l.kind == LayerKind::kHead ? activation_bytes / 256 : activation_bytes);
  const double bwd_comm = bwd_collectives * collective(activation_bytes);
  c->tp_comm_ms = fwd_comm + bwd_comm;
  c->forward_ms = *l.measured_fwd_ms / t + fwd_comm;  // (cp's ring exchange not included)
  c->wgrad_ms = *l.measured_wgrad_ms / t;
  c->backward_ms = *l.measured_bwd_ms / t + bwd_comm;
}

void set_kernel_times(const LayerKernels& k, LayerCost* c) {
  c->forward_ms = k.forward_ms();
  c->backward_ms = k.backward_ms();
  c->wgrad_ms = k.wgrad_ms();
  c->tp_comm_ms = k.communication_ms();
}

void set_memory(const LayerProfile& l, const ModelConfig& model, const Layout& layout,
                const ModelProfile& p, const MemoryOptions& o, LayerCost* c) {
  const int t = layout.tp;
  const int b = p.microbatch_size;
  const int s = p.seq_len / layout.cp;  // every activation is per token; cp needs flash attention
  c->params = l.params / t;
  c->static_bytes = l.params / t * static_bytes_per_param(layout.dp * layout.cp, layout.distributed_optimizer, o);
  // FP8 GEMMs read cached FP8 copies of the block's weights, and of their transposes.
  if (o.fp8 && l.kind == LayerKind::kBlock) c->static_bytes += 2 * l.params / t;
  if (l.kind == LayerKind::kHead) {
    c->activation_bytes = head_activation_bytes(model, b, s, t, o);
  } else if (l.kind == LayerKind::kBlock) {
    const double full = l.measured_activation_bytes ? *l.measured_activation_bytes / (double(t) * layout.cp)
                                                    : block_activation_bytes(model, b, s, t, o);
    const double selective_saving = layout.selective_recompute ? attention_scores_bytes(model, b, s, t, o) : 0;
    c->activation_bytes = c->recomputed ? block_checkpoint_bytes(model, b, s, t, o) : full - selective_saving;
    c->transient_bytes = c->recomputed ? full : 0;
  }
}

}  // namespace

bool is_recomputed(int block_index, int k) { return k >= 1 && block_index % k == k - 1; }

const LinkSpec& pipeline_link(const ClusterSpec& cluster, const Layout& layout, int from, int to) {
  const long long stride = 1LL * layout.tp * layout.cp * layout.dp;
  const long long from_node = from * stride / cluster.gpus_per_node;
  const long long to_node = to * stride / cluster.gpus_per_node;
  return from_node == to_node ? cluster.intra_node : cluster.inter_node;
}

const LinkSpec& data_parallel_link(const ClusterSpec& cluster, const Layout& layout) {
  return 1LL * layout.tp * layout.cp * layout.dp <= cluster.gpus_per_node ? cluster.intra_node
                                                                          : cluster.inter_node;
}

const LinkSpec& context_parallel_link(const ClusterSpec& cluster, const Layout& layout) {
  return 1LL * layout.tp * layout.cp <= cluster.gpus_per_node ? cluster.intra_node : cluster.inter_node;
}

std::vector<LayerCost> layer_costs(const ModelProfile& profile, const ModelConfig& model,
                                   const ClusterSpec& cluster, const Layout& layout,
                                   const MemoryOptions& memory) {
  KernelContext context{&model,           profile.microbatch_size, profile.seq_len,
                        layout.tp,        layout.sequence_parallel, memory.flash_attention,
                        memory.dropout,   &cluster.gpu,           &cluster.intra_node,
                        layout.tp_overlap,  memory.fp8,
                        layout.cp,          &context_parallel_link(cluster, layout)};
  // Every block has the same kernels: time each kind of layer once.
  const LayerKernels kernels[3] = {layer_kernels(LayerKind::kEmbedding, context),
                                   layer_kernels(LayerKind::kBlock, context),
                                   layer_kernels(LayerKind::kHead, context)};
  std::vector<LayerCost> costs;
  costs.reserve(profile.layers.size());
  int block = 0;
  for (const LayerProfile& l : profile.layers) {
    LayerCost c;
    if (l.kind == LayerKind::kBlock) c.recomputed = is_recomputed(block++, layout.checkpoint_interval);
    if (l.measured_fwd_ms) {
      set_measured_times(l, layout, cluster,
                         2.0 * profile.microbatch_size * profile.seq_len / layout.cp * model.hidden, &c);
    } else {
      set_kernel_times(kernels[static_cast<int>(l.kind)], &c);
    }
    if (c.recomputed) {
      c.recompute_ms = c.forward_ms;
      c.backward_ms += c.forward_ms;
    } else if (l.kind == LayerKind::kBlock && layout.selective_recompute) {
      // The attention core as the kernel model times it (also for a measured profile, which
      // does not time the core apart).
      c.recompute_ms = kernels[static_cast<int>(LayerKind::kBlock)].attention_core_forward_ms();
      c.backward_ms += c.recompute_ms;
    }
    set_memory(l, model, layout, profile, memory, &c);
    costs.push_back(c);
  }
  return costs;
}

}  // namespace pp
