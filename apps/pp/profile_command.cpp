#include "profile_command.h"

#include <fmt/format.h>

#include <memory>

#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/runtime/layer_profiler.h"

namespace pp::cli {

void add_profile_command(CLI::App& app) {
  auto o = std::make_shared<ProfileOptions>();
  CLI::App* cmd = app.add_subcommand("profile", "Measure each layer here and write a profile for pp plan --profile");
  cmd->footer(R"(
Examples:
  pp profile --model gpt2-tiny --microbatch-size 2 --seq-len 64 -o profile.json
  pp profile --model llama-tiny --microbatch-size 2 --seq-len 64 -o llama.json
  pp plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 \
          --tp 1 --profile profile.json
  pp profile --model gpt2-124m --device cuda --microbatch-size 8 --seq-len 1024 -o h100.json

Times are medians of --repeats runs after a warm-up, on one CPU process (OpenBLAS, float32) or
on GPU 0 (--device cuda: pp run's CUDA layers, each call timed between synchronisations);
activation bytes are what the stage holds between a micro-batch's forward and its backward.
The profile names the device it was measured on.
Format: docs/profile-format.md. Exit codes: 0 written; 2 invalid input; 4 file I/O error.)");
  cmd->add_option("--model", o->model, "GPT-2 or Llama config.json, or a shipped name")->required();
  cmd->add_option("--microbatch-size", o->microbatch_size, "Sequences per micro-batch")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--seq-len", o->seq_len, "Tokens per sequence")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--repeats", o->repeats, "Timed repeats per layer")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("-o,--output", o->output, "Profile file to write (- for stdout)")->capture_default_str();
  cmd->add_option("--device", o->device, "Measure on the cpu or on GPU 0 (cuda)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_flag("--allow-tf32", o->allow_tf32, "cuda: TF32 tensor cores for the fp32 matrix products");
  cmd->callback([o] { run_profile(*o); });
}

void run_profile(const ProfileOptions& o) {
  check_output_paths({{"-o", o.output}}, {{"--model", o.model}});  // before the measurement, not after
  const ModelConfig model = load_model(o.model);
  if (const std::string gap = runtime_model_gap(model); !gap.empty()) throw_invalid("--model: " + gap);
  if (model.family != ModelFamily::kGpt2 && o.device == "cuda") {
    throw_invalid(fmt::format("--model: pp's CUDA layers are GPT-2's in this version and {} is a Llama model: "
                              "profile it with --device cpu, or plan it with pp plan's analytic cost model",
                              model.name));
  }
  if (o.allow_tf32 && o.device != "cuda") throw_invalid("--allow-tf32 applies to --device cuda");
  ProfilerOptions options;
  options.microbatch_size = o.microbatch_size;
  options.seq_len = o.seq_len;
  options.repeats = o.repeats;
  options.device = o.device;
  options.allow_tf32 = o.allow_tf32;
  const MeasuredProfile profile = profile_layers(model, options);
  write_file_atomically(o.output, profile_to_json_text(profile));
  if (o.output != "-") fmt::print(stderr, "wrote profile of {} layers to {}\n", profile.layers.size(), o.output);
}

}  // namespace pp::cli
