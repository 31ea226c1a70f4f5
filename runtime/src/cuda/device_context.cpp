#include "cuda/device_context.h"

#include <fmt/format.h>

#include "cuda/cuda_check.h"
#include "pp/error.h"

namespace pp::cuda {
namespace {
constexpr std::size_t kOrderingEvents = 64;  // more than the orderings pending at once
}  // namespace

DeviceContext::DeviceContext(int node_local_rank) {
  const cudaError_t status = cudaGetDeviceCount(&devices_);
  if (status != cudaSuccess || devices_ == 0) {
    throw_invalid(fmt::format("--device cuda: no usable CUDA device here ({}); use --device cpu",
                              status != cudaSuccess ? cudaGetErrorString(status) : "none found"));
  }
  device_ = node_local_rank % devices_;
  PP_CUDA_CHECK(cudaSetDevice(device_));
  cudaDeviceProp props{};
  PP_CUDA_CHECK(cudaGetDeviceProperties(&props, device_));
  name_ = props.name;
  PP_CUDA_CHECK(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
  PP_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_, cudaStreamNonBlocking));
  events_.resize(kOrderingEvents);
  for (cudaEvent_t& e : events_) PP_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
}

DeviceContext::~DeviceContext() {
  // No throwing from a destructor: the job is ending; errors here have nowhere to go.
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  if (compute_ != nullptr) cudaStreamDestroy(compute_);
  if (comm_ != nullptr) cudaStreamDestroy(comm_);
}

void DeviceContext::order(cudaStream_t from, cudaStream_t to) {
  // Reusing an event is safe once recorded again: cudaStreamWaitEvent captures the record at the
  // time of the call.
  cudaEvent_t event = events_[next_event_];
  next_event_ = (next_event_ + 1) % events_.size();
  PP_CUDA_CHECK(cudaEventRecord(event, from));
  PP_CUDA_CHECK(cudaStreamWaitEvent(to, event, 0));
}

std::size_t DeviceContext::free_bytes() const {
  std::size_t free = 0, total = 0;
  PP_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

std::size_t DeviceContext::total_bytes() const {
  std::size_t free = 0, total = 0;
  PP_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return total;
}

}  // namespace pp::cuda
