#pragma once
// HostStaging (staged_transport.h) for a CUDA device: pinned host buffers (cudaHostAlloc), pooled
// by length, and copies on the communication stream ordered against the compute stream with
// events. A download waits on the host for its copy (the host must send the values next); an
// upload does not: the compute stream waits for it on the device, and its pinned buffer is only
// handed out again once the copy has read it (polled with cudaEventQuery).
#include <cuda_runtime.h>

#include <cstddef>
#include <deque>
#include <map>
#include <vector>

#include "cuda/device_context.h"
#include "cuda/event_pool.h"
#include "pp/runtime/staged_transport.h"

namespace pp::cuda {

class PinnedStaging : public HostStaging {
 public:
  explicit PinnedStaging(DeviceContext* device) : device_(device) {}
  ~PinnedStaging() override;

  Buffer acquire_host(std::size_t count) override;
  void release_host(const Buffer& host) override;
  void download(const Buffer& device, const Buffer& host) override;
  void upload(const Buffer& host, const Buffer& device) override;
  std::size_t host_buffers_out() const override { return out_; }
  std::size_t pinned_bytes() const { return pinned_bytes_; }

 private:
  struct InFlight {
    cudaEvent_t done;
    float* host;
  };
  void reclaim_finished_uploads();

  DeviceContext* device_;
  std::map<std::size_t, std::vector<float*>> spare_;  // length -> free pinned buffers
  std::map<float*, std::size_t> lengths_;             // every pinned buffer and its length
  std::vector<float*> released_while_uploading_;       // waiting for their upload to finish
  std::deque<InFlight> uploads_;
  EventPool events_;
  std::size_t out_ = 0;
  std::size_t pinned_bytes_ = 0;
};

}  // namespace pp::cuda
