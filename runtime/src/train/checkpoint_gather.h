#pragma once
// Internal to pp::runtime: one checkpoint file from tensors spread over the ranks of a job.

#include <map>
#include <string>
#include <vector>

#include "pp/runtime/parameters.h"
#include "pp/runtime/transport.h"

namespace pp {

// Collective over `world`. Every rank passes views of the tensors it holds (no copies); world rank
// 0 writes them all to one safetensors file at `path` (atomically), ranks in order and each
// rank's tensors in its order, keeping the first tensor of each name (later ones, such as a copy
// of a tied weight or of the optimizer's step, are received and dropped). The data is streamed:
// rank 0 holds one tensor of another rank at a time, never the whole checkpoint.
void save_gathered_checkpoint(Transport& world, const std::vector<TensorRef>& mine, const std::string& path,
                              const std::map<std::string, std::string>& metadata);

}  // namespace pp
