#pragma once
// Internal to pp::runtime: a run stops cleanly on a signal (SIGTERM when a Slurm job is
// preempted or reaches its time limit, SIGUSR1 from `#SBATCH --signal=USR1@120` or
// `scancel --signal=USR1`). The handler only records the signal; the trainer asks every rank at
// the end of each step whether any of them received one, so that all finish the same step,
// write the checkpoint and stop together (exit 7 in pp run).

#include <csignal>
#include <string>
#include <vector>

#include "pp/runtime/transport.h"

namespace pp {

class StopSignals {
 public:
  // Installs handlers for `signals` (signal numbers; none: nothing is installed), restored by the
  // destructor. One instance at a time.
  explicit StopSignals(const std::vector<int>& signals);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Collective over `world`: a signal some rank received (the first in `signals`' order that any
  // rank received), or 0 when none did; every rank gets the same answer. Without handlers, 0
  // without communicating.
  int agreed(Transport& world) const;

 private:
  std::vector<int> signals_;
  std::vector<struct sigaction> previous_;
};

}  // namespace pp
