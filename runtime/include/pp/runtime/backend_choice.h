#pragma once
// Which backend (where the model computes) and which transport (how ranks exchange activations
// and gradients) a run uses, from pp run's --device and --transport and what the machine has.
//
//   --device auto   cuda where this build can train on a GPU, trains there by default, and every
//                   node has one; else cpu
//   --transport auto
//       cpu         mpi (host memory)
//       cuda        nccl when every rank has a GPU of its own, else staged MPI (device memory
//                   through pinned host memory: ranks may share a GPU, MPI need not be CUDA-aware)
//   --transport mpi  on cuda: staged MPI;   --transport nccl: cuda only, one rank per GPU
//
// Pure: the same inputs on every rank give the same choice (the inputs are made job-wide by the
// caller: the fewest GPUs on any node, the most ranks on any node).

#include <string>
#include <vector>

namespace pp {

enum class ComputeDevice { kCpu, kCuda };
enum class TransportKind { kMpi, kStagedMpi, kNccl };

struct BackendRequest {
  std::string device = "auto";     // auto | cpu | cuda
  std::string transport = "auto";  // auto | mpi | nccl
};

struct MachineFacts {
  bool cuda_built = false;       // this pp was built with CUDA
  bool nccl_built = false;       // ... and with NCCL
  bool cuda_training = false;    // this build's CUDA backend can train a model
  std::string cuda_training_gap; // why not, when it cannot
  bool cuda_by_default = false;  // --device auto may pick it
  std::string cuda_default_gap;  // why auto does not, when it does not
  int gpus_per_node = 0;         // the fewest usable GPUs on any node of the job
  int ranks_per_node = 1;        // the most ranks on any node of the job
};

// What the run's lowered schedule allows (issue_order.h): NCCL issues its sends and receives in
// list order with rendezvous sends, which some lowered lists (interleaved 1F1B's) deadlock.
struct ScheduleFacts {
  std::string name;           // the schedule's, for messages
  bool nccl_safe = true;      // check_grouped_rendezvous(lowered).completes
  std::string nccl_stuck;     // where it would wait forever, when not
  std::string cuda_gap;       // what of the plan the CUDA backend does not run (tp > 1, Llama); "" if none
};

struct BackendChoice {
  ComputeDevice device = ComputeDevice::kCpu;
  TransportKind transport = TransportKind::kMpi;
  std::string reason;  // one line for the run's report, e.g. "cuda with nccl: 4 ranks, 8 GPUs per node"
};

// Throws pp::Error(kInvalidInput) naming the flag for a value outside the lists above or a request
// the machine or the schedule cannot serve (--device cuda without a GPU, --transport nccl with
// shared GPUs or with a schedule whose lowered order deadlocks NCCL: auto stages those instead).
BackendChoice choose_backend(const BackendRequest& request, const MachineFacts& machine,
                             const ScheduleFacts& schedule = {});

// What one rank sees: its node's name and the UUIDs of the GPUs visible to it.
struct RankDevices {
  std::string host;
  std::vector<std::string> gpu_ids;
};
// The fewest distinct GPUs on any node (counted by UUID, so ranks that each see one GPU through
// CUDA_VISIBLE_DEVICES count as many GPUs as they see between them) and the most ranks on any node.
struct NodeCounts {
  int gpus_per_node = 0;
  int ranks_per_node = 1;
};
NodeCounts count_per_node(const std::vector<RankDevices>& ranks);

// The facts of the whole job: each rank probes its node's GPUs and counts its node's ranks; rank
// 0 reduces them and every rank gets the same answer. Collective over `world`.
class Transport;
MachineFacts gather_machine_facts(Transport& world);

const char* to_string(ComputeDevice device);     // "cpu", "cuda"
const char* to_string(TransportKind transport);  // "mpi", "mpi-staged" (through host memory), "nccl"

}  // namespace pp
