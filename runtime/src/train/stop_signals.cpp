#include "train/stop_signals.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>

#include "pp/error.h"
#include "pp/runtime/trainer.h"

namespace pp {
namespace {

// One flag per signal number: set by the handler (async-signal-safe: a lock-free atomic store).
constexpr int kMaxSignal = 65;
std::atomic<bool> received_flags[kMaxSignal];
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void record_signal(int signal) {
  if (signal > 0 && signal < kMaxSignal) received_flags[signal].store(true, std::memory_order_relaxed);
}

}  // namespace

StopSignals::StopSignals(const std::vector<int>& signals) : signals_(signals), previous_(signals.size()) {
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    const int signal = signals_[i];
    if (signal <= 0 || signal >= kMaxSignal) throw Error(ErrorCategory::kInternal, fmt::format("signal {}", signal));
    received_flags[signal].store(false);
    struct sigaction action {};
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // blocking calls go on; the step finishes
    sigaction(signal, &action, &previous_[i]);
  }
}

StopSignals::~StopSignals() {
  for (std::size_t i = 0; i < signals_.size(); ++i) sigaction(signals_[i], &previous_[i], nullptr);
}

int StopSignals::agreed(Transport& world) const {
  if (signals_.empty()) return 0;
  std::vector<double> counts(signals_.size());
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    counts[i] = received_flags[signals_[i]].load(std::memory_order_relaxed) ? 1 : 0;
  }
  world.allreduce_sum(counts.data(), counts.size());
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    if (counts[i] > 0) return signals_[i];
  }
  return 0;
}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signal);
}

}  // namespace pp
