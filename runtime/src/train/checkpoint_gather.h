#pragma once
// Internal to pp::runtime: one checkpoint file from tensors spread over the ranks of a job.

#include <map>
#include <string>
#include <vector>

#include "pp/runtime/parameters.h"
#include "pp/runtime/transport.h"

namespace pp {

// Collective over `world`. Every rank passes views of the tensors it holds (no copies): whole
// tensors, or tensor-parallel pieces (a TensorRef with a shard and its whole shape). World rank 0
// writes whole tensors to one safetensors file at `path` (atomically), in the order each name
// first appears (ranks in order, each rank's tensors in its order): a replicated tensor from its
// first holder (later copies, such as the optimizer's step on every rank, are received and
// dropped), a sharded one assembled from its `parts` pieces. The data is streamed: rank 0 holds
// one whole tensor and one piece of another rank at a time, never the whole checkpoint. Pieces
// that do not make up their tensor (a missing or repeated index) are pp::Error(kInternal).
void save_gathered_checkpoint(Transport& world, const std::vector<TensorRef>& mine, const std::string& path,
                              const std::map<std::string, std::string>& metadata);

}  // namespace pp
