#pragma once
// Transport over MPI (non-blocking point-to-point on one communicator, per-pair order by MPI's
// non-overtaking rule). MPI errors return to the caller (MPI_ERRORS_RETURN) and become
// pp::Error naming the call and the rank; pp run turns a fatal error into MPI_Abort so no rank
// hangs.

#include <memory>

#include "pp/runtime/transport.h"

namespace pp {

// MPI_Init (once per process) and MPI_Finalize at exit; idempotent.
void mpi_initialize(int* argc, char*** argv);
void mpi_finalize();
// Ends every rank of the job now, with `code` (after printing the error on this rank).
[[noreturn]] void mpi_abort(int code);
bool mpi_initialized();
// This process's rank and the job's size in MPI_COMM_WORLD; 0 and 1 when MPI is not running.
int mpi_world_rank();
int mpi_world_size();
// This rank's place among the ranks of the job on its node (MPI_Comm_split_type, so it works under
// mpirun and srun alike): rank 0 of 1 when MPI is not running. Collective over the world.
struct NodePlace {
  int rank = 0;
  int size = 1;
};
NodePlace mpi_node_place();

// The world communicator.
std::unique_ptr<Transport> mpi_world();

}  // namespace pp
