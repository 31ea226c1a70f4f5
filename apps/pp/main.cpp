// pp: plan, simulate and run pipeline-parallel training of transformer models.
// main() is the one place that catches pp::Error: it prints "error: <message>" and exits with the
// category's code (docs/exit-codes.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <exception>
#include <new>
#include <string>
#include <vector>

#include "pp/error.h"
#include "pp/runtime/devices.h"
#include "data_command.h"
#include "exit_status.h"
#include "plan_command.h"
#include "profile_command.h"
#include "pp/runtime/mpi_transport.h"
#include "run_command.h"
#include "simulate_command.h"

namespace {

std::string version_text() {
  const pp::DeviceReport devices = pp::probe_devices();
  // Without a GPU the CUDA runtime's reason reads like a broken driver ("CUDA driver version is
  // insufficient"); say what it means.
  const std::string detail = devices.cuda_built && devices.cuda_devices == 0
                                 ? std::string("no GPU found (pp runs on the CPU)")
                                 : devices.detail;
  return fmt::format("pp {}\nCUDA backend: {}\ndevices: {}", PP_VERSION,
                     devices.cuda_built ? "built" : "not built", detail);
}

// CLI11 answers `pp show` or `pp data bogus` with only "A subcommand is required". Walks the
// leading words of the command line and throws pp::Error naming the first one that is not a
// subcommand where one is required, with the known ones.
void check_subcommand_words(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  std::string path = "pp";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return;
    const auto all = current->get_subcommands([](CLI::App*) { return true; });
    CLI::App* next = nullptr;
    std::vector<std::string> known;
    for (CLI::App* sub : all) {
      known.push_back(sub->get_name());
      if (sub->check_name(word)) next = sub;
    }
    if (next == nullptr) {
      if (current->get_require_subcommand_min() == 0) return;
      pp::throw_invalid(fmt::format("'{} {}' is not a command (known: {}; see {} --help)", path,
                                    word, fmt::join(known, ", "), path));
    }
    current = next;
    path += " " + word;
  }
}

// The top level's footer. Set after the subcommands are added: CLI11 copies a parent's footer
// into subcommands made later, and each subcommand has its own examples.
constexpr const char* kFooter = R"(
Examples:
  pp simulate --stages 4 --microbatches 8 --schedule 1f1b
  pp simulate --compare --stages 8 --microbatches 8,16,32 --schedule all
  pp plan --model llama3-70b --cluster dgx-h100 --gpus 512 --global-batch 1024 --seq-len 4096
  mpirun -np 4 pp run --plan plan.json --data tokens.bin --steps 50
  pp simulate --help
  pp plan --help

Exit codes: 0 ok, 1 internal error, 2 invalid input, 3 infeasible, 4 file I/O error,
5 training failed (pp run: divergence, or a rank stopped making progress), 6 a --check rule
violated (docs/ci.md), 7 pp run stopped by a signal after writing its checkpoint (requeue it).
docs/exit-codes.md.)";

// Prints the error; under MPI with several ranks, ends the whole job so that no rank hangs
// waiting for this one.
int fail(const std::string& message, int code) {
  const int rank = pp::mpi_world_rank();
  const int ranks = pp::mpi_world_size();
  if (ranks > 1) {
    fmt::print(stderr, "error: rank {}: {}\n", rank, message);
    pp::mpi_abort(code);
  }
  fmt::print(stderr, "error: {}\n", message);
  pp::mpi_finalize();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pp: plan, simulate and run pipeline-parallel training of transformer models"};
  app.set_version_flag("--version", version_text);
  app.require_subcommand(1);
  pp::cli::add_simulate_command(app);
  pp::cli::add_plan_command(app);
  pp::cli::add_run_command(app);
  pp::cli::add_data_command(app);
  pp::cli::add_profile_command(app);
  app.footer(kFooter);
  try {
    check_subcommand_words(app, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "error: {} (see pp --help)\n", e.what());
    return pp::exit_code(pp::ErrorCategory::kInvalidInput);
  } catch (const pp::Error& e) {
    return fail(e.what(), pp::exit_code(e.category()));
  } catch (const std::bad_alloc&) {
    // The request needs more memory than this machine (or its limit, ulimit -v) allows: a request
    // too large, not a bug (docs/exit-codes.md).
    return fail("out of memory: the request is too large for this machine's memory (use fewer "
                "stages, micro-batches or layers)",
                pp::exit_code(pp::ErrorCategory::kInvalidInput));
  } catch (const std::exception& e) {
    return fail(std::string("internal: ") + e.what(), pp::exit_code(pp::ErrorCategory::kInternal));
  }
  pp::mpi_finalize();
  return pp::cli::deferred_exit_code();
}
