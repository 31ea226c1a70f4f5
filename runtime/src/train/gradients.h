#pragma once
// The step's gradient work across ranks: the tied embedding's copies summed, the data-parallel
// all-reduce, and the global norm (each tensor once), through the backend and the transports.
#include <vector>

#include "pp/runtime/backend.h"
#include "pp/runtime/transport.h"
#include "train/rank_setup.h"

namespace pp {

// Every copy of wte.weight's gradient (this rank's, and the other holder's over `tied`, which is
// null where this rank holds no copy or both) ends as their sum.
void reduce_tied(std::vector<Chunk>& chunks, Transport* tied, Backend& backend);
// Every gradient summed over the data-parallel replicas.
void reduce_data_parallel(std::vector<Chunk>& chunks, Transport& data);
// The squared gradient norm of the whole model, summed over the pipeline (same on every rank).
double global_squared_norm(std::vector<Chunk>& chunks, Transport& pipeline);

}  // namespace pp
