#pragma once
// How the ranks of a job talk: point-to-point messages and sums. The executor sees only this
// interface; MPI implements it over host memory (mpi_transport.h), the staged transport moves
// device memory through pinned host memory over another transport (staged_transport.h), NCCL
// moves device memory directly (nccl_transport.h), and tests wrap it to inject faults.
//
// Contract: messages between one ordered pair of ranks are matched in the order they are posted
// (the schedule's lowering puts receives in the order of the sends), so no tags are needed; a
// send never waits for its receiver to post (isend). Where posts_receives_ahead() a receive may be
// posted long before it is needed; otherwise operations must be issued in the lowered list's
// order. A transport moves the memory spaces it accepts() and throws pp::Error(kInternal) for
// others. The buffer of a send or receive must stay valid until its wait(). Every call that fails
// throws pp::Error naming the call and the rank.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pp/runtime/buffer.h"

namespace pp {

class Transport {
 public:
  using Request = int;  // a handle for wait(); -1 is "nothing to wait for"

  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Whether isend, irecv and allreduce_sum take buffers in `space`.
  virtual bool accepts(MemorySpace space) const = 0;
  // Whether receives may be posted ahead of their place in the lowered list.
  virtual bool posts_receives_ahead() const { return true; }

  // Operations issued between group_begin() and group_end() progress together (NCCL's groups: a
  // send and a receive between the same two ranks in one group cannot deadlock); wait() only after
  // group_end(). No-ops for transports whose operations progress on their own (MPI).
  virtual void group_begin() {}
  virtual void group_end() {}

  virtual Request isend(int peer, const Buffer& data) = 0;
  virtual Request irecv(int peer, const Buffer& data) = 0;
  // Completes the operation. For device buffers, the completion is ordered before later work on
  // the backend's compute stream (the host may return before the data has arrived there).
  virtual void wait(Request request) = 0;

  // In-place sums over every rank of this transport (float32 values in host or device memory;
  // doubles on the host, for scalars such as losses and norms).
  virtual void allreduce_sum(const Buffer& data) = 0;
  virtual void allreduce_sum(double* data, std::size_t count) = 0;
  // all (size() x mine.count() floats) = every rank's `mine`, in rank order. Same memory space.
  virtual void allgather(const Buffer& mine, const Buffer& all) = 0;
  // mine (all.count() / size() floats) = the sum over ranks of part rank() of `all`, where part r
  // is the floats [r * n, (r + 1) * n), n = mine.count(). Same memory space.
  virtual void reduce_scatter_sum(const Buffer& all, const Buffer& mine) = 0;
  virtual void broadcast(double* data, std::size_t count, int root) = 0;
  virtual void barrier() = 0;

  // The ranks that pass the same color form a new transport, ranked by `key`; a negative color
  // takes part in the split but joins no group (returns nullptr). Collective over all ranks.
  virtual std::unique_ptr<Transport> split(int color, int key) = 0;

  // Gathers variable-length bytes at rank 0 (collective); other ranks get an empty list.
  virtual std::vector<std::string> gather_bytes(const std::string& mine) = 0;
};

// Throws pp::Error(kInternal) unless `all` holds `ranks` parts of mine.count() floats and both
// lie in one memory space: the precondition of allgather and reduce_scatter_sum.
void check_collective_parts(const Buffer& mine, const Buffer& all, int ranks, const char* call);

}  // namespace pp
