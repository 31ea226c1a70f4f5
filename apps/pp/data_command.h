#pragma once
// `pp data synth`: write a small synthetic token file for demos and tests.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace pp::cli {

struct DataSynthOptions {
  std::string out;
  std::int64_t tokens = 100000;
  int vocab = 512;
  std::uint64_t seed = 1;
  bool llmc_header = false;
};

void add_data_command(CLI::App& app);
void run_data_synth(const DataSynthOptions& options);

}  // namespace pp::cli
