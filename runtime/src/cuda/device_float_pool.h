#pragma once
// Device float buffers for a CUDA stage's activations and temporaries, pooled by exact length: a
// buffer given back is handed out again, so after the first step a step of the same schedule
// allocates nothing (no cudaMalloc inside a step). Every use is on one stream (the compute
// stream), so reuse needs no host waits. Tracks the bytes held and their peak.
#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <vector>

#include "cuda/cuda_check.h"

namespace pp::cuda {

struct DeviceFloats {
  float* data = nullptr;
  std::size_t count = 0;
};

class DeviceFloatPool {
 public:
  DeviceFloatPool() = default;
  ~DeviceFloatPool() {
    for (auto& [n, list] : free_) {
      for (float* p : list) cudaFree(p);
    }
  }
  DeviceFloatPool(const DeviceFloatPool&) = delete;
  DeviceFloatPool& operator=(const DeviceFloatPool&) = delete;

  // n floats (n > 0); contents unspecified.
  DeviceFloats take(std::size_t n) {
    std::vector<float*>& spare = free_[n];
    float* p = nullptr;
    if (spare.empty()) {
      PP_CUDA_CHECK(cudaMalloc(&p, n * sizeof(float)));
      held_bytes_ += n * sizeof(float);
      ++allocations_;
    } else {
      p = spare.back();
      spare.pop_back();
    }
    in_use_bytes_ += n * sizeof(float);
    peak_in_use_bytes_ = std::max(peak_in_use_bytes_, in_use_bytes_);
    return {p, n};
  }
  // Makes *d hold n floats (its own when already n long).
  void ensure(DeviceFloats* d, std::size_t n) {
    if (d->count == n) return;
    give(d);
    *d = take(n);
  }
  // Takes *d back (nothing for an empty one) and empties it.
  void give(DeviceFloats* d) {
    if (d->data == nullptr) return;
    free_[d->count].push_back(d->data);
    in_use_bytes_ -= d->count * sizeof(float);
    *d = {};
  }

  std::size_t allocations() const { return allocations_; }
  std::size_t held_bytes() const { return held_bytes_; }
  std::size_t in_use_bytes() const { return in_use_bytes_; }
  std::size_t peak_in_use_bytes() const { return peak_in_use_bytes_; }

 private:
  std::map<std::size_t, std::vector<float*>> free_;
  std::size_t allocations_ = 0;
  std::size_t held_bytes_ = 0;
  std::size_t in_use_bytes_ = 0;
  std::size_t peak_in_use_bytes_ = 0;
};

}  // namespace pp::cuda
