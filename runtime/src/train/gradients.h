#pragma once
// The step's gradient work across ranks: the replicated tensors' shares summed over the
// tensor-parallel group (sequence parallelism), the tied embedding's copies summed, the
// data-parallel all-reduce, and the global norm (each tensor once), through the backend and the
// transports.
#include <string>
#include <vector>

#include "pp/runtime/backend.h"
#include "pp/runtime/transport.h"
#include "train/rank_setup.h"

namespace pp {

// With sequence parallelism each tp rank holds its rows' share of a replicated tensor's gradient
// (LayerNorms, position embeddings, row-parallel biases): every share ends as their sum.
void reduce_replicated(std::vector<Chunk>& chunks, Transport& tensor);
// Every copy of the tied embedding `tied_name` ("" for none) on this rank and the other holder's
// (over `tied`, null where this rank holds no copy or both) ends as their sum.
void reduce_tied(std::vector<Chunk>& chunks, const std::string& tied_name, Transport* tied, Backend& backend);
// Every gradient summed over the data-parallel replicas.
void reduce_data_parallel(std::vector<Chunk>& chunks, Transport& data);
// The squared gradient norm of the whole model (every tensor once: the head's copy of the tied
// embedding and the replicated tensors of tp ranks other than the first are left out), summed over
// the pipeline and the tensor-parallel group; the same on every rank.
double global_squared_norm(std::vector<Chunk>& chunks, const std::string& tied_name, Transport& pipeline,
                           Transport& tensor);

}  // namespace pp
