#pragma once
// Device buffers over NCCL, one rank per GPU (NCCL refuses two ranks of one communicator on the
// same GPU). Point-to-point operations run on the device's communication stream in the order they
// are issued, so the transport does not post receives ahead: the executor issues each run of
// consecutive sends and receives as one group (ncclGroupStart/End) in the lowered list's order.
// wait() makes the compute stream wait for the operation (an event; the host does not wait).
// Sums over device buffers are ncclAllReduce; host buffers, doubles, bytes, the communicator's
// unique id and splits go over `host`, an MPI transport of the same ranks.
#include <memory>

#include "cuda/device_context.h"
#include "pp/runtime/transport.h"

namespace pp::cuda {

// Collective over `host`'s ranks (they build one NCCL communicator).
std::unique_ptr<Transport> nccl_transport(std::unique_ptr<Transport> host, DeviceContext* device);

}  // namespace pp::cuda
