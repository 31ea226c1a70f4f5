#pragma once
// `pp simulate`: show what a pipeline schedule does over time.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "check_flags.h"

namespace pp::cli {

struct SimulateOptions {
  int stages = 4;
  std::vector<int> microbatches = {8};
  std::vector<std::string> schedules = {"1f1b"};
  int virtual_stages = 1;
  std::vector<double> fwd_ms = {1.0};
  std::vector<double> bwd_ms = {2.0};
  std::vector<double> wgrad_ms;  // empty: half of bwd_ms
  std::vector<double> p2p_ms = {0.0};
  double reduce_ms = 0;
  double optimizer_ms = 0;
  double memory_limit = 0;  // --schedule auto: micro-batches alive per rank; 0: K
  std::string schedule_file;
  std::string plan;
  std::string save_schedule;
  std::string trace;
  std::string svg;
  bool json = false;
  bool compare = false;
  bool no_color = false;
  int width = 0;  // 0: the terminal's
  TimelineCheckOptions gate;  // --check and its rules
};

void add_simulate_command(CLI::App& app);
void run_simulate(const SimulateOptions& options);

}  // namespace pp::cli
