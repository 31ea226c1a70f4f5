#pragma once
// Whether a lowered schedule completes under NCCL's point-to-point semantics, where each rank
// issues its sends and receives in the list's order on one stream, each run of consecutive
// communication actions as one group, and a group finishes only when every operation in it has
// met its partner (a send waits for its receive: rendezvous, not buffered). A group starts once
// the rank's earlier groups have finished. MPI's sends never wait for their receiver, so every
// valid lowered list completes over MPI; over NCCL some do not (interleaved 1F1B's, where two
// ranks each wait in a group for a send the other issues only in its next group).

#include <string>

#include "pp/schedule.h"

namespace pp {

struct IssueOrderVerdict {
  bool completes = true;
  std::string stuck;  // when not: the first rank's waiting group, e.g. "rank 0 waits in [SEND ...]"
};

// Precondition: `lowered` came from lower_communication (sends and receives matched in order).
IssueOrderVerdict check_grouped_rendezvous(const Schedule& lowered);

}  // namespace pp
