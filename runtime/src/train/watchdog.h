#pragma once
// Internal to pp::runtime: ends a job in which a rank stops making progress, instead of letting
// every other rank wait for it forever (a rank stopped with SIGSTOP, a hung node, a lost message).
//
// Blocking transport calls are watched: WatchedTransport tells the Watchdog when a call starts
// waiting and when it returns. When one call waits longer than the limit, the watchdog's thread
// prints "error: rank R: no progress for N s: waiting for <what> ..." naming the group and the
// peer it waits for, and ends the whole job with exit code 5 (MPI_Abort). Compute is never timed:
// a slow layer is not a stuck rank. Nor is set-up or checkpoint writing (rank 0 reading the whole
// token file, or writing every rank's tensors, while the others wait for it): the trainer arms
// the watchdog for the steps only.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pp/runtime/transport.h"

namespace pp {

class Watchdog {
 public:
  // limit_s <= 0 turns the watchdog off (no thread). world_rank names this rank in the message.
  Watchdog(double limit_s, int world_rank);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // A blocking call starts: `what` says what it waits for, in words ("a message from pipeline
  // stage 2", "the gradient all-reduce over the data-parallel group").
  void waiting(std::string what);
  // The blocking call returned.
  void progressed();
  // Only an armed watchdog times waits (it starts disarmed).
  void arm(bool armed);

 private:
  void watch();

  double limit_s_;
  int world_rank_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool waiting_ = false;
  bool armed_ = false;
  std::string what_;
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

// Wraps `inner` so that its blocking calls (wait, the collectives, split, gather) report to `dog`.
// `group` names the group in messages ("pipeline", "data-parallel", "tied-embedding", "world");
// `peer_name` names a peer rank of it ("pipeline stage", "replica", "rank").
std::unique_ptr<Transport> watched(std::unique_ptr<Transport> inner, Watchdog* dog, std::string group,
                                   std::string peer_name);
// The same over a transport the caller keeps owning (it must outlive the wrapper).
std::unique_ptr<Transport> watched(Transport& inner, Watchdog* dog, std::string group, std::string peer_name);

}  // namespace pp
