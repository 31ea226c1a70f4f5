#include "tensor_parallel.h"

#include <algorithm>

namespace pp::cpu {
namespace {

Buffer host(const float* data, std::size_t count) {
  // The transports only read a send's buffer; Buffer has no const view.
  return Buffer::on_host(const_cast<float*>(data), count);
}

}  // namespace

TensorParallel::TensorParallel(Transport* group, bool sequence_parallel)
    : group_(group != nullptr && group->size() > 1 ? group : nullptr), sequence_parallel_(sequence_parallel) {}

void TensorParallel::gather_rows(const float* local, float* full, int rows, int width) const {
  const std::size_t n = static_cast<std::size_t>(rows) * width;
  if (!sequence_parallel()) {
    std::copy(local, local + n, full);
    return;
  }
  group_->allgather(host(local, n / size()), host(full, n));
}

void TensorParallel::reduce_rows(float* partial, float* local, int rows, int width) const {
  const std::size_t n = static_cast<std::size_t>(rows) * width;
  if (sequence_parallel()) {
    group_->reduce_scatter_sum(host(partial, n), host(local, n / size()));
    return;
  }
  if (group_ != nullptr) group_->allreduce_sum(host(partial, n));
  if (local != partial) std::copy(partial, partial + n, local);
}

void TensorParallel::sum(float* data, std::size_t count) const {
  if (group_ != nullptr) group_->allreduce_sum(host(data, count));
}

void TensorParallel::sum(double* data, std::size_t count) const {
  if (group_ != nullptr) group_->allreduce_sum(data, count);
}

void TensorParallel::gather(const float* mine, float* all, std::size_t count) const {
  if (group_ == nullptr) {
    std::copy(mine, mine + count, all);
    return;
  }
  group_->allgather(host(mine, count), host(all, count * size()));
}

}  // namespace pp::cpu
