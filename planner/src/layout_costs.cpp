#include "pp/planner/layout_costs.h"

#include <algorithm>

namespace pp {
namespace {

struct Rates {
  double flops_per_ms;  // achievable bf16
  double bytes_per_ms;  // HBM
};

Rates rates_of(const ClusterSpec& c) {
  return {c.gpu.peak_flops.at("bf16") * c.gpu.achievable_fraction / 1e3,
          c.gpu.memory_bandwidth_bytes_per_s / 1e3};
}

// Roofline: the slower of the arithmetic and the memory traffic.
double roofline_ms(double flops, double bytes, const Rates& r) {
  return std::max(flops / r.flops_per_ms, bytes / r.bytes_per_ms);
}

// Tensor-parallel all-reduces per micro-batch (forward, backward) of an activation.
std::pair<int, int> tp_collectives(LayerKind kind) {
  switch (kind) {
    case LayerKind::kBlock: return {2, 2};      // after attention and after the MLP
    case LayerKind::kEmbedding: return {1, 0};  // vocab-parallel lookup
    case LayerKind::kHead: return {1, 1};       // vocab-parallel loss, input gradient
  }
  return {0, 0};
}

void set_times(const LayerProfile& l, const Layout& layout, const Rates& rates,
               const ClusterSpec& cluster, double activation_bytes_per_microbatch, LayerCost* c) {
  const double t = layout.tp;
  double fwd = 0, bwd = 0, wgrad = 0;
  if (l.measured_fwd_ms) {
    fwd = *l.measured_fwd_ms / t;
    bwd = *l.measured_bwd_ms / t;
    wgrad = *l.measured_wgrad_ms / t;
  } else {
    const double weight_bytes = 2 * l.params / t;
    const double traffic = weight_bytes + 2 * l.output_bytes;
    fwd = roofline_ms(l.forward_flops / t, traffic, rates);
    bwd = roofline_ms(l.backward_flops / t, 2 * traffic, rates);
    wgrad = l.kind == LayerKind::kEmbedding ? bwd
            : l.backward_flops > 0          ? bwd * l.wgrad_flops / l.backward_flops
                                            : 0;
  }
  const auto [fwd_collectives, bwd_collectives] = tp_collectives(l.kind);
  // Blocks and the embedding all-reduce their output activation (b*s*h*2 bytes); the head's
  // forward collective is the loss's (a few floats per token), its backward one the input
  // gradient, the size of a block's output.
  const double activation = activation_bytes_per_microbatch;
  auto collective = [&](double bytes) {
    return layout.tp > 1 ? ring_allreduce_s(bytes, layout.tp, cluster.intra_node) * 1e3 : 0.0;
  };
  const double fwd_comm =
      fwd_collectives * collective(l.kind == LayerKind::kHead ? activation / 256 : activation);
  const double bwd_comm = bwd_collectives * collective(activation);
  c->tp_comm_ms = fwd_comm + bwd_comm;
  c->forward_ms = fwd + fwd_comm;
  c->wgrad_ms = wgrad;
  c->backward_ms = bwd + bwd_comm;
}
void set_memory(const LayerProfile& l, const ModelConfig& model, const Layout& layout,
                const ModelProfile& p, const MemoryOptions& o, LayerCost* c) {
  const int t = layout.tp;
  const int b = p.microbatch_size;
  const int s = p.seq_len;
  c->static_bytes = l.params / t * static_bytes_per_param(layout.dp, o);
  if (l.kind == LayerKind::kHead) {
    c->activation_bytes = head_activation_bytes(model, b, s, t, o);
  } else if (l.kind == LayerKind::kBlock) {
    const double full = l.measured_activation_bytes ? *l.measured_activation_bytes / t
                                                    : block_activation_bytes(model, b, s, t, o);
    c->activation_bytes = c->recomputed ? block_checkpoint_bytes(model, b, s, t, o) : full;
    c->transient_bytes = c->recomputed ? full : 0;
  }
}

}  // namespace

bool is_recomputed(int block_index, int k) { return k >= 1 && block_index % k == k - 1; }

double ring_allreduce_s(double bytes, int n, const LinkSpec& link) {
  if (n <= 1) return 0;
  return 2.0 * (n - 1) / n * bytes / link.bandwidth_bytes_per_s + 2.0 * (n - 1) * link.latency_s;
}

const LinkSpec& pipeline_link(const ClusterSpec& cluster, const Layout& layout, int from, int to) {
  const long long stride = 1LL * layout.tp * layout.dp;
  const long long from_node = from * stride / cluster.gpus_per_node;
  const long long to_node = to * stride / cluster.gpus_per_node;
  return from_node == to_node ? cluster.intra_node : cluster.inter_node;
}

const LinkSpec& data_parallel_link(const ClusterSpec& cluster, const Layout& layout) {
  return 1LL * layout.tp * layout.dp <= cluster.gpus_per_node ? cluster.intra_node
                                                             : cluster.inter_node;
}

std::vector<LayerCost> layer_costs(const ModelProfile& profile, const ModelConfig& model,
                                   const ClusterSpec& cluster, const Layout& layout,
                                   const MemoryOptions& memory) {
  const Rates rates = rates_of(cluster);
  std::vector<LayerCost> costs;
  costs.reserve(profile.layers.size());
  int block = 0;
  for (const LayerProfile& l : profile.layers) {
    LayerCost c;
    if (l.kind == LayerKind::kBlock) c.recomputed = is_recomputed(block++, layout.checkpoint_interval);
    set_times(l, layout, rates, cluster,
              2.0 * profile.microbatch_size * profile.seq_len * model.hidden, &c);
    if (c.recomputed) {
      c.recompute_ms = c.forward_ms;
      c.backward_ms += c.forward_ms;
    }
    set_memory(l, model, layout, profile, memory, &c);
    costs.push_back(c);
  }
  return costs;
}

}  // namespace pp
