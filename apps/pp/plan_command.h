#pragma once
// `pp plan`: choose the training layout for a model on a cluster, and explain the choice.

#include <CLI/CLI.hpp>

#include <string>

#include "check_flags.h"

namespace pp::cli {

struct PlanOptions {
  std::string model;
  std::string cluster = "dgx-h100";
  int gpus = 0;
  int global_batch = 0;
  int seq_len = 0;  // 0: the model's positions, capped (plan_command.cpp)
  // Fixed choices: a number (or a schedule name), or "auto".
  std::string tp = "auto", cp = "auto", pp = "auto", dp = "auto", microbatch_size = "auto",
              microbatches = "auto", schedule = "auto", virtual_stages = "auto",
              ckpt_interval = "auto";
  double mem_limit_gib = 0;  // 0: the GPU's memory less a reserve
  std::string profile;
  bool shard_optimizer = false;
  bool no_sequence_parallel = false;
  bool no_flash_attention = false;
  bool no_dp_overlap = false;
  int top = 5;
  std::string output;
  bool json = false;
  bool show_profile = false;
  bool show_kernels = false;
  bool dropout = false;
  std::string selective_recompute = "auto";
  std::string distributed_optimizer = "auto";  // auto | on | off
  std::string tp_overlap = "auto";             // auto | on | off
  std::string grad_dtype = "fp32";             // main gradients: fp32 | bf16
  std::string precision = "bf16";              // the blocks' linear GEMMs: bf16 | fp8
  PlanCheckOptions gate;                       // --check and its rules
};

void add_plan_command(CLI::App& app);
void run_plan(const PlanOptions& options);

}  // namespace pp::cli
