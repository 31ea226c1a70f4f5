// Enumerating layouts and evaluating one: partition, memory, closed-form time.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pp/error.h"
#include "pp/planner/kernel_time.h"
#include "pp/planner/plan_search.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::vector<int> divisors(int n) {
  std::vector<int> out;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) out.push_back(d);
  }
  return out;
}

// Options for one choice: the fixed value, or the auto candidates.
std::vector<int> options(const std::optional<int>& fixed, std::vector<int> automatic) {
  return fixed ? std::vector<int>{*fixed} : automatic;
}

// Every schedule (those a fixed --virtual-stages rules out are skipped where the layouts are
// built); on one stage every schedule is 1F1B.
std::vector<std::string> schedule_options(const PlanRequest& r, int pp) {
  if (r.fixed.schedule) return {*r.fixed.schedule};
  if (pp == 1) return {"1f1b"};
  std::vector<std::string> names;
  for (const auto& g : schedule_generators()) names.emplace_back(g.name);
  return names;
}

// Selective recompute pays where the attention scores are kept (unfused attention) and some
// blocks are not recomputed whole; a fixed choice is taken as it is.
std::vector<bool> selective_options(const PlanRequest& r, int checkpoint_interval) {
  if (r.fixed.selective_recompute) return {*r.fixed.selective_recompute};
  if (r.memory.flash_attention || checkpoint_interval == 1) return {false};
  return {false, true};
}

// Chunks per rank: the V-shape schedules' 2; for those that interleave V chunks (interleaved,
// zb1p, looped BFS) every V that splits the blocks into pp x V equal chunks (Megatron-LM's rule),
// or 2 and 4 where none does (pp's partitioner balances unequal chunks); else 1. A fixed
// --virtual-stages is taken as it is (layouts a schedule cannot run are skipped).
std::vector<int> virtual_stage_options(const PlanRequest& r, const std::string& schedule, int pp) {
  const ScheduleGenerator& g = find_schedule_generator(schedule);
  if (g.fixed_chunks > 0) {
    // A search told --virtual-stages 1 leaves the two-chunk V shape out; --schedule zb-v takes 2.
    if (!r.fixed.schedule && r.fixed.virtual_stages == 1) return {};
    return {chunks_for(g, r.fixed.virtual_stages.value_or(1))};
  }
  if (r.fixed.virtual_stages) return {*r.fixed.virtual_stages};
  const bool interleaves = g.unsupported({pp, 1 << 16, 2}).empty();
  if (!interleaves) return {1};
  std::vector<int> out;
  const int blocks = r.model.layers;
  for (int v = 2; 1LL * pp * v <= blocks && v <= kMaxVirtualStages; ++v) {
    if (blocks % (pp * v) == 0) out.push_back(v);
  }
  if (out.empty()) out = {2, 4};
  return out;
}

// Both ways for a choice the search makes (auto) where it can matter; only `false` where not.
std::vector<bool> switch_options(const std::optional<bool>& fixed, bool applies) {
  if (!applies) return {false};
  return fixed ? std::vector<bool>{*fixed} : std::vector<bool>{false, true};
}

// Tensor-parallel overlap only hides time in this model (a collective beside a GEMM costs at most
// what it costs alone, memory unchanged), so auto takes it where it applies without trying off.
std::vector<bool> tp_overlap_options(const std::optional<bool>& fixed, bool applies) {
  if (!applies) return {false};
  return {fixed.value_or(true)};
}

int total_layers(const PlanRequest& r) { return r.model.layers + 2; }

// Context parallelism: the fixed cp, or for sequences of 2 x kMinAutoContextParallelTokens and
// more (where attention's s^2 work and the activations make it pay) every power of two that
// leaves each GPU at least kMinAutoContextParallelTokens of a sequence, splits it into 2cp equal
// chunks (Megatron-LM's causal load balancing) and divides the GPUs; else 1. It needs flash
// attention.
std::vector<int> context_parallel_options(const PlanRequest& r, int tp) {
  if (r.fixed.cp) return {*r.fixed.cp};
  std::vector<int> out = {1};
  if (!r.memory.flash_attention) return out;
  for (int cp = 2; r.seq_len / cp >= kMinAutoContextParallelTokens; cp *= 2) {
    if (r.seq_len % (2 * cp) == 0 && r.gpus % (1LL * tp * cp) == 0) out.push_back(cp);
  }
  return out;
}

ScheduleSpec spec_of(const Layout& l) { return {l.pp, l.microbatches, l.virtual_stages}; }

// Micro-batches alive at the peak on pipeline rank r, in whole-stage units, as the schedule's
// closed form says (the simulator's figure replaces it for the finalists).
double closed_form_inflight(const Layout& l, int r) {
  return find_schedule_generator(l.schedule).peak_inflight(spec_of(l), r);
}

// The pipeline rank of each virtual stage, from the schedule's placement (Megatron-LM's
// interleaving, or the V shape).
std::vector<int> stage_ranks(const Layout& l) {
  return rank_of_each_stage(find_schedule_generator(l.schedule).placement(spec_of(l)));
}

PartitionRequest partition_request(const PlanRequest& r, const Candidate& c) {
  PartitionRequest p;
  p.stages = c.layout.pp * c.layout.virtual_stages;
  p.inflight = c.inflight;
  p.memory_limit_bytes = r.memory_limit_bytes / c.layout.virtual_stages;
  for (const LayerCost& l : c.costs) {
    p.layers.push_back({l.forward_ms + l.backward_ms, l.static_bytes, l.activation_bytes,
                        l.transient_bytes});
  }
  return p;
}

void fill_stages(const PlanRequest& r, const ModelProfile& profile, const Partition& part,
                 Candidate* c) {
  const Layout& l = c->layout;
  Plan& plan = c->plan;
  plan.stages.clear();
  std::vector<double> rank_bytes(l.pp, 0), rank_transient(l.pp, 0), rank_activation(l.pp, 0);
  const int stages = l.pp * l.virtual_stages;
  const std::vector<int> rank_of_stage = stage_ranks(l);
  // A boundary's activation (bf16, b x s/cp tokens): each of the tp GPUs sends its 1/tp of it
  // (sequence parallelism, or Megatron-LM's scatter/gather optimisation), and without sequence
  // parallelism the receivers all-gather it again over the node's link.
  const double activation_bytes = 2.0 * profile.microbatch_size * profile.seq_len / l.cp * r.model.hidden;
  const double boundary_bytes = activation_bytes / l.tp;
  const double regather_ms =
      r.memory.sequence_parallel ? 0 : all_gather_ms(activation_bytes, l.tp, r.cluster.intra_node);
  for (int v = 0; v < stages; ++v) {
    StagePlan s;
    s.stage = v;
    s.rank = rank_of_stage[v];
    s.first_layer = part.first_layer[v];
    s.last_layer = part.first_layer[v + 1] - 1;
    double activation = 0;
    for (int i = s.first_layer; i <= s.last_layer; ++i) {
      const LayerCost& lc = c->costs[i];
      s.forward_ms += lc.forward_ms;
      s.backward_ms += lc.backward_ms;
      s.wgrad_ms += lc.wgrad_ms;
      rank_bytes[s.rank] += lc.static_bytes;
      activation += lc.activation_bytes;
      rank_transient[s.rank] = std::max(rank_transient[s.rank], lc.transient_bytes);
    }
    rank_bytes[s.rank] += c->inflight[v] * activation;
    rank_activation[s.rank] += c->inflight[v] * activation;
    if (v + 1 < stages && rank_of_stage[v + 1] != s.rank) {
      const LinkSpec& link = pipeline_link(r.cluster, l, s.rank, rank_of_stage[v + 1]);
      s.p2p_ms = (link.latency_s + boundary_bytes / link.bandwidth_bytes_per_s) * 1e3 + regather_ms;
    }
    plan.stages.push_back(s);
  }
  for (StagePlan& s : plan.stages) {
    s.peak_memory_bytes = rank_bytes[s.rank] + rank_transient[s.rank];
    s.activation_bytes = rank_activation[s.rank];
  }
}

// The step end per pipeline rank: the data-parallel gradient reduction (an all-reduce of the
// main gradients, or under the distributed optimizer a reduce-scatter of them and an all-gather
// of the bf16 weights after the step), less what overlaps the last micro-batch's backward (and
// the first one's forward, for the all-gather); the optimizer step over the rank's (or its
// shard's) parameters at attained HBM bandwidth; the tied embedding's all-reduce.
void fill_step_end(const PlanRequest& r, Candidate* c) {
  const Layout& l = c->layout;
  Plan& plan = c->plan;
  std::vector<double> params(l.pp, 0), forward(l.pp, 0), backward(l.pp, 0);
  for (const StagePlan& s : plan.stages) {
    forward[s.rank] += s.forward_ms;
    backward[s.rank] += s.backward_ms;
  }
  plan.reduce_ms.assign(l.pp, 0);
  plan.optimizer_ms.assign(l.pp, 0);
  // The gradients are reduced, and the optimizer state sharded, over the dp x cp GPUs that hold
  // the same parameters.
  const int replicas = l.dp * l.cp;
  for (const StagePlan& s : plan.stages) {
    for (int i = s.first_layer; i <= s.last_layer; ++i) params[s.rank] += c->costs[i].params;
  }
  const double hbm = attained_memory_bandwidth(r.cluster.gpu);
  // For each parameter it updates, the step reads the main gradient, reads and writes the fp32
  // master weight and both moments (24 bytes) and writes the bf16 weight (2).
  const double step_bytes_per_param = (r.memory.gradient_bytes + 26) / (l.distributed_optimizer ? replicas : 1);
  const LinkSpec& link = data_parallel_link(r.cluster, l);
  for (int rank = 0; rank < l.pp; ++rank) {
    const double gradients = r.memory.gradient_bytes * params[rank];
    const double overlap_backward = r.overlap_dp_allreduce ? backward[rank] : 0;
    const double overlap_forward = r.overlap_dp_allreduce ? forward[rank] : 0;
    if (l.distributed_optimizer) {
      const double scatter = all_gather_ms(gradients, replicas, link);  // a reduce-scatter costs the same
      const double gather = all_gather_ms(2 * params[rank], replicas, link);
      plan.reduce_ms[rank] = std::max(0.0, scatter - overlap_backward) + std::max(0.0, gather - overlap_forward);
    } else {
      plan.reduce_ms[rank] = std::max(0.0, all_reduce_ms(gradients, replicas, link) - overlap_backward);
    }
    plan.optimizer_ms[rank] = params[rank] * step_bytes_per_param / hbm * 1e3;
  }
  const std::vector<int> rank_of_stage = stage_ranks(l);
  if (r.model.tied_embeddings && rank_of_stage.front() != rank_of_stage.back()) {  // V shape: one rank holds both
    const double bytes = r.memory.gradient_bytes * r.model.vocab * r.model.hidden / l.tp;
    const double tied_ms = all_reduce_ms(bytes, 2, pipeline_link(r.cluster, l, 0, l.pp - 1));
    plan.reduce_ms[0] += tied_ms;
    plan.reduce_ms[l.pp - 1] += tied_ms;
  }
}

double estimate_step_ms(const Candidate& c) {
  const Layout& l = c.layout;
  std::vector<double> per_mb(l.pp, 0), zb_extra(l.pp, 0), forward(l.pp, 0);
  double p2p = 0;
  for (const StagePlan& s : c.plan.stages) {
    per_mb[s.rank] += s.forward_ms + s.backward_ms;
    zb_extra[s.rank] += s.forward_ms + (s.backward_ms - s.wgrad_ms) - s.wgrad_ms;
    forward[s.rank] += s.forward_ms;
    p2p = std::max(p2p, s.p2p_ms);
  }
  const double slowest = *std::max_element(per_mb.begin(), per_mb.end());
  const double zb_fill = std::max(0.0, *std::max_element(zb_extra.begin(), zb_extra.end()));
  const double forward_fill = *std::max_element(forward.begin(), forward.end());
  // The fill each of the K-1 stages adds, from each schedule's closed form (docs/schedules.md);
  // v-min, which pp's list scheduler builds less tightly than the paper, counts a whole stage.
  double fill = slowest / l.virtual_stages;
  if (l.schedule == "zb-h1" || l.schedule == "zb1p") fill = zb_fill / l.virtual_stages;
  if (l.schedule == "zb-h2" || l.schedule == "zb-v" || l.schedule == "dualpipev") {
    fill = forward_fill / l.virtual_stages;
  }
  if (l.schedule == "v-min") fill = slowest;
  const double tail = *std::max_element(c.plan.reduce_ms.begin(), c.plan.reduce_ms.end()) +
                      *std::max_element(c.plan.optimizer_ms.begin(), c.plan.optimizer_ms.end());
  return l.microbatches * slowest + (l.pp - 1) * (fill + 2 * p2p) + tail;
}

std::string gib(double bytes) { return fmt::format("{:.1f} GiB", bytes / kGiB); }

// Fills the candidate's stages and step end from `part`; returns the fullest rank's peak bytes.
double rank_peak(const PlanRequest& r, const ModelProfile& profile, const Partition& part, Candidate* c) {
  fill_stages(r, profile, part, c);
  fill_step_end(r, c);
  double peak = 0;
  for (const StagePlan& s : c->plan.stages) peak = std::max(peak, s.peak_memory_bytes);
  return peak;
}

}  // namespace

void check_plan_request(const PlanRequest& r) {
  if (r.gpus < 1) throw_invalid(fmt::format("--gpus must be at least 1, not {}", r.gpus));
  if (r.global_batch < 1) {
    throw_invalid(fmt::format("--global-batch must be at least 1, not {}", r.global_batch));
  }
  if (r.seq_len < 1) throw_invalid(fmt::format("--seq-len must be at least 1, not {}", r.seq_len));
  if (r.model.learned_positions() && r.seq_len > r.model.max_positions) {
    throw_invalid(fmt::format("--seq-len {} exceeds the model's {} learned positions", r.seq_len,
                              r.model.max_positions));
  }
  if (r.memory_limit_bytes <= 0) throw_invalid("--mem-limit must be positive");
  const PlanChoices& f = r.fixed;
  if (f.tp && (*f.tp < 1 || r.gpus % *f.tp != 0)) {
    throw_invalid(fmt::format("--tp {} does not divide --gpus {}", *f.tp, r.gpus));
  }
  if (f.cp && (*f.cp < 1 || r.gpus % *f.cp != 0)) {
    throw_invalid(fmt::format("--cp {} does not divide --gpus {}", *f.cp, r.gpus));
  }
  if (f.tp && f.cp && r.gpus % (1LL * *f.tp * *f.cp) != 0) {
    throw_invalid(fmt::format("--tp {} x --cp {} = {} does not divide --gpus {}", *f.tp, *f.cp,
                              1LL * *f.tp * *f.cp, r.gpus));
  }
  if (f.cp && *f.cp > 1 && r.seq_len % (2 * *f.cp) != 0) {
    throw_invalid(fmt::format("--cp {} needs --seq-len a multiple of {} (2 x cp chunks, balanced for causal attention)",
                              *f.cp, 2 * *f.cp));
  }
  if (f.cp && *f.cp > 1 && !r.memory.flash_attention) {
    throw_invalid("--cp above 1 needs flash attention (drop --no-flash-attention)");
  }
  if (f.tp && (r.model.heads % *f.tp != 0 || r.model.kv_heads % *f.tp != 0)) {
    throw_invalid(fmt::format("--tp {} does not divide the model's {} attention heads ({} key/value)",
                              *f.tp, r.model.heads, r.model.kv_heads));
  }
  if (f.pp && (*f.pp < 1 || r.gpus % *f.pp != 0)) {
    throw_invalid(fmt::format("--pp {} does not divide --gpus {}", *f.pp, r.gpus));
  }
  if (f.dp && (*f.dp < 1 || r.gpus % *f.dp != 0)) {
    throw_invalid(fmt::format("--dp {} does not divide --gpus {}", *f.dp, r.gpus));
  }
  if (r.model.layers > kMaxPlanBlocks) {
    throw_invalid(fmt::format("--model: {} has {} blocks; pp plan plans models of at most {} blocks "
                              "(the deepest published dense models have about 130)",
                              r.model.name, r.model.layers, kMaxPlanBlocks));
  }
  const long long fixed_size = 1LL * f.pp.value_or(1) * f.virtual_stages.value_or(1) * f.microbatches.value_or(1);
  if (fixed_size > kMaxPlanStageMicrobatches) {
    throw_invalid(fmt::format("--microbatches {} x --pp {} x --virtual-stages {} is {}; pp plan "
                              "simulates at most {} stage-micro-batches per layout",
                              f.microbatches.value_or(1), f.pp.value_or(1), f.virtual_stages.value_or(1),
                              fixed_size, kMaxPlanStageMicrobatches));
  }
  if (f.schedule) {
    const ScheduleGenerator& g = find_schedule_generator(*f.schedule);
    const ScheduleSpec spec{f.pp.value_or(1), f.microbatches.value_or(1 << 16), chunks_for(g, f.virtual_stages.value_or(1))};
    if (std::string why = g.unsupported(spec); !why.empty()) {
      throw_invalid(fmt::format("--schedule {} {}", *f.schedule, why));
    }
  }
  if (r.memory.fp8 && !r.cluster.gpu.peak_flops.count("fp8")) {
    throw_invalid(fmt::format("--precision fp8: {}'s GPU ({}) states no fp8 peak (peak_tflops.fp8 in the cluster file)",
                              r.cluster.name, r.cluster.gpu.name));
  }
  if (f.tp_overlap.value_or(false) && !r.memory.sequence_parallel) {
    throw_invalid("--tp-overlap on needs sequence parallelism (drop --no-sequence-parallel)");
  }
  if (f.checkpoint_interval && *f.checkpoint_interval < 0) {
    throw_invalid("--ckpt-interval must be 0 (none) or a positive interval");
  }
}

namespace {

// The layouts of one tp x cp choice: every pp, dp, micro-batch, schedule and switch.
void add_layouts(const PlanRequest& r, int tp, int cp, std::vector<Layout>* layouts) {
  if (r.gpus % (1LL * tp * cp) != 0) return;
  for (int pp : options(r.fixed.pp, divisors(static_cast<int>(r.gpus / (1LL * tp * cp))))) {
    if (r.gpus % (1LL * tp * cp * pp) != 0 || pp > total_layers(r) || pp > kMaxRanks) continue;
    const int dp = static_cast<int>(r.gpus / (1LL * tp * cp * pp));
    if ((r.fixed.dp && *r.fixed.dp != dp) || r.global_batch % dp != 0) continue;
    const int per_replica = r.global_batch / dp;
    for (int b : options(r.fixed.microbatch_size, {1, 2, 4, 8, 16})) {
      if (per_replica % b != 0) continue;
      if ((1LL * b * r.seq_len / cp) % tp != 0) continue;  // a GPU's tokens split over tp
      const int m = per_replica / b;
      if (r.fixed.microbatches && *r.fixed.microbatches != m) continue;
      for (const std::string& schedule : schedule_options(r, pp)) {
        for (int v : virtual_stage_options(r, schedule, pp)) {
          if (!find_schedule_generator(schedule).unsupported({pp, m, v}).empty()) continue;
          if (pp * v > total_layers(r) || 1LL * pp * v * m > kMaxPlanStageMicrobatches) continue;
          for (int k : options(r.fixed.checkpoint_interval, {0, 1, 2, 4})) {
            for (bool selective : selective_options(r, k)) {
              for (bool distributed : switch_options(r.fixed.distributed_optimizer, dp * cp > 1)) {
                for (bool overlap : tp_overlap_options(r.fixed.tp_overlap, tp > 1 && r.memory.sequence_parallel)) {
                  layouts->push_back({tp, cp, pp, dp, b, m, schedule, v, k, r.memory.sequence_parallel,
                                     selective, distributed, overlap});
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

std::vector<Layout> enumerate_layouts(const PlanRequest& r) {
  std::vector<Layout> layouts;
  for (int tp : options(r.fixed.tp, divisors(r.gpus))) {
    if (tp > r.cluster.gpus_per_node && !r.fixed.tp) continue;
    if (r.model.heads % tp != 0 || r.model.kv_heads % tp != 0) continue;
    if (r.model.gated_mlp() && r.model.ffn_hidden % tp != 0) continue;  // pp run splits the MLP's columns
    for (int cp : context_parallel_options(r, tp)) add_layouts(r, tp, cp, &layouts);
  }
  return layouts;
}

Candidate evaluate_layout(const PlanRequest& r, const ModelProfile& profile, const Layout& layout,
                          const std::vector<double>* simulated_inflight) {
  Candidate c;
  c.layout = layout;
  c.plan.layout = layout;
  c.costs = layer_costs(profile, r.model, r.cluster, layout, r.memory);
  for (int rank : stage_ranks(layout)) {
    c.inflight.push_back(simulated_inflight ? (*simulated_inflight)[rank] : closed_form_inflight(layout, rank));
  }
  const PartitionRequest request = partition_request(r, c);
  // With V chunks per rank, first the split that only keeps each chunk under the whole limit
  // (the rank's chunks together are checked below), then, if that rank overflows, the split that
  // keeps each chunk under 1/V of it.
  Partition part;
  if (layout.virtual_stages > 1) {
    PartitionRequest whole = request;
    whole.memory_limit_bytes = r.memory_limit_bytes;
    part = partition_layers(whole);
    if (part.feasible && rank_peak(r, profile, part, &c) > r.memory_limit_bytes) part.feasible = false;
  }
  if (!part.feasible) part = partition_layers(request);
  if (!part.feasible) {
    c.why_not = part.why_infeasible;
    PartitionRequest unlimited = request;
    unlimited.memory_limit_bytes = 0;
    const Partition loose = partition_layers(unlimited);
    c.needed_bytes = loose.feasible ? *std::max_element(loose.stage_bytes.begin(),
                                                        loose.stage_bytes.end()) * layout.virtual_stages
                                    : 0;
    return c;
  }
  const double peak = rank_peak(r, profile, part, &c);
  if (peak > r.memory_limit_bytes) {
    c.why_not = fmt::format("the fullest rank needs {} (limit {})", gib(peak), gib(r.memory_limit_bytes));
    c.needed_bytes = peak;
    return c;
  }
  c.fits = true;
  c.estimate_ms = estimate_step_ms(c);
  return c;
}

}  // namespace pp
