#pragma once
// Internal to pp::core: the data dependencies between the actions of a schedule, shared by the
// validator and the lowering pass.
//
// A message is identified by its MessageKey: the kind of data (activation or gradient), the
// micro-batch, and the stage that consumes it. An activation for stage v comes from stage v-1;
// a gradient for stage v comes from stage v+1.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pp/schedule.h"

namespace pp {

using MessageKey = std::int64_t;

// Index of ordered pairs (src, dst) of ranks, dense from 0.
class PairIndex {
 public:
  int id(int src, int dst);  // creates the id on first use
  int size() const { return static_cast<int>(pairs_.size()); }
  std::pair<int, int> pair(int id) const { return pairs_[id]; }

 private:
  std::unordered_map<std::int64_t, int> ids_;
  std::vector<std::pair<int, int>> pairs_;
};

struct MessageEnd {
  std::string error;  // non-empty when the action cannot be a valid message end
  int src = -1;
  int dst = -1;
  MessageKey key = -1;
};

struct Located {
  int rank = -1;
  int step = -1;
  std::string what;
};

// The cross-rank inputs of a compute action, if any: the message it consumes.
// Returns false when the action consumes nothing from another rank.
bool consumed_message(const Schedule& s, const StageMap& map, int rank, const Action& a,
                      MessageEnd* message);
// The message a compute action produces for another rank, if any.
bool produced_message(const Schedule& s, const StageMap& map, int rank, const Action& a,
                      MessageEnd* message);

std::string message_label(const Schedule& s, MessageKey key);

// The sends and receives of a lowered schedule, per message and per ordered pair of ranks.
class MessageTable {
 public:
  MessageTable(const Schedule& s, const StageMap& map);

  // Where a send/recv action's message goes and its key; error set when the peer or the stage is
  // wrong for it.
  MessageEnd describe(int rank, const Action& a) const;
  // Records the send/recv at (rank, step); false when that message already has one.
  bool count(int rank, int step, const Action& a);
  // Cross-rank dependencies that have no send or no receive (at most a few).
  std::vector<Located> missing_messages() const;
  // The first place where a pair's receives are not in the order of its sends; rank -1 if none.
  Located first_order_mismatch() const;

 private:
  struct Entry {
    MessageKey key;
    int rank;
    int step;
  };
  std::size_t slot(MessageKey key) const { return static_cast<std::size_t>(key); }

  const Schedule& s_;
  const StageMap& map_;
  std::vector<std::uint8_t> sent_, received_;
  PairIndex pairs_;
  std::vector<std::vector<Entry>> sends_by_pair_, recvs_by_pair_;
};

struct Blocked {
  int rank;
  int step;
};

// Runs the schedule with unit costs and non-blocking sends; returns the ranks that never finish
// and the step each is stuck at (empty when the schedule completes). Precondition: the schedule
// passed the validator's structural, coverage and communication checks.
std::vector<Blocked> find_deadlock(const Schedule& s, const StageMap& map);

}  // namespace pp
