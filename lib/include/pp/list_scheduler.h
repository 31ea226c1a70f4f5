#pragma once
// A greedy list scheduler: builds a schedule by playing it out in time. Each rank, whenever it is
// free, starts the most urgent action whose input has arrived:
//   1. a backward (B, or I when the backward is split): the oldest micro-batch first, then the
//      deepest stage; it is on the critical path back to the first stage;
//   2. a forward, if memory allows: the oldest micro-batch first, then the deepest stage (so
//      micro-batches reach the last stage, and turn, soon);
//   3. a deferred weight gradient W (oldest first), which frees that micro-batch's activations.
// A W also goes first when a forward is held back by the memory limit.
//
// Memory, two ways, each played out: (a) a micro-batch's first forward on a rank reserves all its
// chunks there (one whole stage's activations) and is held back while that would pass the rank's
// limit; each chunk's share is freed when its W (or B) starts. The peak never passes the limit,
// and the play-out never stalls: the oldest unfinished micro-batch always fits (every micro-batch
// that entered a rank before it is done). (b) any forward that keeps the live activations within
// the limit goes, and the oldest micro-batch always may; kept only if the peak stayed within.
// Each way is also played with W straight after its I, and with forwards before backwards; the
// shortest play-out (then the shortest longest rank span) wins. A limit under one micro-batch is
// taken as one.
//
// Every stage runs its micro-batches in order (F, then B/I, then W each in micro-batch order), as
// every catalogue schedule does. The resulting per-rank order is valid and deadlock-free by
// construction (it was executed); the costs only steer the order, they are not kept.
//
// Zero-bubble (ZB-H2), V-shape (ZB-V, V-Half, V-Min) and interleaved zero-bubble schedules are
// this scheduler run on unit costs with the memory limit each paper states; `pp simulate
// --schedule auto` runs it on the user's own costs (planner/schedule_search.h).

#include <vector>

#include "pp/schedule.h"

namespace pp {

struct ListScheduleRequest {
  std::string name;
  int ranks = 1;            // K
  int microbatches = 1;     // M
  int chunks_per_rank = 1;  // V
  std::vector<std::vector<int>> placement;  // placement[rank][chunk] = virtual stage
  bool split_backward = true;               // emit I and W rather than B
  // Per virtual stage (size K*V), in any consistent unit of time: forward, input-gradient and
  // weight-gradient durations (a full backward B lasts input_grad + weight_grad).
  std::vector<double> forward;
  std::vector<double> input_grad;
  std::vector<double> weight_grad;
  double p2p = 0;  // transfer time of one message between two ranks (0 on the same rank)
  // Per rank (size K): the most live activations, in micro-batches of a whole rank's stage (a
  // chunk counts 1/V), from a forward's start to its W's (or B's) end. <= 0: no limit.
  std::vector<double> memory_limit;
};

// The compute actions (plus REDUCE and STEP per rank) in the order the greedy play-out ran them.
// Preconditions: sizes as above, costs finite and non-negative, the placement a permutation.
Schedule list_schedule(const ListScheduleRequest& request);

}  // namespace pp
