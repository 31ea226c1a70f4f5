#pragma once
// The CUDA backend's BufferPool: activation-sized buffers in device memory, carved from slabs
// allocated with cudaMalloc when the pool first runs short (so the first step allocates, later
// steps of the same schedule do not: no cudaMalloc or cudaFree inside a step). reserve() can size
// it up front.
//
// Reuse is safe without host waits because every use of a buffer is ordered on the compute stream
// (transfers on the communication stream are ordered back to it with events before release).
#include <cstddef>
#include <vector>

#include "pp/runtime/buffer.h"

namespace pp::cuda {

class DeviceBufferPool : public BufferPool {
 public:
  // `bytes_held` (optional) is kept up to date with the device bytes this pool holds.
  explicit DeviceBufferPool(std::size_t buffer_floats, std::size_t* bytes_held = nullptr)
      : floats_(buffer_floats), bytes_held_(bytes_held) {}
  ~DeviceBufferPool() override;
  DeviceBufferPool(const DeviceBufferPool&) = delete;
  DeviceBufferPool& operator=(const DeviceBufferPool&) = delete;

  // Makes at least `buffers` buffers available without further allocation (one cudaMalloc).
  void reserve(std::size_t buffers);

  Buffer acquire() override;
  void release(const Buffer& buffer) override;
  std::size_t buffer_floats() const override { return floats_; }
  std::size_t allocations() const override { return allocated_; }
  std::size_t peak_in_use() const override { return peak_; }
  std::size_t device_bytes() const { return allocated_ * floats_ * sizeof(float); }

 private:
  void add_slab(std::size_t buffers);

  std::size_t floats_;
  std::vector<void*> slabs_;
  std::vector<float*> spare_;
  std::size_t allocated_ = 0;
  std::size_t peak_ = 0;
  std::size_t* bytes_held_ = nullptr;
  std::size_t slab_bytes_ = 0;
};

}  // namespace pp::cuda
