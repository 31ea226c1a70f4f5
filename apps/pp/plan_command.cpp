#include "plan_command.h"

#include "number_text.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "plan_report.h"
#include "pp/gate.h"
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
  pp plan --model korthikanti-22b --cluster dgx-a100-80gb --gpus 8 --global-batch 4 --tp 8 \
          --microbatch-size 4 --no-flash-attention --show-kernels   # where a layer's time goes
  pp plan --model llama3-405b --cluster dgx-h100 --gpus 1024 --global-batch 512 --seq-len 8192 \
          --tp 8 --pp 8 --cp 2 --precision fp8   # a published layout: pp says what it would pick instead
  pp simulate --plan plan.json --svg plan.svg     # see the chosen schedule over time
  pp plan --model llama3-70b --cluster dgx-h100 --gpus 512 --global-batch 1024 --seq-len 4096 \
          --check --max-bubble 0.1 --min-mfu 0.4 --max-memory-fraction 0.9   # a CI gate (docs/ci.md)

Models: a Hugging Face config.json, or a shipped name ({models}).
Clusters: a cluster file, or a shipped name ({clusters}).
The global batch is in sequences of --seq-len tokens. pp plan notes when the chosen plan is not
one pp run can execute (tp must divide the heads, the key/value heads and a micro-batch's tokens;
cp 1; GPT-2 or Llama layers), and what pp run would do differently (FP8, sharding, overlap). -o - writes the plan alone to stdout.
Exit codes: 0 a plan; 2 invalid input; 3 nothing fits (the reasons say what would);
4 a file cannot be read or written; 6 a --check rule is violated (the plan is still written). Details: docs/cost-model.md, docs/exit-codes.md.)";

constexpr int kMaxDefaultSeqLen = 2048;  // --seq-len when not given, if the model allows it

std::string footer() {
  auto joined = [](const std::vector<std::string>& names) {
    return names.empty() ? std::string("none found under ") + config_dir() : fmt::format("{}", fmt::join(names, ", "));
  };
  return fmt::format(fmt::runtime(kExamples), fmt::arg("models", joined(shipped_config_names("models"))),
                     fmt::arg("clusters", joined(shipped_config_names("clusters"))));
}

// A whole number in low..high, or nothing when `text` is not one.
std::optional<long long> whole_number(const std::string& text, long long low, long long high) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) return std::nullopt;
  return value;
}

// CLI11 check: "auto" or a whole number in low..high (CLI11 names the flag in its error).
CLI::Validator auto_or(long long low, long long high) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        if (text == "auto" || whole_number(text, low, high)) return "";
        return fmt::format("'{}' is not 'auto' or a whole number in {}..{}", text, low, high);
      },
      fmt::format("auto|{}..{}", low, high));
}

// CLI11 check: a finite number of GiB above 0 (at most 1e6).
CLI::Validator positive_gib() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::optional<double> value = number_in(text);
        if (value && std::isfinite(*value) && *value > 0 && *value <= 1e6) return "";
        return fmt::format("'{}' is not a number of GiB above 0 (at most 1e6)", text);
      },
      "GiB > 0");
}

// An "auto or number" option already checked by auto_or().
std::optional<int> choice(const std::string& text) {
  if (text == "auto") return std::nullopt;
  return static_cast<int>(*whole_number(text, 0, 1LL << 31));
}

// The flag's value, or the model's positions capped at kMaxDefaultSeqLen.
int seq_len_of(const PlanOptions& o, const ModelConfig& model) {
  if (o.seq_len > 0) return o.seq_len;
  return static_cast<int>(std::min<long long>(model.max_positions, kMaxDefaultSeqLen));
}

// Notes and warnings about the request itself, printed once a plan is found (so that an error
// stays the only line on stderr).
std::vector<std::string> request_notes(const PlanOptions& o, const PlanRequest& r) {
  std::vector<std::string> notes;
  if (o.seq_len == 0) {
    notes.push_back(fmt::format("note: --seq-len not given: planning for {} tokens per sequence ({} "
                                "has {} positions; the default is at most {})",
                                r.seq_len, r.model.name, r.model.max_positions, kMaxDefaultSeqLen));
  }
  if (r.measured) {
    const std::string mismatch = profile_device_mismatch(*r.measured, r.cluster);
    if (!mismatch.empty()) notes.push_back("warning: --profile: " + mismatch);
    if (r.memory.fp8) {
      notes.push_back("note: --profile: the measured layer times are used as measured; --precision fp8 changes "
                      "only the memory model, not them");
    }
  }
  return notes;
}

PlanRequest request_of(const PlanOptions& o) {
  PlanRequest r;
  r.model = load_model(o.model);
  r.cluster = load_cluster(o.cluster);
  r.gpus = o.gpus;
  r.global_batch = o.global_batch;
  r.seq_len = seq_len_of(o, r.model);
  r.fixed.tp = choice(o.tp);
  r.fixed.cp = choice(o.cp);
  r.fixed.pp = choice(o.pp);
  r.fixed.dp = choice(o.dp);
  r.fixed.microbatch_size = choice(o.microbatch_size);
  r.fixed.microbatches = choice(o.microbatches);
  r.fixed.virtual_stages = choice(o.virtual_stages);
  r.fixed.checkpoint_interval = choice(o.ckpt_interval);
  if (o.schedule != "auto") r.fixed.schedule = o.schedule;
  if (o.selective_recompute != "auto") r.fixed.selective_recompute = o.selective_recompute == "on";
  if (o.distributed_optimizer != "auto") r.fixed.distributed_optimizer = o.distributed_optimizer == "on";
  if (o.shard_optimizer) {
    if (o.distributed_optimizer == "off") throw_invalid("--shard-optimizer and --distributed-optimizer off conflict");
    r.fixed.distributed_optimizer = true;
  }
  if (o.tp_overlap != "auto") r.fixed.tp_overlap = o.tp_overlap == "on";
  const double memory = r.cluster.gpu.memory_bytes;
  r.memory_limit_bytes = o.mem_limit_gib > 0 ? o.mem_limit_gib * kGiB : memory * (1 - kReserveFraction);
  r.memory.gradient_bytes = o.grad_dtype == "bf16" ? 2 : 4;
  r.memory.fp8 = o.precision == "fp8";
  r.memory.sequence_parallel = !o.no_sequence_parallel;
  r.memory.flash_attention = !o.no_flash_attention;
  r.memory.dropout = o.dropout;
  r.overlap_dp_allreduce = !o.no_dp_overlap;
  if (!o.profile.empty()) {
    r.measured = load_profile(o.profile);
    r.profile_origin = o.profile;
  }
  r.top = o.top;
  return r;
}

// One stderr note when pp run cannot execute the best plan (what to pass instead), and a warning
// when its figures are beyond the hardware (a profile faster than the cluster's peak).
void note_pp_run(const PlanRequest& r, const Plan& best) {
  const std::vector<std::string> obstacles = pp_run_obstacles(best);
  if (!obstacles.empty()) {
    fmt::print(stderr, "note: pp run cannot execute this plan: {}\n", fmt::join(obstacles, "; "));
  }
  const std::vector<std::string> differences = pp_run_differences(best);
  if (obstacles.empty() && !differences.empty()) {
    fmt::print(stderr, "note: pp run executes this plan, but differently: {}\n", fmt::join(differences, "; "));
  }
  if (best.predicted.mfu > 1) {
    fmt::print(stderr, "warning: the plan's MFU is {:.0f}%: its layer times are faster than {}'s "
               "peak; check --profile and --cluster\n",
               100 * best.predicted.mfu, r.cluster.name);
  }
}

// The plan file, with "versus_auto" (derived, not read back) when choices were fixed: the plan
// the search picks with every choice auto, and why the two differ.
std::string with_versus_auto(const std::string& plan_text, const PlanSearchResult& result) {
  if (!result.versus_auto) return plan_text;
  nlohmann::ordered_json doc = nlohmann::ordered_json::parse(plan_text);
  const Plan& other = result.versus_auto->plan.plan;
  const Layout& l = other.layout;
  nlohmann::ordered_json versus = {{"layout", describe_layout(l)}};
  const nlohmann::ordered_json layout = layout_to_json(l);
  for (auto it = layout.begin(); it != layout.end(); ++it) versus[it.key()] = it.value();
  versus["step_time_s"] = other.predicted.step_time_s;
  versus["peak_memory_bytes"] = other.predicted.peak_memory_bytes;
  versus["why"] = result.versus_auto->why;
  doc["versus_auto"] = std::move(versus);
  return doc.dump(2) + "\n";
}

// The plan document with "check" (the --check verdicts, derived, not read back) when checked.
std::string with_check(const std::string& plan_text, const std::optional<CheckReport>& gate) {
  if (!gate) return plan_text;
  nlohmann::ordered_json doc = nlohmann::ordered_json::parse(plan_text);
  doc["check"] = check_report_json(*gate);
  return doc.dump(2) + "\n";
}

void report_infeasible(bool json, const PlanSearchResult& result) {
  if (json) {
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
  cmd->footer(footer());
  cmd->add_option("--model", o->model, "Hugging Face config.json, or a shipped model name")->required();
  cmd->add_option("--cluster", o->cluster, "Cluster file, or a shipped cluster name")->capture_default_str();
  cmd->add_option("--gpus", o->gpus, "GPUs in all (tp x cp x pp x dp)")->required()->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--global-batch", o->global_batch, "Sequences per optimizer step")
      ->required()
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--seq-len", o->seq_len,
                  fmt::format("Tokens per sequence (default: the model's positions, at most {})", kMaxDefaultSeqLen))
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--tp", o->tp, "Tensor-parallel degree, or auto")->capture_default_str()->check(auto_or(1, kMaxTensorParallel));
  cmd->add_option("--cp", o->cp,
                  fmt::format("Context-parallel degree (each sequence's tokens over cp GPUs; flash attention), or "
                              "auto (tried where each GPU keeps {} tokens or more)",
                              kMinAutoContextParallelTokens))
      ->capture_default_str()
      ->check(auto_or(1, kMaxTensorParallel));
  cmd->add_option("--pp", o->pp, "Pipeline stages, or auto")->capture_default_str()->check(auto_or(1, kMaxRanks));
  cmd->add_option("--dp", o->dp, "Data-parallel replicas, or auto")->capture_default_str()->check(auto_or(1, 1 << 24));
  cmd->add_option("--microbatch-size", o->microbatch_size, "Sequences per micro-batch, or auto")
      ->capture_default_str()
      ->check(auto_or(1, kMaxMicrobatchSize));
  cmd->add_option("--microbatches", o->microbatches, "Micro-batches per replica per step, or auto")
      ->capture_default_str()
      ->check(auto_or(1, kMaxMicrobatches));
  cmd->add_option("--schedule", o->schedule, "gpipe, 1f1b, interleaved, zb-h1, or auto")->capture_default_str();
  cmd->add_option("--virtual-stages", o->virtual_stages,
                  "Chunks per rank, or auto; above 1 means the interleaved schedule, 1 rules it out")
      ->capture_default_str()
      ->check(auto_or(1, kMaxVirtualStages));
  cmd->add_option("--ckpt-interval", o->ckpt_interval,
                  "0: no recompute; k: every k-th block is recomputed (1: all); or auto")
      ->capture_default_str()
      ->check(auto_or(0, 1 << 20));
  cmd->add_option("--selective-recompute", o->selective_recompute,
                  "on: recompute only the attention core of blocks not recomputed whole; off; or auto "
                  "(tried with --no-flash-attention)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_option("--mem-limit", o->mem_limit_gib, "GiB per GPU or CPU rank (default: its memory less 8%)")
      ->check(positive_gib());
  cmd->add_option("--profile", o->profile, "Measured per-layer profile (docs/profile-format.md)");
  cmd->add_option("--distributed-optimizer", o->distributed_optimizer,
                  "on: optimizer state sharded over dp (ZeRO-1, gradients reduce-scattered, weights "
                  "all-gathered); off; or auto (tried where dp x cp > 1)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_flag("--shard-optimizer", o->shard_optimizer, "The same as --distributed-optimizer on");
  cmd->add_option("--tp-overlap", o->tp_overlap,
                  "on: tensor-parallel all-gathers and reduce-scatters run beside their GEMMs "
                  "(needs sequence parallelism); off; or auto (on where tp > 1: it only hides time)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_option("--precision", o->precision,
                  "The blocks' linear GEMMs: bf16, or fp8 (Transformer Engine style; attention and the LM head "
                  "stay bf16; needs the GPU's fp8 peak)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bf16", "fp8"}));
  cmd->add_option("--grad-dtype", o->grad_dtype,
                  "Main gradients (accumulated and reduced over dp): fp32, as Megatron-LM under bf16, or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_flag("--no-sequence-parallel", o->no_sequence_parallel, "Tensor parallelism without sequence parallelism");
  cmd->add_flag("--no-flash-attention", o->no_flash_attention, "Keep the attention score matrix for the backward");
  cmd->add_flag("--dropout", o->dropout,
                "The model trains with dropout (its masks kept, its kernels timed), as GPT-3-era runs did");
  cmd->add_flag("--no-dp-overlap", o->no_dp_overlap, "Do not overlap the gradient all-reduce with the backward");
  cmd->add_option("--top", o->top, "Plans to list")->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("-o,--output", o->output, "Write the best plan (JSON) here; - : to stdout, alone");
  cmd->add_flag("--json", o->json, "Print the best plan as JSON on stdout");
  cmd->add_flag("--show-profile", o->show_profile, "Print the per-layer profile table first");
  cmd->add_flag("--show-kernels", o->show_kernels,
                "Print each layer's kernels and their times at the fixed (or 1) --tp and --microbatch-size");
  add_plan_check_flags(cmd, &o->gate);
  cmd->callback([o] { run_plan(*o); });
}

void run_plan(const PlanOptions& o) {
  check_output_paths({{"-o", o.output}}, {{"--model", o.model}, {"--cluster", o.cluster}, {"--profile", o.profile}});
  check_gate_flags(o.gate);
  const PlanRequest request = request_of(o);
  check_plan_request(request);  // size limits and fixed choices, before any table is printed
  const bool plan_on_stdout = o.json || o.output == "-";  // then stdout is one JSON document
  if (o.show_profile && !plan_on_stdout) print_profile(request);
  if (o.show_kernels && !plan_on_stdout) print_kernels(request);
  const auto start = std::chrono::steady_clock::now();
  const PlanSearchResult result = search_plans(request);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.plans.empty()) report_infeasible(plan_on_stdout, result);
  const Plan& best = result.plans.front().plan;
  for (const std::string& note : request_notes(o, request)) fmt::print(stderr, "{}\n", note);
  note_pp_run(request, best);
  const std::string text = with_versus_auto(plan_to_json_text(best), result);
  if (!o.output.empty() && o.output != "-") {
    write_file_atomically(o.output, text);
    fmt::print(stderr, "wrote plan {}\n", o.output);
  }
  const std::optional<CheckReport> gate =
      o.gate.check ? std::optional<CheckReport>(check_plan(best, o.gate.policy)) : std::nullopt;
  if (o.output == "-") {
    std::cout << text;  // the plan alone
  } else if (o.json) {
    std::cout << with_check(text, gate);
  } else {
    print_table(request, result, seconds);
    print_stages(best);
  }
  if (gate) report_check(*gate, "the chosen plan (" + describe_layout(best.layout) + ")");
}

}  // namespace pp::cli
