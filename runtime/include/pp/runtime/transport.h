#pragma once
// How the ranks of a job talk: point-to-point messages and sums. The executor sees only this
// interface; MPI implements it (mpi_transport.h), and tests may wrap it to inject faults.
//
// Contract: messages between one ordered pair of ranks are matched in the order they are posted
// (the schedule's lowering puts receives in the order of the sends), so no tags are needed; a
// send never waits for its receiver to post (isend); a receive may be posted long before it is
// needed. Every call that fails throws pp::Error naming the call and the rank.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace pp {

class Transport {
 public:
  using Request = int;  // a handle for wait(); -1 is "nothing to wait for"

  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  virtual Request isend(int peer, const float* data, std::size_t count) = 0;
  virtual Request irecv(int peer, float* data, std::size_t count) = 0;
  virtual void wait(Request request) = 0;

  // In-place sums over every rank of this transport.
  virtual void allreduce_sum(float* data, std::size_t count) = 0;
  virtual void allreduce_sum(double* data, std::size_t count) = 0;
  virtual void broadcast(double* data, std::size_t count, int root) = 0;
  virtual void barrier() = 0;

  // The ranks that pass the same color form a new transport, ranked by `key`; a negative color
  // takes part in the split but joins no group (returns nullptr). Collective over all ranks.
  virtual std::unique_ptr<Transport> split(int color, int key) = 0;

  // Gathers variable-length bytes at rank 0 (collective); other ranks get an empty list.
  virtual std::vector<std::string> gather_bytes(const std::string& mine) = 0;
};

}  // namespace pp
