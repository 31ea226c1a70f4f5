#pragma once
// The CUDA backend's BufferPool: the executor's activation-sized buffers in device memory, from a
// DeviceFloatPool (device_float_pool.h), so the first step allocates and later steps of the same
// schedule do not (no cudaMalloc or cudaFree inside a step).
//
// Reuse is safe without host waits because every use of a buffer is ordered on the compute stream
// (transfers on the communication stream are ordered back to it with events before release).
#include <algorithm>
#include <cstddef>

#include "cuda/device_float_pool.h"
#include "pp/runtime/buffer.h"

namespace pp::cuda {

class DeviceBufferPool : public BufferPool {
 public:
  // `bytes_held` (optional) is kept up to date with the device bytes this pool holds.
  explicit DeviceBufferPool(std::size_t buffer_floats, std::size_t* bytes_held = nullptr)
      : floats_(buffer_floats), bytes_held_(bytes_held) {}
  ~DeviceBufferPool() override {
    if (bytes_held_ != nullptr) *bytes_held_ -= pool_.held_bytes();
  }

  Buffer acquire() override {
    const std::size_t before = pool_.held_bytes();
    const DeviceFloats d = pool_.take(floats_);
    if (bytes_held_ != nullptr) *bytes_held_ += pool_.held_bytes() - before;
    peak_ = std::max(peak_, ++out_);
    return Buffer::on_device(d.data, floats_);
  }
  void release(const Buffer& buffer) override {
    if (buffer.empty()) return;
    DeviceFloats d{buffer.address(), floats_};
    pool_.give(&d);
    --out_;
  }
  std::size_t buffer_floats() const override { return floats_; }
  std::size_t allocations() const override { return pool_.allocations(); }
  std::size_t peak_in_use() const override { return peak_; }

 private:
  std::size_t floats_;
  std::size_t* bytes_held_;
  DeviceFloatPool pool_;
  std::size_t out_ = 0;
  std::size_t peak_ = 0;
};

}  // namespace pp::cuda
