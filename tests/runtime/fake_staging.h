#pragma once
// HostStaging for "device" memory that is host memory tagged as device (MemorySpace::kDevice):
// copies with memcpy, pools host buffers by length, counts what it did. Host code may not read
// such buffers through Buffer::host_data(), so a path that skips the staging throws in tests.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "pp/runtime/staged_transport.h"

namespace pp::test {

// Staging for the tagged "device" memory: copies with memcpy, pools host buffers by length.
class FakeStaging : public HostStaging {
 public:
  Buffer acquire_host(std::size_t count) override {
    std::vector<float*>& spare = spare_[count];
    ++out_;
    if (spare.empty()) {
      owned_.push_back(std::make_unique<float[]>(count));
      return Buffer::on_host(owned_.back().get(), count);
    }
    float* data = spare.back();
    spare.pop_back();
    return Buffer::on_host(data, count);
  }
  void release_host(const Buffer& host) override {
    --out_;
    spare_[host.count()].push_back(host.host_data());
  }
  void download(const Buffer& device, const Buffer& host) override {
    EXPECT_FALSE(device.on_host());
    ASSERT_EQ(device.count(), host.count());
    std::memcpy(host.host_data(), device.address(), device.bytes());
    ++downloads;
  }
  void upload(const Buffer& host, const Buffer& device) override {
    EXPECT_FALSE(device.on_host());
    ASSERT_EQ(device.count(), host.count());
    std::memcpy(device.address(), host.host_data(), device.bytes());
    ++uploads;
  }
  std::size_t host_buffers_out() const override { return out_; }
  std::size_t allocations() const { return owned_.size(); }

  int downloads = 0;
  int uploads = 0;

 private:
  std::vector<std::unique_ptr<float[]>> owned_;
  std::map<std::size_t, std::vector<float*>> spare_;
  std::size_t out_ = 0;
};

}  // namespace pp::test
