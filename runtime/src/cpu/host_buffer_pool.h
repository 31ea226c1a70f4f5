#pragma once
// The CPU backend's BufferPool: host memory, handed out again after release.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "pp/runtime/buffer.h"

namespace pp::cpu {

class HostBufferPool : public BufferPool {
 public:
  explicit HostBufferPool(std::size_t buffer_floats) : floats_(buffer_floats) {}

  Buffer acquire() override {
    if (spare_.empty()) {
      owned_.push_back(std::make_unique<float[]>(floats_));
      spare_.push_back(owned_.back().get());
    }
    float* data = spare_.back();
    spare_.pop_back();
    peak_ = std::max(peak_, owned_.size() - spare_.size());
    return Buffer::on_host(data, floats_);
  }
  void release(const Buffer& buffer) override {
    if (!buffer.empty()) spare_.push_back(buffer.host_data());
  }
  std::size_t buffer_floats() const override { return floats_; }
  std::size_t allocations() const override { return owned_.size(); }
  std::size_t peak_in_use() const override { return peak_; }

 private:
  std::size_t floats_;
  std::vector<std::unique_ptr<float[]>> owned_;
  std::vector<float*> spare_;
  std::size_t peak_ = 0;
};

}  // namespace pp::cpu
