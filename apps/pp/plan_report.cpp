#include "plan_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "pp/planner/layer_kernels.h"

namespace pp::cli {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Decimals that show the smallest non-zero value of a column with `significant` digits (0..9):
// a column prints every row with this one count.
int decimals_for(const std::vector<double>& values, int significant = 3) {
  double smallest = 0;
  for (double v : values) {
    if (std::isfinite(v) && v > 0 && (smallest == 0 || v < smallest)) smallest = v;
  }
  if (smallest == 0) return 1;
  const int digits = significant - 1 - static_cast<int>(std::floor(std::log10(smallest)));
  return std::clamp(digits, 1, 9);
}

// One column's values, as the rows will print them.
template <typename Row, typename Field>
std::vector<double> column(const std::vector<Row>& rows, Field field) {
  std::vector<double> out;
  for (const Row& row : rows) out.push_back(field(row));
  return out;
}

// tp cp pp dp mbs M schedule V ckpt ("s": selective) opt ("dist": distributed optimizer) ovl
// ("tp": tensor-parallel overlap).
std::string layout_cells(const Layout& l) {
  return fmt::format("{:>3} {:>2} {:>3} {:>4} {:>4} {:>5}  {:<12} {:>2} {:>4} {:>4} {:>3}", l.tp, l.cp, l.pp, l.dp,
                     l.microbatch_size, l.microbatches, l.schedule, l.virtual_stages,
                     fmt::format("{}{}", l.checkpoint_interval, l.selective_recompute ? "s" : ""),
                     l.distributed_optimizer ? "dist" : "-", l.tp_overlap ? "tp" : "-");
}

struct PlanColumns {
  int step, tflops, mfu, peak;
};

// The most activation memory any pipeline rank of the plan holds at its schedule's peak.
double max_activation_bytes(const Plan& plan) {
  double most = 0;
  for (const StagePlan& s : plan.stages) most = std::max(most, s.activation_bytes);
  return most;
}

PlanColumns plan_columns(const std::vector<RankedPlan>& plans) {
  return {decimals_for(column(plans, [](const RankedPlan& p) { return p.plan.predicted.step_time_s; })),
          decimals_for(column(plans, [](const RankedPlan& p) { return p.plan.predicted.model_tflops_per_gpu; })),
          decimals_for(column(plans, [](const RankedPlan& p) { return 100 * p.plan.predicted.mfu; }), 2),
          decimals_for(column(plans, [](const RankedPlan& p) { return p.plan.predicted.peak_memory_bytes / kGiB; }))};
}

// The recompute note, only when the best plan recomputes.
void print_flops_note(const PlanRequest& r, const Plan& best, int decimals) {
  const PlanPrediction& x = best.predicted;
  fmt::print("\n(TFLOP/s and MFU count model FLOPs, 3x the forward, against the {}'s bf16 peak",
             device_noun(r.cluster));
  if (x.hardware_tflops_per_gpu > x.model_tflops_per_gpu * (1 + 1e-9)) {
    fmt::print("; #1 recomputes, so each {} does {:.{}f} TFLOP/s", device_noun(r.cluster),
               x.hardware_tflops_per_gpu, decimals);
  }
  fmt::print(")\n");
}

}  // namespace

void print_profile(const PlanRequest& r) {
  const int b = r.fixed.microbatch_size.value_or(1);
  const ModelProfile p = r.measured ? measured_profile(r.model, *r.measured, b, r.seq_len, r.profile_origin)
                                    : analytic_profile(r.model, b, r.seq_len);
  Layout layout;
  layout.microbatch_size = b;
  layout.tp = r.fixed.tp.value_or(1);
  layout.cp = r.fixed.cp.value_or(1);
  layout.tp_overlap = r.fixed.tp_overlap.value_or(true) && layout.tp > 1 && r.memory.sequence_parallel;
  layout.distributed_optimizer = r.fixed.distributed_optimizer.value_or(false);
  layout.sequence_parallel = r.memory.sequence_parallel;
  layout.checkpoint_interval = r.fixed.checkpoint_interval.value_or(0);
  layout.selective_recompute = r.fixed.selective_recompute.value_or(false);
  const auto costs = layer_costs(p, r.model, r.cluster, layout, r.memory);
  const int ms = decimals_for(column(costs, [](const LayerCost& c) { return c.wgrad_ms > 0 ? std::min(c.forward_ms, c.wgrad_ms) : c.forward_ms; }));
  fmt::print("per-layer profile: {} ({}), micro-batch {} x {} tokens, tp={} cp={}, checkpoint interval {}{} on {}\n",
             r.model.name, p.origin, b, r.seq_len, layout.tp, layout.cp, layout.checkpoint_interval,
             layout.selective_recompute ? " with selective recompute" : "", r.cluster.gpu.name);
  fmt::print("{:>10} {:>12} {:>14} {:>12} {:>13} {:>11} {:>10} {:>10} {:>10}\n", "layer",
             "fwd GFLOP", "params", "param MiB", "act MiB/mb", "out MiB", "fwd ms", "bwd ms",
             "wgrad ms");
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    const LayerProfile& l = p.layers[i];
    fmt::print("{:>10} {:>12.2f} {:>14.0f} {:>12.1f} {:>13.1f} {:>11.2f} {:>10.{}f} {:>10.{}f} {:>10.{}f}\n",
               l.name, l.forward_flops / 1e9, l.params, 2 * l.params / 1048576.0,
               costs[i].activation_bytes / 1048576.0, l.output_bytes / 1048576.0,
               costs[i].forward_ms, ms, costs[i].backward_ms, ms, costs[i].wgrad_ms, ms);
  }
  fmt::print("\n");
}

void print_kernels(const PlanRequest& r) {
  const int b = r.fixed.microbatch_size.value_or(1);
  const int tp = r.fixed.tp.value_or(1);
  Layout layout;
  layout.tp = tp;
  layout.cp = r.fixed.cp.value_or(1);
  const KernelContext context{&r.model, b, r.seq_len, tp, r.memory.sequence_parallel,
                              r.memory.flash_attention, r.memory.dropout, &r.cluster.gpu,
                              &r.cluster.intra_node, r.fixed.tp_overlap.value_or(true), r.memory.fp8,
                              layout.cp, &context_parallel_link(r.cluster, layout)};
  const bool sp = tp > 1 && r.memory.sequence_parallel;
  fmt::print("kernels of one GPU, micro-batch {} x {} tokens{}, tp {}{}{}{}, on {} (ms):\n", b, r.seq_len,
             layout.cp > 1 ? fmt::format(" over cp {}", layout.cp) : "", tp,
             sp ? " with sequence parallelism" : "", sp && context.tp_overlap ? " and overlap" : "",
             r.memory.flash_attention ? ", flash attention" : ", attention unfused", r.cluster.gpu.name);
  const std::pair<LayerKind, const char*> kinds[] = {
      {LayerKind::kEmbedding, "embedding"}, {LayerKind::kBlock, "block"}, {LayerKind::kHead, "head"}};
  for (const auto& [kind, name] : kinds) {
    const LayerKernels k = layer_kernels(kind, context);
    fmt::print("\n{}: forward {:.3f}, backward {:.3f} (weight gradients {:.3f}), communication "
               "{:.3f}\n", name, k.forward_ms(), k.backward_ms(), k.wgrad_ms(), k.communication_ms());
    for (const auto* list : {&k.forward, &k.backward}) {
      for (const Kernel& kernel : *list) {
        fmt::print("  {:<9} {:<44} {:>9.3f}\n", list == &k.forward ? "forward" : "backward",
                   kernel.name, kernel.ms);
      }
    }
  }
  fmt::print("\n");
}

void print_table(const PlanRequest& r, const PlanSearchResult& result, double seconds) {
  const char* device = device_noun(r.cluster);
  fmt::print("{} on {} x {} ({}), global batch {} x {} tokens, memory limit {:.2f} GiB per {}\n",
             r.model.name, r.gpus, r.cluster.gpu.name, r.cluster.name, r.global_batch, r.seq_len,
             r.memory_limit_bytes / kGiB, device);
  fmt::print("searched {} layouts: {} fit, {} simulated, in {:.2f} s\n\n", result.layouts,
             result.fitting, result.simulated, seconds);
  fmt::print("{:>2}  {:>3} {:>2} {:>3} {:>4} {:>4} {:>5}  {:<12} {:>2} {:>4} {:>4} {:>3} {:>10} {:>7} {:>11} {:>9} {:>7} {:>9} {:>8}\n",
             "#", "tp", "cp", "pp", "dp", "mbs", "M", "schedule", "V", "ckpt", "opt", "ovl", "step s", "bubble",
             "tokens/s", "TFLOP/s", "MFU", "peak GiB", "act GiB");
  const PlanColumns d = plan_columns(result.plans);
  int rank = 1;
  for (const RankedPlan& p : result.plans) {
    const PlanPrediction& x = p.plan.predicted;
    fmt::print("{:>2}  {} {:>10.{}f} {:>6.1f}% {:>11.0f} {:>9.{}f} {:>6.{}f}% {:>9.{}f} {:>8.{}f}\n", rank++,
               layout_cells(p.plan.layout), x.step_time_s, d.step, 100 * x.bubble_fraction,
               x.tokens_per_s, x.model_tflops_per_gpu, d.tflops, 100 * x.mfu, d.mfu,
               x.peak_memory_bytes / kGiB, d.peak, max_activation_bytes(p.plan) / kGiB, d.peak);
    fmt::print("    {}\n", p.why);
  }
  print_flops_note(r, result.plans.front().plan, d.tflops);
  if (result.versus_auto) {
    const Plan& other = result.versus_auto->plan.plan;
    fmt::print("\nwith every choice auto, pp would pick {}: {:.{}f} s per step, {:.1f} GiB peak\n  {}\n",
               describe_layout(other.layout), other.predicted.step_time_s, d.step,
               other.predicted.peak_memory_bytes / kGiB, result.versus_auto->why);
  }
}

void print_stages(const Plan& plan) {
  const auto& stages = plan.stages;
  const int ms = decimals_for(column(stages, [](const StagePlan& s) { return s.forward_ms; }));
  const int p2p = decimals_for(column(stages, [](const StagePlan& s) { return s.p2p_ms; }));
  const int gib = decimals_for(column(stages, [](const StagePlan& s) { return s.peak_memory_bytes / kGiB; }));
  fmt::print("\nstages of #1 (layer 0 is the embedding, {} the head; times per micro-batch; peak "
             "memory of the stage's rank, and the activations in it at the {} schedule's peak):\n",
             stages.back().last_layer, plan.layout.schedule);
  fmt::print("{:>6} {:>5} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "stage", "rank", "layers",
             "fwd ms", "bwd ms", "p2p ms", "peak GiB", "act GiB");
  for (const StagePlan& s : stages) {
    fmt::print("{:>6} {:>5} {:>12} {:>10.{}f} {:>10.{}f} {:>10.{}f} {:>10.{}f} {:>10.{}f}\n", s.stage, s.rank,
               fmt::format("{}-{}", s.first_layer, s.last_layer), s.forward_ms, ms, s.backward_ms,
               ms, s.p2p_ms, p2p, s.peak_memory_bytes / kGiB, gib, s.activation_bytes / kGiB, gib);
  }
}

}  // namespace pp::cli
