#pragma once
// Discrete-event simulation of a lowered schedule under a cost model.
//
// Each rank has a compute lane that runs its actions in list order: F, B, I, W, REDUCE and STEP
// take their cost-model duration; a RECV waits until its message has arrived. Sends do not block
// the compute lane: a transfer starts when its data is ready and the link to that peer is free
// (one transfer at a time per direction and pair), and arrives transfer_ms later. So
// communication overlaps compute, as with receives posted ahead and non-blocking sends.

#include "pp/planner/cost_model.h"
#include "pp/schedule.h"
#include "pp/timeline.h"

namespace pp {

// Preconditions: `schedule` is lowered and valid (validate_schedule), `costs` covers its stages.
// Every action yields one TimelineEvent; a send and its receive share a flow id.
Timeline simulate(const Schedule& schedule, const CostModel& costs);

}  // namespace pp
