#include "train/rank_setup.h"

#include <fmt/format.h>

#include "pp/error.h"
#include "pp/runtime/mpi_transport.h"
#include "train/metered_transport.h"
#ifdef PP_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace pp {

void check_layout(const TrainOptions& o, const Transport& world) {
  const Layout& l = o.plan.layout;
  Plan with_model = o.plan;
  with_model.model_config = o.model;
  for (const std::string& obstacle : pp_run_obstacles(with_model)) throw_invalid(obstacle);
  const int ranks = l.tp * l.pp * l.dp;
  if (world.size() != ranks) {
    throw_invalid(fmt::format("the plan needs tp x pp x dp = {} x {} x {} = {} ranks, the job has {} "
                              "(mpirun -np {})",
                              l.tp, l.pp, l.dp, ranks, world.size(), ranks));
  }
  const int head = o.model.layers + 1;
  if (o.plan.stages.empty() || o.plan.stages.front().first_layer != 0 ||
      o.plan.stages.back().last_layer != head) {
    throw_invalid(fmt::format("the plan covers layers {}..{}, model '{}' has 0..{} (embedding, {} "
                              "blocks, head): plan for this model",
                              o.plan.stages.empty() ? 0 : o.plan.stages.front().first_layer,
                              o.plan.stages.empty() ? 0 : o.plan.stages.back().last_layer,
                              o.model.name, head, o.model.layers));
  }
  for (std::size_t i = 1; i < o.plan.stages.size(); ++i) {
    if (o.plan.stages[i].first_layer != o.plan.stages[i - 1].last_layer + 1) {
      throw_invalid(fmt::format("the plan's stage {} starts at layer {}, but stage {} ends at layer {}: "
                                "stages must cover the layers in order, each once",
                                i, o.plan.stages[i].first_layer, i - 1, o.plan.stages[i - 1].last_layer));
    }
  }
  if (o.plan.global_batch != l.dp * l.microbatch_size * l.microbatches) {
    throw_invalid(fmt::format("the plan's global batch {} is not dp x micro-batch size x "
                              "micro-batches = {}",
                              o.plan.global_batch, l.dp * l.microbatch_size * l.microbatches));
  }
  if (o.plan.seq_len > o.model.max_positions) {
    throw_invalid(fmt::format("the plan's sequence length {} exceeds the model's {} positions",
                              o.plan.seq_len, o.model.max_positions));
  }
}

std::unique_ptr<Backend> make_backend(ComputeDevice device, bool allow_tf32) {
  if (device == ComputeDevice::kCpu) return make_cpu_backend();
#ifdef PP_WITH_CUDA
  const NodePlace node = mpi_node_place();
  return cuda::make_cuda_backend(node.rank, allow_tf32);
#else
  (void)allow_tf32;
  throw_invalid("--device cuda: this pp was built without CUDA");
#endif
}

RankPlace rank_place(const Layout& l, int world_rank) {
  return {world_rank / (l.dp * l.tp), (world_rank / l.tp) % l.dp, world_rank % l.tp};
}

Groups make_groups(Transport& world, const Schedule& schedule, const Layout& l, RankPlace p, Watchdog* dog,
                   Backend& backend, TransportKind kind, Traffic* traffic) {
  const auto fit = [&](std::unique_ptr<Transport> group, double* bytes) {
    return group == nullptr ? nullptr : metered(backend.transport_for(std::move(group), kind), bytes);
  };
  Groups g;
  g.pipeline = watched(fit(world.split(p.replica * l.tp + p.tp_rank, p.stage), &traffic->pipeline), dog, "pipeline",
                       "stage");
  g.data = watched(fit(world.split(p.stage * l.tp + p.tp_rank, p.replica), &traffic->data), dog, "data-parallel",
                   "replica");
  g.tensor = watched(fit(world.split(p.stage * l.dp + p.replica, p.tp_rank), &traffic->tensor), dog,
                     "tensor-parallel", "tp rank");
  const StageMap map = make_stage_map(schedule);
  const int first = map.rank_of_stage.front();
  const int last = map.rank_of_stage.back();
  const bool holds_tied = first != last && (p.stage == first || p.stage == last);
  g.tied = watched(fit(world.split(holds_tied ? p.replica * l.tp + p.tp_rank : -1, p.stage), &traffic->tied), dog,
                   "tied-embedding", "stage");
  return g;
}

std::vector<Chunk> make_chunks(const TrainOptions& o, const Schedule& schedule, int stage, Transport* tensor,
                               Backend& backend) {
  std::vector<Chunk> chunks;
  const Layout& l = o.plan.layout;
  for (int c = 0; c < schedule.chunks_per_rank; ++c) {
    Chunk chunk;
    chunk.stage = schedule.placement[stage][c];
    const StagePlan& s = o.plan.stages.at(chunk.stage);
    chunk.first_layer = s.first_layer;
    chunk.last_layer = s.last_layer;
    chunk.state = backend.make_chunk({&o.model, s.first_layer, s.last_layer, l.microbatch_size, o.plan.seq_len,
                                      l.checkpoint_interval, o.adamw, o.init_seed, tensor, l.sequence_parallel});
    if (!o.load.empty()) chunk.state->load(o.load, false);
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

}  // namespace pp
