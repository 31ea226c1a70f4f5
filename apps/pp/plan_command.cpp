#include "plan_command.h"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/planner/plan_search.h"
#include "pp/profile.h"

namespace pp::cli {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kReserveFraction = 0.08;  // CUDA context, NCCL buffers, allocator slack

constexpr const char* kExamples = R"(
Examples:
  pp plan --model llama3-70b --cluster dgx-h100 --gpus 512 --global-batch 1024 --seq-len 4096
  pp plan --model gpt3-175b --cluster dgx-a100-80gb --gpus 1024 --global-batch 1536 -o plan.json
  pp plan --model llama3-8b --gpus 16 --global-batch 256 --tp 2 --schedule zb-h1 --json
  pp plan --model ./config.json --cluster my-cluster.json --gpus 64 --global-batch 512 \
          --profile measured.json --show-profile
  pp simulate --plan plan.json --svg plan.svg     # see the chosen schedule over time

Models: a Hugging Face config.json, or a shipped name (gpt2-124m, gpt3-175b, llama2-7b,
llama2-70b, llama3-8b, llama3-70b, llama3-405b). Clusters: a cluster file, or dgx-a100-80gb,
dgx-h100, dgx-h200. The global batch is in sequences of --seq-len tokens.
Exit codes: 0 a plan; 2 invalid input; 3 nothing fits (the reasons say what would);
4 a file cannot be read or written. Details: docs/cost-model.md, docs/exit-codes.md.)";

std::optional<int> choice(const std::string& text, const char* flag) {
  if (text == "auto") return std::nullopt;
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= 0) return value;
  } catch (...) {
    // Reported below.
  }
  throw_invalid(fmt::format("{}: '{}' is not a non-negative whole number or 'auto'", flag, text));
}

PlanRequest request_of(const PlanOptions& o) {
  PlanRequest r;
  r.model = load_model(o.model);
  r.cluster = load_cluster(o.cluster);
  r.gpus = o.gpus;
  r.global_batch = o.global_batch;
  r.seq_len = o.seq_len;
  r.fixed.tp = choice(o.tp, "--tp");
  r.fixed.pp = choice(o.pp, "--pp");
  r.fixed.dp = choice(o.dp, "--dp");
  r.fixed.microbatch_size = choice(o.microbatch_size, "--microbatch-size");
  r.fixed.microbatches = choice(o.microbatches, "--microbatches");
  r.fixed.virtual_stages = choice(o.virtual_stages, "--virtual-stages");
  r.fixed.checkpoint_interval = choice(o.ckpt_interval, "--ckpt-interval");
  if (o.schedule != "auto") r.fixed.schedule = o.schedule;
  const double memory = r.cluster.gpu.memory_bytes;
  r.memory_limit_bytes = o.mem_limit_gib > 0 ? o.mem_limit_gib * kGiB : memory * (1 - kReserveFraction);
  r.memory.shard_optimizer = o.shard_optimizer;
  r.memory.sequence_parallel = !o.no_sequence_parallel;
  r.memory.flash_attention = !o.no_flash_attention;
  r.overlap_dp_allreduce = !o.no_dp_overlap;
  if (!o.profile.empty()) {
    r.measured = load_profile(o.profile);
    r.profile_origin = o.profile;
  }
  r.top = o.top;
  return r;
}

void print_profile(const PlanRequest& r) {
  const int b = r.fixed.microbatch_size.value_or(1);
  const ModelProfile p = r.measured ? measured_profile(r.model, *r.measured, b, r.seq_len, r.profile_origin)
                                    : analytic_profile(r.model, b, r.seq_len);
  Layout layout;
  layout.microbatch_size = b;
  const auto costs = layer_costs(p, r.model, r.cluster, layout, r.memory);
  fmt::print("per-layer profile: {} ({}), micro-batch {} x {} tokens, tp=1 on {}\n", r.model.name,
             p.origin, b, r.seq_len, r.cluster.gpu.name);
  fmt::print("{:>10} {:>12} {:>14} {:>12} {:>13} {:>11} {:>10} {:>10} {:>10}\n", "layer",
             "fwd GFLOP", "params", "param MiB", "act MiB/mb", "out MiB", "fwd ms", "bwd ms",
             "wgrad ms");
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    const LayerProfile& l = p.layers[i];
    fmt::print("{:>10} {:>12.2f} {:>14.0f} {:>12.1f} {:>13.1f} {:>11.2f} {:>10.3f} {:>10.3f} {:>10.3f}\n",
               l.name, l.forward_flops / 1e9, l.params, 2 * l.params / 1048576.0,
               costs[i].activation_bytes / 1048576.0, l.output_bytes / 1048576.0,
               costs[i].forward_ms, costs[i].backward_ms, costs[i].wgrad_ms);
  }
  fmt::print("\n");
}

std::string layout_cells(const Layout& l) {
  return fmt::format("{:>3} {:>3} {:>4} {:>4} {:>5}  {:<12} {:>2} {:>4}", l.tp, l.pp, l.dp,
                     l.microbatch_size, l.microbatches, l.schedule, l.virtual_stages,
                     l.checkpoint_interval);
}

void print_table(const PlanRequest& r, const PlanSearchResult& result, double seconds) {
  fmt::print("{} on {} x {} ({}), global batch {} x {} tokens, memory limit {:.1f} GiB per GPU\n",
             r.model.name, r.gpus, r.cluster.gpu.name, r.cluster.name, r.global_batch, r.seq_len,
             r.memory_limit_bytes / kGiB);
  fmt::print("searched {} layouts: {} fit, {} simulated, in {:.2f} s\n\n", result.layouts,
             result.fitting, result.simulated, seconds);
  fmt::print("{:>2}  {:>3} {:>3} {:>4} {:>4} {:>5}  {:<12} {:>2} {:>4} {:>8} {:>7} {:>11} {:>9} {:>6} {:>9}\n",
             "#", "tp", "pp", "dp", "mbs", "M", "schedule", "V", "ckpt", "step s", "bubble",
             "tokens/s", "TFLOP/s", "MFU", "peak GiB");
  int rank = 1;
  for (const RankedPlan& p : result.plans) {
    const PlanPrediction& x = p.plan.predicted;
    fmt::print("{:>2}  {} {:>8.4g} {:>6.1f}% {:>11.0f} {:>9.4g} {:>5.1f}% {:>9.4g}\n", rank++,
               layout_cells(p.plan.layout), x.step_time_s, 100 * x.bubble_fraction, x.tokens_per_s,
               x.model_tflops_per_gpu, 100 * x.mfu, x.peak_memory_bytes / kGiB);
    fmt::print("    {}\n", p.why);
  }
  fmt::print("\n(TFLOP/s and MFU count model FLOPs, 3x the forward; with recompute the GPUs do "
             "{:.1f} TFLOP/s each)\n",
             result.plans.front().plan.predicted.hardware_tflops_per_gpu);
}

void print_stages(const Plan& plan) {
  fmt::print("\nstages of #1 (layer 0 is the embedding, {} the head):\n", plan.stages.back().last_layer);
  fmt::print("{:>6} {:>5} {:>12} {:>10} {:>10} {:>10} {:>10}\n", "stage", "rank", "layers",
             "fwd ms", "bwd ms", "p2p ms", "peak GiB");
  for (const StagePlan& s : plan.stages) {
    fmt::print("{:>6} {:>5} {:>12} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.1f}\n", s.stage, s.rank,
               fmt::format("{}-{}", s.first_layer, s.last_layer), s.forward_ms, s.backward_ms,
               s.p2p_ms, s.peak_memory_bytes / kGiB);
  }
}

void report_infeasible(const PlanOptions& o, const PlanSearchResult& result) {
  if (o.json) {
    nlohmann::ordered_json doc = {{"schema", "pp.plan-infeasible"}, {"version", 1},
                                  {"feasible", false}, {"reasons", result.infeasible}};
    std::cout << doc.dump(2) << "\n";
  }
  std::string message = "no layout fits";
  for (const std::string& reason : result.infeasible) message += "\n  " + reason;
  throw Error(ErrorCategory::kInfeasible, message);
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  CLI::App* cmd = app.add_subcommand("plan", "Choose the training layout for a model on a cluster");
  cmd->footer(kExamples);
  cmd->add_option("--model", o->model, "Hugging Face config.json, or a shipped model name")->required();
  cmd->add_option("--cluster", o->cluster, "Cluster file, or a shipped cluster name")->capture_default_str();
  cmd->add_option("--gpus", o->gpus, "GPUs in all (tp x pp x dp)")->required()->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--global-batch", o->global_batch, "Sequences per optimizer step")
      ->required()
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--seq-len", o->seq_len, "Tokens per sequence")->capture_default_str()->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--tp", o->tp, "Tensor-parallel degree, or auto")->capture_default_str();
  cmd->add_option("--pp", o->pp, "Pipeline stages, or auto")->capture_default_str();
  cmd->add_option("--dp", o->dp, "Data-parallel replicas, or auto")->capture_default_str();
  cmd->add_option("--microbatch-size", o->microbatch_size, "Sequences per micro-batch, or auto")->capture_default_str();
  cmd->add_option("--microbatches", o->microbatches, "Micro-batches per replica per step, or auto")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "gpipe, 1f1b, interleaved, zb-h1, or auto")->capture_default_str();
  cmd->add_option("--virtual-stages", o->virtual_stages, "Chunks per rank (interleaved), or auto")->capture_default_str();
  cmd->add_option("--ckpt-interval", o->ckpt_interval,
                  "0: no recompute; k: every k-th block is recomputed (1: all); or auto")
      ->capture_default_str();
  cmd->add_option("--mem-limit", o->mem_limit_gib, "GiB per GPU (default: the GPU's memory less 8%)");
  cmd->add_option("--profile", o->profile, "Measured per-layer profile (docs/profile-format.md)");
  cmd->add_flag("--shard-optimizer", o->shard_optimizer, "Shard optimizer state over dp (ZeRO-1)");
  cmd->add_flag("--no-sequence-parallel", o->no_sequence_parallel, "Tensor parallelism without sequence parallelism");
  cmd->add_flag("--no-flash-attention", o->no_flash_attention, "Keep the attention score matrix for the backward");
  cmd->add_flag("--no-dp-overlap", o->no_dp_overlap, "Do not overlap the gradient all-reduce with the backward");
  cmd->add_option("--top", o->top, "Plans to list")->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("-o,--output", o->output, "Write the best plan (JSON) here");
  cmd->add_flag("--json", o->json, "Print the best plan as JSON on stdout");
  cmd->add_flag("--show-profile", o->show_profile, "Print the per-layer profile table first");
  cmd->callback([o] { run_plan(*o); });
}

void run_plan(const PlanOptions& o) {
  const PlanRequest request = request_of(o);
  if (o.show_profile && !o.json) print_profile(request);
  const auto start = std::chrono::steady_clock::now();
  const PlanSearchResult result = search_plans(request);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.plans.empty()) report_infeasible(o, result);
  const Plan& best = result.plans.front().plan;
  if (!o.output.empty()) {
    write_file_atomically(o.output, plan_to_json_text(best));
    if (o.output != "-") fmt::print(stderr, "wrote plan {}\n", o.output);
  }
  if (o.json) {
    std::cout << plan_to_json_text(best);
    return;
  }
  print_table(request, result, seconds);
  print_stages(best);
}

}  // namespace pp::cli
