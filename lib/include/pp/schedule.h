#pragma once
// The schedule IR: a pipeline schedule as plain data.
//
// A schedule runs M micro-batches through S = K * V virtual stages placed on K ranks, V model
// chunks per rank. For each rank it is an ordered list of actions. Generators emit compute actions
// (F, B, I, W) and the step-end actions; lower_communication() (lowering.h) inserts the sends and
// receives. The same list is consumed by the simulator and by the executor.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pp {

enum class ActionKind : std::uint8_t {
  kForward,          // F: forward of (micro-batch, chunk)
  kBackward,         // B: full backward (input and weight gradients)
  kBackwardInput,    // I: input-gradient part of a split backward
  kBackwardWeight,   // W: weight-gradient part of a split backward
  kSendActivation,   // SEND_F: send F's output to the rank of the next stage
  kRecvActivation,   // RECV_F: receive the input of F from the previous stage's rank
  kSendGradient,     // SEND_B: send B/I's input gradient to the previous stage's rank
  kRecvGradient,     // RECV_B: receive the output gradient of B/I from the next stage's rank
  kReduceGradients,  // REDUCE: step-end gradient reductions (data-parallel, tied embeddings)
  kOptimizerStep,    // STEP: one optimizer step per global batch
};

inline constexpr int kActionKindCount = 10;

struct Action {
  ActionKind kind = ActionKind::kForward;
  std::int32_t microbatch = -1;  // 0..M-1; -1 for step-end actions
  std::int16_t chunk = 0;        // local model chunk on the rank, 0..V-1
  std::int32_t peer = -1;        // the other rank of a send/recv; -1 otherwise

  friend bool operator==(const Action& a, const Action& b) {
    return a.kind == b.kind && a.microbatch == b.microbatch && a.chunk == b.chunk &&
           a.peer == b.peer;
  }
};

bool is_compute(ActionKind kind);      // F, B, I, W
bool is_backward_part(ActionKind kind);  // B or I: produces the input gradient
bool is_send(ActionKind kind);
bool is_recv(ActionKind kind);
bool is_comm(ActionKind kind);
bool is_step_end(ActionKind kind);

// The file-format name of a kind: "F", "B", "I", "W", "SEND_F", "RECV_F", "SEND_B", "RECV_B",
// "REDUCE", "STEP". parse_action_kind() returns false for an unknown name.
std::string_view action_kind_name(ActionKind kind);
bool parse_action_kind(std::string_view name, ActionKind* kind);

// A compact label for grids and charts: "F3", "F3.1" (chunk 1 when V > 1), "F3>r1" (send to
// rank 1), "B3<r2" (receive from rank 2), "REDUCE", "STEP".
std::string action_label(const Action& action, int chunks_per_rank);

struct Schedule {
  std::string name;
  int ranks = 0;            // K
  int microbatches = 0;     // M
  int chunks_per_rank = 1;  // V
  // placement[rank][chunk] = the virtual stage (0..K*V-1) that the chunk holds.
  std::vector<std::vector<int>> placement;
  // actions[rank] = that rank's actions in execution order.
  std::vector<std::vector<Action>> actions;

  int stage_count() const { return ranks * chunks_per_rank; }
  bool is_lowered() const;  // true when any send/recv is present
  std::size_t action_count() const;
};

// Megatron-LM's placement: chunk c of rank r holds stage c*K + r.
std::vector<std::vector<int>> interleaved_placement(int ranks, int chunks_per_rank);
// V-shape placement (V = 2): rank r holds stages r and 2K-1-r (ZB-V, DualPipeV).
std::vector<std::vector<int>> v_shape_placement(int ranks);

// The rank holding each virtual stage (size: the stages the placement names). Precondition: the
// placement puts each stage 0..S-1 on exactly one (rank, chunk).
std::vector<int> rank_of_each_stage(const std::vector<std::vector<int>>& placement);

// Where each virtual stage lives; built from a schedule's placement.
struct StageMap {
  std::vector<int> rank_of_stage;   // size S
  std::vector<int> chunk_of_stage;  // size S
  int stage_of(int rank, int chunk) const;
  std::vector<std::vector<int>> placement;
};

// Checks that the placement puts every stage on exactly one (rank, chunk); throws
// pp::Error(kInvalidInput) naming the offending entry otherwise.
StageMap make_stage_map(const Schedule& schedule);

}  // namespace pp
