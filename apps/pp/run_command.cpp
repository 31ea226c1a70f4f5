#include "run_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdlib>
#include <csignal>
#include <map>
#include <iostream>
#include <memory>
#include <thread>
#include <nlohmann/json.hpp>
#include <numeric>

#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/planner/plan_simulation.h"
#include "pp/slurm.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/trainer.h"
#include "pp/timeline_json.h"
#include "pp/timeline_render.h"
#include "exit_status.h"
#include "number_text.h"

namespace pp::cli {
namespace {

constexpr int kStoppedExitCode = 7;  // docs/exit-codes.md
constexpr double kMiB = 1024.0 * 1024.0;

constexpr const char* kExamples = R"(
Examples:
  pp data synth --out tokens.bin --tokens 200000 --vocab 512
  pp plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 \
          --tp 1 --pp 4 -o plan.json
  mpirun -np 4 pp run --plan plan.json --data tokens.bin --steps 50
  mpirun -np 4 pp run --plan plan.json --data tokens.bin --steps 200 --save ckpt.safetensors \
          --save-every 20 --resume --trace run.json
  srun --mpi=pmix -n 8 pp run --plan plan.json --data tokens.bin --json
  srun --mpi=pmix pp run --plan plan.json --data tokens.bin --steps 1000 --save ckpt.safetensors \
          --save-every 100 --resume --summary run.json     # a Slurm job: scripts/slurm/train.sbatch
  pp plan --model llama-tiny --cluster cpu-local --gpus 8 --global-batch 16 --seq-len 64 \
          --tp 2 --pp 2 -o 3d.json
  mpirun -np 8 pp run --plan 3d.json --data tokens.bin --steps 50 --save ckpt.safetensors
  mpirun -np 4 pp run --plan four.json --data tokens.bin --steps 100 --save ckpt.safetensors --resume

tp x pp x dp ranks (world rank = (stage x dp + replica) x tp + tp rank); a checkpoint holds whole
tensors, so a run resumes under any layout (fewer or more ranks).
The global batch of step t is the B windows of T+1 tokens starting at token (t*B + i)*T,
wrapping at the end of the file (docs/run.md). Exit codes: 0 trained; 2 invalid input (rank
count, plan, data, checkpoint, flags); 4 a file cannot be read or written; 5 training failed (the
loss became non-finite, or a rank made no progress for --watchdog-s); 7 stopped by one of
--stop-signals (SIGTERM, SIGUSR1) after finishing the step in flight and writing the --save
checkpoint: run it again with --resume (a Slurm job script requeues itself: docs/slurm.md);
1 internal error.
As root, or with more ranks than cores, mpirun needs --allow-run-as-root and --oversubscribe.)";

double mean_after_first(const std::vector<double>& values) {
  if (values.size() <= 1) return values.empty() ? 0 : values.front();
  return std::accumulate(values.begin() + 1, values.end(), 0.0) / double(values.size() - 1);
}

void print_comparison(const Plan& plan, const TrainSummary& s, const TimelineMetrics& measured,
                      const TimelineMetrics& predicted) {
  const std::size_t n = s.step_ms.size();
  fmt::print("\nmeasured against predicted ({}):\n", plan.profile.empty() ? "plan" : plan.profile);
  fmt::print("  step time    {:>10.2f} ms measured, {}  {:>10.2f} ms predicted\n", mean_after_first(s.step_ms),
             n > 1 ? fmt::format("mean of steps 2..{}", n) : std::string("one step, start-up included"),
             predicted.makespan_ms);
  fmt::print("  bubble       {:>9.1f}%  measured (last step)          {:>9.1f}%  predicted\n",
             100 * measured.bubble_fraction, 100 * predicted.bubble_fraction);
  for (std::size_t r = 0; r < measured.ranks.size() && r < predicted.ranks.size(); ++r) {
    fmt::print("    rank {:>3}  {:>9.1f}%                                {:>9.1f}%\n", r,
               100 * measured.ranks[r].bubble_fraction, 100 * predicted.ranks[r].bubble_fraction);
  }
  fmt::print("  memory       {:>10.1f} MiB whole-process RSS (largest rank: code, MPI and BLAS buffers, model, "
             "activations)\n"
             "               {:>10.1f} MiB predicted model state and activations (the plan's memory model, "
             "which counts {})\n",
             s.peak_rss_bytes / kMiB, plan.predicted.peak_memory_bytes / kMiB,
             "bf16 weights with fp32 master copies and AdamW state: 16 bytes per parameter");
  if (s.backend.device == ComputeDevice::kCuda) {
    fmt::print("               {:>10.1f} MiB device memory (largest rank: weights, gradients and AdamW state in "
               "fp32, and the most activation memory held at once)\n",
               s.peak_device_bytes / kMiB);
  }
  const Traffic& t = s.traffic_per_step;
  fmt::print("  traffic      {:>10.1f} KiB per step and rank (last step, mean over ranks): pipeline {:.1f}, tensor "
             "{:.1f}, data {:.1f}, tied {:.1f}; one pipeline message {:.1f} KiB\n",
             t.total() / 1024, t.pipeline / 1024, t.tensor / 1024, t.data / 1024, t.tied / 1024,
             s.message_bytes / 1024);
  if (plan.profile.empty() || plan.profile == "analytic") {
    fmt::print("  (predicted from the cluster file's datasheet figures; for a prediction from this machine's own "
               "timings: pp profile -o prof.json, then pp plan ... --profile prof.json)\n");
  }
}

// The signals --stop-signals names ("TERM", "USR1", ...; "none" alone for none).
const std::map<std::string, int>& stop_signal_numbers() {
  static const std::map<std::string, int> known = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},
                                                   {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"XCPU", SIGXCPU}};
  return known;
}

std::vector<int> stop_signals_of(const std::vector<std::string>& names) {
  std::vector<int> numbers;
  for (const std::string& name : names) {
    if (name == "none") {
      if (names.size() > 1) throw_invalid("--stop-signals: 'none' goes alone");
      return {};
    }
    numbers.push_back(stop_signal_numbers().at(name));
  }
  return numbers;
}

// Timings of ranks that share cores include waiting for a core: say so before anyone compares.
void warn_if_oversubscribed(int local_ranks) {
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && local_ranks > static_cast<int>(cores)) {
    fmt::print(stderr,
               "warning: {} ranks share {} cores on this node: measured times include waiting for a core "
               "and are not comparable with the prediction\n",
               local_ranks, cores);
  }
}

// Refuses, before MPI starts, flags that would be ignored or outputs that would harm an input.
void check_run_options(const RunOptions& o) {
  if (o.save.empty() && o.resume) throw_invalid("--resume continues from the --save checkpoint: give --save too");
  if (o.save.empty() && o.save_every > 0) throw_invalid("--save-every writes the --save checkpoint: give --save too");
  if (o.save == "-") throw_invalid("--save: give a file ('-' would put a binary checkpoint on standard output)");
  if (o.transport == "nccl" && o.device == "cpu") {
    throw_invalid("--transport nccl moves device memory: it needs --device cuda (or auto)");
  }
  if (o.precision != "fp32") {
    throw_invalid(fmt::format("--precision {}: pp run trains in fp32 in this version (bf16 is planned)", o.precision));
  }
  if (o.allow_tf32 && o.device == "cpu") throw_invalid("--allow-tf32 applies to --device cuda, not the CPU");
  if (o.trace == "-") throw_invalid("--trace: give a file (standard output carries the run's report)");
  if (o.summary == "-") throw_invalid("--summary: give a file (--json prints the summary on standard output)");
  check_output_paths({{"--save", o.save}, {"--trace", o.trace}, {"--summary", o.summary}, {"--json", o.json ? "-" : ""}},
                     {{"--plan", o.plan}, {"--data", o.data}, {"--load", o.load}, {"--model", o.model}});
}

// One line on stderr: where the run stopped and how to continue.
void report_stop(const RunOptions& o, const TrainSummary& s) {
  const int done = s.first_step + static_cast<int>(s.losses.size());
  if (o.save.empty()) {
    fmt::print(stderr, "pp run: stopped by {} after step {} of {}; no --save checkpoint, so nothing is kept "
               "(exit {})\n", signal_name(s.stop_signal), done, o.steps, kStoppedExitCode);
    return;
  }
  fmt::print(stderr, "pp run: stopped by {} after step {} of {}; {} holds step {}: the same command with "
             "--resume continues (exit {})\n", signal_name(s.stop_signal), done, o.steps, o.save, done, kStoppedExitCode);
}

// Under srun, before MPI starts: the step's tasks against the plan. Task 0 throws the mismatches
// (one error); the other tasks return false and leave with the same exit code, silently.
bool slurm_allocation_matches(const RunOptions& o, const Plan& plan) {
  const std::optional<SlurmAllocation> slurm = read_slurm_allocation([](const char* name) { return std::getenv(name); });
  if (!slurm) return true;
  const std::vector<std::string> problems = allocation_mismatches(*slurm, plan, o.device == "cuda");
  if (problems.empty()) {
    if (slurm->task_id == 0 && !o.quiet && !o.json) {
      fmt::print(stderr, "pp run: Slurm job {}{}: {} tasks on {} node(s) match the plan\n", slurm->job_id,
                 slurm->restart_count > 0 ? fmt::format(" (requeued {} time(s))", slurm->restart_count) : "",
                 slurm->tasks, slurm->tasks_per_node.size());
    }
    return true;
  }
  if (slurm->task_id != 0) {
    deferred_exit_code() = exit_code(ErrorCategory::kInvalidInput);
    return false;
  }
  throw_invalid(fmt::format("the Slurm allocation does not match the plan {}: {}", o.plan, fmt::join(problems, "; ")));
}

nlohmann::ordered_json summary_json(const TrainSummary& s, const TimelineMetrics& measured,
                                    const TimelineMetrics& predicted, const Plan& plan) {
  const double tokens = double(plan.global_batch) * plan.seq_len;
  const double step_ms = mean_after_first(s.step_ms);
  nlohmann::ordered_json doc = {{"schema", "pp.run"},
                                {"version", 1},
                                {"first_step", s.first_step},
                                {"steps", s.first_step + static_cast<int>(s.losses.size())},
                                {"steps_run", s.losses.size()},
                                {"losses", s.losses},
                                {"final_loss", nullptr},
                                {"step_ms", s.step_ms},
                                {"mean_step_ms", nullptr},
                                {"tokens_per_s", nullptr},
                                {"peak_rss_bytes", s.peak_rss_bytes},
                                {"peak_device_bytes", nullptr},
                                {"checkpoints", s.weights},
                                {"stopped_by", s.stop_signal != 0 ? nlohmann::ordered_json(signal_name(s.stop_signal))
                                                                  : nlohmann::ordered_json()},
                                {"device", to_string(s.backend.device)},
                                {"transport", to_string(s.backend.transport)},
                                {"measured", nullptr},
                                {"predicted", metrics_to_json(predicted)}};
  if (s.backend.device == ComputeDevice::kCuda) doc["peak_device_bytes"] = s.peak_device_bytes;
  const Traffic& t = s.traffic_per_step;
  doc["communication"] = {{"message_bytes", s.message_bytes},
                          {"bytes_per_step_per_rank",
                           {{"pipeline", t.pipeline}, {"tensor", t.tensor}, {"data", t.data}, {"tied", t.tied},
                            {"total", t.total()}}}};
  if (!s.losses.empty()) {  // a resumed run already at --steps ran nothing: nothing made up
    doc["final_loss"] = s.losses.back();
    doc["mean_step_ms"] = step_ms;
    doc["tokens_per_s"] = tokens / (step_ms / 1e3);
    doc["measured"] = metrics_to_json(measured);
  }
  return doc;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Train a GPT-2 or Llama model under a plan (tp x pp x dp MPI ranks)");
  cmd->footer(kExamples);
  cmd->add_option("--plan", o->plan, "Plan written by pp plan -o")->required();
  cmd->add_option("--model", o->model,
                  "GPT-2 or Llama config.json, or a shipped name (default: the model config the plan carries)");
  cmd->add_option("--data", o->data, "Token file: uint16 ids, raw or with llm.c's header")->required();
  cmd->add_option("--steps", o->steps, "Optimizer steps in all")->capture_default_str()->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--lr", o->lr, "AdamW learning rate")->capture_default_str()->check(finite_in(0, 1e3));
  cmd->add_option("--beta1", o->beta1, "AdamW beta1, in [0, 1)")->capture_default_str()->check(finite_in(0, 0.999999));
  cmd->add_option("--beta2", o->beta2, "AdamW beta2, in [0, 1)")->capture_default_str()->check(finite_in(0, 0.999999999));
  cmd->add_option("--eps", o->eps, "AdamW epsilon (> 0)")->capture_default_str()->check(finite_in(1e-30, 1));
  cmd->add_option("--weight-decay", o->weight_decay, "AdamW weight decay (2-D weights only)")
      ->capture_default_str()
      ->check(finite_in(0, 1e3));
  cmd->add_option("--grad-clip", o->grad_clip, "Clip the global gradient norm to this; 0: off")
      ->capture_default_str()
      ->check(finite_in(0, 1e30));
  cmd->add_option("--init-seed", o->init_seed, "Seed of the fresh initialisation (GPT-2's or Llama's)")
      ->capture_default_str();
  cmd->add_option("--load", o->load, "Initial weights (safetensors with Hugging Face GPT-2 or Llama names)");
  cmd->add_option("--save", o->save, "Checkpoint to write (safetensors), atomically");
  cmd->add_option("--save-every", o->save_every, "Also write the checkpoint every N steps (needs --save)")
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_flag("--resume", o->resume, "Continue from --save when it exists (needs --save)");
  cmd->add_option("--trace", o->trace, "Write the measured timeline of the last step (Chrome/Perfetto)");
  cmd->add_flag("--json", o->json, "Print a JSON summary on stdout at the end");
  cmd->add_option("--summary", o->summary,
                  "Also write the JSON summary to this file, keeping the progress lines (batch jobs)");
  cmd->add_flag("--quiet", o->quiet, "No progress lines");
  cmd->add_option("--recv-lookahead", o->recv_lookahead, "Receives posted ahead of their use")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--watchdog-s", o->watchdog_s,
                  "End the job when a rank waits this long (seconds) for another; 0: never")
      ->capture_default_str()
      ->check(finite_in(0, 1e7) & CLI::Validator(
                                        [](std::string& text) -> std::string {
                                          const double x = number_in(text).value_or(0);
                                          return x == 0 || x >= 1 ? "" : "give 0 (off) or at least 1 second";
                                        },
                                        ""));
  cmd->add_option("--device", o->device,
                  "Where the model computes: cpu, cuda (new: not yet the default), or auto (the CPU in this version)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--transport", o->transport,
                  "How ranks exchange tensors: mpi (device memory staged through host memory), nccl (one rank "
                  "per GPU), or auto (nccl where every rank has its own GPU, else mpi)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "mpi", "nccl"}));
  cmd->add_option("--stop-signals", o->stop_signals,
                  "Signals that stop the run cleanly: every rank finishes its step, the --save checkpoint is "
                  "written, exit 7 (TERM, INT, HUP, USR1, USR2, XCPU; or none)")
      ->delimiter(',')
      ->capture_default_str()
      ->transform([](std::string name) {
        if (name.rfind("SIG", 0) == 0) name = name.substr(3);
        return name;
      })
      ->check(CLI::IsMember({"TERM", "INT", "HUP", "USR1", "USR2", "XCPU", "none"}));
  cmd->add_flag("--allow-tf32", o->allow_tf32, "CUDA: TF32 tensor cores for the fp32 matrix products (faster, ~1e-3 relative)");
  cmd->add_option("--precision", o->precision, "Arithmetic: fp32 (bf16 is not available yet)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->callback([o] { run_run(*o); });
}

void run_run(const RunOptions& o) {
  check_run_options(o);
  const Plan plan = load_plan(o.plan);
  if (!slurm_allocation_matches(o, plan)) return;
  mpi_initialize(nullptr, nullptr);
  std::unique_ptr<Transport> world = mpi_world();
  const int local_ranks = mpi_node_place().size;
  if (world->rank() == 0) warn_if_oversubscribed(local_ranks);
  TrainOptions t;
  t.plan = plan;
  t.model = o.model.empty() ? t.plan.model_config : load_model(o.model);
  t.data = o.data;
  t.steps = o.steps;
  t.adamw = {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
  t.grad_clip = o.grad_clip;
  t.init_seed = o.init_seed;
  t.load = o.load;
  t.save = o.save;
  t.save_every = o.save_every;
  t.resume = o.resume;
  t.recv_lookahead = o.recv_lookahead;
  t.progress = !o.quiet && !o.json;
  t.watchdog_s = o.watchdog_s;
  t.backend = {o.device, o.transport};
  t.allow_tf32 = o.allow_tf32;
  t.stop_signals = stop_signals_of(o.stop_signals);
  const TrainSummary summary = train(t, *world);
  if (world->rank() == 0) {
    const TimelineMetrics measured = compute_metrics(summary.last_step);
    const TimelineMetrics predicted = simulate_plan(t.plan).metrics;
    if (!o.trace.empty() && !summary.losses.empty()) write_file_atomically(o.trace, chrome_trace_json(summary.last_step, measured));
    if (o.json || !o.summary.empty()) {
      const std::string text = summary_json(summary, measured, predicted, t.plan).dump(2) + "\n";
      if (!o.summary.empty()) write_file_atomically(o.summary, text);
      if (o.json) std::cout << text;
    }
    if (!o.json && !o.quiet && !summary.losses.empty()) {
      print_comparison(t.plan, summary, measured, predicted);
    }
    if (summary.stop_signal != 0) report_stop(o, summary);
  }
  if (summary.stop_signal != 0) deferred_exit_code() = kStoppedExitCode;
  world.reset();
  mpi_finalize();
}

}  // namespace pp::cli
