#pragma once
// DeviceBuffer<T>: a tiny owning buffer of n elements of device memory for the CUDA tests.
// Upload from a std::vector<T> on construction, download into a new std::vector<T>. Move-only.
// Every CUDA call is checked (PP_CUDA_CHECK throws pp::Error). Transfers are synchronous:
// download() first waits for all work on the device, so results of kernels launched on any
// stream are complete. Use DeviceBuffer<float> for tensors and DeviceBuffer<std::int32_t> for
// tokens and targets.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"

namespace pp::cuda::test {

template <class T>
class DeviceBuffer {
 public:
  // n elements, contents unspecified (not zeroed).
  explicit DeviceBuffer(std::size_t n) : size_(n) {
    if (size_ > 0) PP_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), bytes()));
  }
  // A copy of `host` on the device.
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);  // no throw from a destructor
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      if (data_ != nullptr) cudaFree(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return data_; }  // device pointer; nullptr when size() == 0
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

  // Replaces the contents (host.size() must equal size()); waits for the device first.
  void upload(const std::vector<T>& host) {
    PP_CUDA_CHECK(cudaDeviceSynchronize());
    if (size_ > 0) {
      PP_CUDA_CHECK(cudaMemcpy(data_, host.data(), bytes(), cudaMemcpyHostToDevice));
    }
  }

  // Waits for the device, then copies the contents to the host.
  std::vector<T> download() const {
    std::vector<T> host(size_);
    PP_CUDA_CHECK(cudaDeviceSynchronize());
    if (size_ > 0) {
      PP_CUDA_CHECK(cudaMemcpy(host.data(), data_, bytes(), cudaMemcpyDeviceToHost));
    }
    return host;
  }

 private:
  std::size_t bytes() const { return size_ * sizeof(T); }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace pp::cuda::test
