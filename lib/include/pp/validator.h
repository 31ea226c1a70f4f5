#pragma once
// The schedule validator: the one place that decides whether a schedule is runnable.
//
// Checks, for lowered and unlowered schedules alike:
//   - fields in range (micro-batch, chunk, peer) and a placement that puts each stage once;
//   - every micro-batch runs forward exactly once per stage, and backward exactly once per stage
//     (one B, or one I followed by one W), on the rank that holds the stage, F before B/I before W;
//   - one STEP per rank, last; at most one REDUCE, after all compute and communication;
//   - lowered schedules: each cross-rank dependency has one send after its producer and one
//     receive before its consumer, on the right peers, and per ordered pair of ranks the sends and
//     the receives come in the same order (so an MPI or NCCL transport matches them in order);
//   - the schedule cannot deadlock when sends do not wait for their receiver (the transport
//     contract: MPI_Isend, or NCCL sends on their own stream).

#include <string>
#include <vector>

#include "pp/schedule.h"

namespace pp {

struct Violation {
  int rank = -1;  // -1 when the violation is not tied to one rank
  int step = -1;  // index into actions[rank]; -1 for "at the end of the list"
  std::string message;  // one line, names rank, step and action
};

struct ValidationReport {
  std::vector<Violation> violations;  // in the order found, at most kMaxViolations
  bool ok() const { return violations.empty(); }
};

inline constexpr int kMaxViolations = 20;

ValidationReport validate_schedule(const Schedule& schedule);

// Throws pp::Error(kInvalidInput) when the schedule is invalid: the first line names the first
// violation (and how many more there are); the grid of render_schedule_grid() follows.
void require_valid_schedule(const Schedule& schedule);

// A rank-by-step grid of the actions around (rank, step), the culprit in brackets ("[B3<r2]";
// "[end]" when the culprit is the end of the rank's list).
// Shows at most `context` steps either side and, for many ranks, the ranks near the culprit.
std::string render_schedule_grid(const Schedule& schedule, int rank, int step, int context = 6);

}  // namespace pp
