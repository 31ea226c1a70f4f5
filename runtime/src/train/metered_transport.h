#pragma once
// Internal to pp::runtime: a transport that counts the bytes this rank puts on the wire, so a run
// can report its communication volume per step beside the plan's prediction.
//
// The count follows the ring algorithms' per-rank traffic (nccl-tests' bus-bandwidth convention):
// a send of S bytes counts S (a receive 0); an all-reduce of S bytes over p ranks 2(p-1)/p·S; an
// all-gather or reduce-scatter whose whole is S bytes (p-1)/p·S. Broadcasts, gathers of bytes and
// barriers (start-up and checkpoints, not steps) are not counted.
#include <memory>

#include "pp/runtime/transport.h"

namespace pp {

// `bytes` (outliving the transport) grows by each operation's count; groups split from it count
// into the same total.
std::unique_ptr<Transport> metered(std::unique_ptr<Transport> inner, double* bytes);

}  // namespace pp
