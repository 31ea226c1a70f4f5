#include "run_command.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "pp/file_io.h"
#include "pp/planner/plan_simulation.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/trainer.h"
#include "pp/timeline_json.h"
#include "pp/timeline_render.h"

namespace pp::cli {
namespace {

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

One rank per pipeline stage times data-parallel replicas (world rank = stage x dp + replica).
The global batch of step t is the B windows of T+1 tokens starting at token (t*B + i)*T,
wrapping at the end of the file (docs/run.md). Exit codes: 0 trained; 2 invalid input (rank
count, plan, data, checkpoint); 4 a file cannot be read or written; 1 internal error.)";

double mean_after_first(const std::vector<double>& values) {
  if (values.size() <= 1) return values.empty() ? 0 : values.front();
  return std::accumulate(values.begin() + 1, values.end(), 0.0) / double(values.size() - 1);
}

void print_comparison(const Plan& plan, const TrainSummary& s, const TimelineMetrics& measured,
                      const TimelineMetrics& predicted) {
  fmt::print("\nmeasured (last step) against predicted ({}):\n", plan.profile.empty() ? "plan" : plan.profile);
  fmt::print("  step time    {:>10.2f} ms measured (mean after the first)  {:>10.2f} ms predicted\n",
             mean_after_first(s.step_ms), predicted.makespan_ms);
  fmt::print("  bubble       {:>9.1f}%  measured                      {:>9.1f}%  predicted\n",
             100 * measured.bubble_fraction, 100 * predicted.bubble_fraction);
  for (std::size_t r = 0; r < measured.ranks.size() && r < predicted.ranks.size(); ++r) {
    fmt::print("    rank {:>3}  {:>9.1f}%                                {:>9.1f}%\n", r,
               100 * measured.ranks[r].bubble_fraction, 100 * predicted.ranks[r].bubble_fraction);
  }
  fmt::print("  peak memory  {:>10.1f} MiB RSS measured (largest rank)  {:>10.1f} MiB predicted\n",
             s.peak_rss_bytes / kMiB, plan.predicted.peak_memory_bytes / kMiB);
}

nlohmann::ordered_json summary_json(const TrainSummary& s, const TimelineMetrics& measured,
                                    const TimelineMetrics& predicted, const Plan& plan) {
  const double tokens = double(plan.global_batch) * plan.seq_len;
  const double step_ms = mean_after_first(s.step_ms);
  return {{"schema", "pp.run"},
          {"version", 1},
          {"first_step", s.first_step},
          {"steps", s.first_step + static_cast<int>(s.losses.size())},
          {"losses", s.losses},
          {"final_loss", s.losses.empty() ? 0.0 : s.losses.back()},
          {"step_ms", s.step_ms},
          {"mean_step_ms", step_ms},
          {"tokens_per_s", step_ms > 0 ? tokens / (step_ms / 1e3) : 0.0},
          {"peak_rss_bytes", s.peak_rss_bytes},
          {"checkpoints", s.weights},
          {"measured", metrics_to_json(measured)},
          {"predicted", metrics_to_json(predicted)}};
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Train a GPT-2 model under a plan (one MPI rank per stage and replica)");
  cmd->footer(kExamples);
  cmd->add_option("--plan", o->plan, "Plan written by pp plan -o")->required();
  cmd->add_option("--model", o->model, "GPT-2 config.json or shipped name (default: the plan's model)");
  cmd->add_option("--data", o->data, "Token file: uint16 ids, raw or with llm.c's header")->required();
  cmd->add_option("--steps", o->steps, "Optimizer steps in all")->capture_default_str()->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--lr", o->lr, "AdamW learning rate")->capture_default_str();
  cmd->add_option("--beta1", o->beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--beta2", o->beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--eps", o->eps, "AdamW epsilon")->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "AdamW weight decay (2-D weights only)")->capture_default_str();
  cmd->add_option("--grad-clip", o->grad_clip, "Clip the global gradient norm to this; 0: off")->capture_default_str();
  cmd->add_option("--init-seed", o->init_seed, "Seed of the fresh GPT-2 initialisation")->capture_default_str();
  cmd->add_option("--load", o->load, "Initial weights (safetensors with Hugging Face GPT-2 names)");
  cmd->add_option("--save", o->save, "Checkpoint to write (safetensors), atomically");
  cmd->add_option("--save-every", o->save_every, "Also write the checkpoint every N steps")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--resume", o->resume, "Continue from --save when it exists");
  cmd->add_option("--trace", o->trace, "Write the measured timeline of the last step (Chrome/Perfetto)");
  cmd->add_flag("--json", o->json, "Print a JSON summary on stdout at the end");
  cmd->add_flag("--quiet", o->quiet, "No progress lines");
  cmd->add_option("--recv-lookahead", o->recv_lookahead, "Receives posted ahead of their use")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->callback([o] { run_run(*o); });
}

void run_run(const RunOptions& o) {
  mpi_initialize(nullptr, nullptr);
  std::unique_ptr<Transport> world = mpi_world();
  TrainOptions t;
  t.plan = load_plan(o.plan);
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
  const TrainSummary summary = train(t, *world);
  if (world->rank() == 0) {
    const TimelineMetrics measured = compute_metrics(summary.last_step);
    const TimelineMetrics predicted = simulate_plan(t.plan).metrics;
    if (!o.trace.empty()) write_file_atomically(o.trace, chrome_trace_json(summary.last_step, measured));
    if (o.json) {
      std::cout << summary_json(summary, measured, predicted, t.plan).dump(2) << "\n";
    } else if (!o.quiet) {
      print_comparison(t.plan, summary, measured, predicted);
    }
  }
  world.reset();
  mpi_finalize();
}

}  // namespace pp::cli
