#pragma once
// pp run's checkpoints: one safetensors file of every tensor once (Hugging Face names), the AdamW
// state and the step, gathered at world rank 0 and written atomically; only finite ones.
#include <string>
#include <vector>

#include "pp/runtime/parameters.h"
#include "pp/runtime/transport.h"
#include "train/rank_setup.h"

namespace pp {

// The step a checkpoint written by pp run holds; throws pp::Error(kInvalidInput) for a file
// without a valid step or of another model.
int checkpoint_step(const std::string& path, const std::string& model_name);

// Throws pp::Error(kRuntime) when any rank's tensors hold a non-finite value, so that the last
// checkpoint on disk stays a good one. Collective over `world`.
void refuse_non_finite(Transport& world, const std::vector<TensorRef>& tensors, int step);

// Writes `path` from replica 0's ranks (whole tensors, assembled from tensor-parallel pieces; the
// head's copy of the tied embedding `tied_name` left to the embedding's rank). Collective over
// `world`.
void save_checkpoint(Transport& world, std::vector<Chunk>& chunks, const std::string& tied_name, int replica, int step,
                     const std::string& path, const std::string& model_name);

}  // namespace pp
