#include "cuda/device_buffer_pool.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/cuda_check.h"

namespace pp::cuda {

DeviceBufferPool::~DeviceBufferPool() {
  for (void* slab : slabs_) cudaFree(slab);
  if (bytes_held_ != nullptr) *bytes_held_ -= slab_bytes_;
}

void DeviceBufferPool::add_slab(std::size_t buffers) {
  // Each buffer starts on a 256-byte boundary (cuBLASLt and vector loads want alignment).
  const std::size_t stride = (floats_ * sizeof(float) + 255) / 256 * 256;
  void* slab = nullptr;
  PP_CUDA_CHECK(cudaMalloc(&slab, stride * buffers));
  slabs_.push_back(slab);
  slab_bytes_ += stride * buffers;
  if (bytes_held_ != nullptr) *bytes_held_ += stride * buffers;
  for (std::size_t i = 0; i < buffers; ++i) {
    spare_.push_back(reinterpret_cast<float*>(static_cast<char*>(slab) + i * stride));
  }
  allocated_ += buffers;
}

void DeviceBufferPool::reserve(std::size_t buffers) {
  if (buffers > allocated_) add_slab(buffers - allocated_);
}

Buffer DeviceBufferPool::acquire() {
  if (spare_.empty()) add_slab(std::max<std::size_t>(4, allocated_ / 2));
  float* data = spare_.back();
  spare_.pop_back();
  peak_ = std::max(peak_, allocated_ - spare_.size());
  return Buffer::on_device(data, floats_);
}

void DeviceBufferPool::release(const Buffer& buffer) {
  if (!buffer.empty()) spare_.push_back(buffer.address());
}

}  // namespace pp::cuda
