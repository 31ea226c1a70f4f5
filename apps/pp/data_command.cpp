#include "data_command.h"

#include <fmt/format.h>

#include <memory>

#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/runtime/token_data.h"

namespace pp::cli {

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Token data for pp run");
  data->require_subcommand(1);
  data->footer(R"(
Examples:
  pp data synth --out tokens.bin --tokens 200000 --vocab 512
  pp data synth --help

Subcommands: synth writes a small learnable synthetic token file.)");
  auto o = std::make_shared<DataSynthOptions>();
  CLI::App* synth = data->add_subcommand("synth", "Write a small learnable synthetic token file");
  synth->footer(R"(
Examples:
  pp data synth --out tokens.bin --tokens 200000 --vocab 512
  pp data synth --out tokens.bin --tokens 1000000 --vocab 50257 --llmc-header

The file holds uint16 token ids (raw, as nanoGPT writes them, or after llm.c's 256-int32 header):
short random "sentences" from a fixed set, repeated, so a model's loss falls within a few dozen
steps. Exit codes: 0 written; 2 invalid input; 4 the file cannot be written.)");
  synth->add_option("--out", o->out, "File to write")->required();
  synth->add_option("--tokens", o->tokens, "Tokens in the file")->capture_default_str()->check(CLI::Range(std::int64_t{2}, std::int64_t{1} << 34));
  synth->add_option("--vocab", o->vocab, "Token ids are below this")->capture_default_str()->check(CLI::Range(2, 65536));
  synth->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  synth->add_flag("--llmc-header", o->llmc_header, "Write llm.c's 256-int32 header first");
  synth->callback([o] { run_data_synth(*o); });
}

void run_data_synth(const DataSynthOptions& o) {
  // The file is binary (uint16 tokens) and is written by renaming a temporary file into place,
  // which standard output cannot do: "-" would otherwise become a file named "-".
  if (o.out == "-") {
    throw_invalid("--out: give a file name (pp data synth does not write binary tokens to "
                  "standard output)");
  }
  check_output_paths({{"--out", o.out}});
  write_synthetic_tokens(o.out, o.tokens, o.vocab, o.seed, o.llmc_header);
  fmt::print(stderr, "wrote {} tokens below {} to {}\n", o.tokens, o.vocab, o.out);
}

}  // namespace pp::cli
