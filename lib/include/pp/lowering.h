#pragma once
// Lowering: inserts the point-to-point communication into a schedule of compute actions.
//
// After each F whose next stage lives on another rank comes a SEND_F to that rank; after each B/I
// whose previous stage lives on another rank, a SEND_B. Receives are placed where the data is
// consumed, except that per ordered pair of ranks the receives are put in the order of the sends:
// the receive of message i goes before the earliest consumer of messages i, i+1, ... . Matching
// in order is what MPI (per source and tag) and NCCL (per peer) do, so no tags are needed and a
// transport whose sends never wait for their receiver (MPI's isend) cannot deadlock. Rendezvous
// sends issued in list order (NCCL) can, for some schedules: see issue_order.h. Dependencies
// between chunks of the same rank need no message.

#include "pp/schedule.h"

namespace pp {

// Precondition: `schedule` has no send/recv actions and passes validate_schedule() (checked:
// throws pp::Error(kInvalidInput) with the validator's report otherwise).
Schedule lower_communication(const Schedule& schedule);

}  // namespace pp
