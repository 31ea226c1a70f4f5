#pragma once
// What a rank of pp run sets up once, before its first step: the plan checked against the job
// and the model, the backend, the communicators, and the chunks of model this rank holds.
#include <memory>
#include <vector>

#include "pp/runtime/backend.h"
#include "pp/runtime/backend_choice.h"
#include "pp/runtime/trainer.h"
#include "pp/runtime/transport.h"
#include "pp/schedule.h"
#include "train/watchdog.h"

namespace pp {

struct Chunk {
  int stage = 0;
  int first_layer = 0;
  int last_layer = 0;
  std::unique_ptr<TrainableChunk> state;  // the backend's: compute, weights, optimizer

  // The head's copy of the tied wte (held when the chunk has the head but not the embedding):
  // counted, reduced and saved with the embedding's.
  bool holds_tied_copy() const { return first_layer != 0; }
};

// Where a rank sits in the job: world rank = (stage * dp + replica) * tp + tp_rank, so a
// tensor-parallel group is tp consecutive ranks (inside a node when tp divides the GPUs per
// node), then the data-parallel replicas, then the pipeline stages.
struct RankPlace {
  int stage = 0;
  int replica = 0;
  int tp_rank = 0;
};
RankPlace rank_place(const Layout& layout, int world_rank);

struct Groups {
  std::unique_ptr<Transport> pipeline;  // this replica's stages (same tp rank), ranked by stage
  std::unique_ptr<Transport> data;      // this stage's replicas (same tp rank)
  std::unique_ptr<Transport> tied;      // the ranks holding the embedding and the head (same replica, tp rank)
  std::unique_ptr<Transport> tensor;    // this stage's tensor-parallel ranks (same replica), ranked by tp rank
};

// Throws pp::Error(kInvalidInput) naming what does not fit: tp (pp_run_obstacles), the rank
// count, the layers, the global batch, the sequence length.
void check_layout(const TrainOptions& o, const Transport& world);

// The CPU backend, or the CUDA one (GPU chosen from the rank's place on its node).
std::unique_ptr<Backend> make_backend(ComputeDevice device, bool allow_tf32);

// The communicators, built once (collective over `world`): MPI groups made fit for the backend's
// buffers (staged or NCCL on a GPU), each watched for progress.
// Each group's traffic is counted into `traffic` (which outlives the groups).
Groups make_groups(Transport& world, const Schedule& schedule, const Layout& layout, RankPlace place, Watchdog* dog,
                   Backend& backend, TransportKind kind, Traffic* traffic);

// This rank's chunks (placement[stage]), initialised (this tp rank's pieces, computing over
// `tensor`), and loaded from o.load when given.
std::vector<Chunk> make_chunks(const TrainOptions& o, const Schedule& schedule, int stage, Transport* tensor,
                               Backend& backend);

}  // namespace pp
