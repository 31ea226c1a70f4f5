#pragma once
// `pp run`: train a GPT-2 model under a plan, one MPI rank per pipeline stage and replica.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pp::cli {

struct RunOptions {
  std::string plan;
  std::string model;  // default: the plan's model
  std::string data;
  int steps = 10;
  double lr = 6e-4, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
  double grad_clip = 1.0;
  std::uint64_t init_seed = 1337;
  std::string load, save;
  int save_every = 0;
  bool resume = false;
  std::string trace;
  bool json = false;
  std::string summary;  // --summary: the JSON summary written to this file as well
  bool quiet = false;
  int recv_lookahead = 8;
  double watchdog_s = 600;
  std::string device = "auto";
  std::string transport = "auto";
  bool allow_tf32 = false;
  std::string precision = "fp32";
  std::vector<std::string> stop_signals = {"TERM", "USR1"};  // names without SIG; "none": no handlers
};

void add_run_command(CLI::App& app);
void run_run(const RunOptions& options);

}  // namespace pp::cli
