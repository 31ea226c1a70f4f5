#pragma once
// CUDA events (timing disabled) handed out again once given back; created on demand, destroyed
// with the pool. An event may be given back as soon as nothing will wait on its record again
// (cudaStreamWaitEvent captures the record at the time of the call).
#include <cuda_runtime.h>

#include <vector>

#include "cuda/cuda_check.h"

namespace pp::cuda {

class EventPool {
 public:
  EventPool() = default;
  ~EventPool() {
    for (cudaEvent_t e : all_) cudaEventDestroy(e);
  }
  EventPool(const EventPool&) = delete;
  EventPool& operator=(const EventPool&) = delete;

  cudaEvent_t take() {
    if (!spare_.empty()) {
      const cudaEvent_t e = spare_.back();
      spare_.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    PP_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    all_.push_back(e);
    return e;
  }
  void give(cudaEvent_t e) { spare_.push_back(e); }

 private:
  std::vector<cudaEvent_t> all_;
  std::vector<cudaEvent_t> spare_;
};

}  // namespace pp::cuda
