#pragma once
// A stage's tensor-parallel group as the CPU layers see it: Megatron-LM's tensor parallelism
// (Shoeybi et al. 2019), optionally with sequence parallelism (Korthikanti et al. 2022).
//
// Rows are the N = b * T tokens of a micro-batch, (b, T) flattened. Outside the tensor-parallel
// regions (norms, residual adds, the stage's input and output) each rank holds `local_rows(N)`
// rows of the residual stream: with sequence parallelism the contiguous rows
// [rank * N / tp, (rank + 1) * N / tp), without it all N (replicated, computed by every rank).
// A tensor-parallel region (attention, MLP, the vocabulary-parallel head) is entered with
// gather_rows (SP: all-gather; else a copy) and left with reduce_rows (SP: reduce-scatter; else
// all-reduce); in the backward the roles swap: the gradient of a gather is a reduce and the
// gradient of a reduce is a gather. With tp 1 both are copies and nothing is sent.
//
// Every rank of the group must make the same calls in the same order (they run the same action
// list on the same micro-batches). Float32, host memory.

#include <cstddef>
#include <cstdint>

#include "pp/runtime/sharding.h"
#include "pp/runtime/transport.h"

namespace pp::cpu {

class TensorParallel {
 public:
  TensorParallel() = default;  // tp 1
  // `group` (the ranks of one stage's replica, ranked by tp rank; null for tp 1) outlives this.
  TensorParallel(Transport* group, bool sequence_parallel);

  int rank() const { return group_ == nullptr ? 0 : group_->rank(); }
  int size() const { return group_ == nullptr ? 1 : group_->size(); }
  bool sequence_parallel() const { return sequence_parallel_ && size() > 1; }

  // Rows of the residual stream this rank holds of `rows` (see above); rows % size() == 0 with SP.
  int local_rows(int rows) const { return sequence_parallel() ? rows / size() : rows; }
  // The first of those rows.
  int first_local_row(int rows) const { return sequence_parallel() ? rank() * (rows / size()) : 0; }
  // This rank's contiguous share of n items (heads, vocabulary rows, MLP columns).
  PieceRange share(std::int64_t n) const { return piece_range(n, rank(), size()); }

  // full (rows, width) from every rank's local (local_rows, width). full must not alias local.
  void gather_rows(const float* local, float* full, int rows, int width) const;
  // local (local_rows, width) = the sum over ranks of partial (rows, width). partial is
  // overwritten (scratch); local may alias partial only without sequence parallelism.
  void reduce_rows(float* partial, float* local, int rows, int width) const;
  // data (count) = its sum over the ranks, in place.
  void sum(float* data, std::size_t count) const;
  void sum(double* data, std::size_t count) const;
  // all (size() x count) = every rank's mine (count), in rank order.
  void gather(const float* mine, float* all, std::size_t count) const;

 private:
  Transport* group_ = nullptr;
  bool sequence_parallel_ = false;
};

}  // namespace pp::cpu
