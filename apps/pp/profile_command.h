#pragma once
// `pp profile`: measure each layer on this machine and write the profile `pp plan --profile` reads.

#include <CLI/CLI.hpp>

#include <string>

namespace pp::cli {

struct ProfileOptions {
  std::string model;
  int microbatch_size = 1;
  int seq_len = 64;
  int repeats = 5;
  std::string output = "-";
  std::string device = "cpu";
  bool allow_tf32 = false;
};

void add_profile_command(CLI::App& app);
void run_profile(const ProfileOptions& options);

}  // namespace pp::cli
