#pragma once
// The CUDA backend (backend.h): one GPU for this rank, chosen from its place on the node.
// Throws pp::Error(kInvalidInput) when there is no usable GPU.
#include <memory>

#include "pp/runtime/backend.h"

namespace pp::cuda {

// node_rank: the rank's place among its node's ranks (mpi_node_place().rank); 0 for one process.
std::unique_ptr<Backend> make_cuda_backend(int node_rank, bool allow_tf32);

}  // namespace pp::cuda
