#include "cuda/pinned_staging.h"

#include <algorithm>

#include "cuda/cuda_check.h"
#include "pp/error.h"

namespace pp::cuda {

PinnedStaging::~PinnedStaging() {
  cudaStreamSynchronize(device_->comm());
  for (auto& [host, length] : lengths_) cudaFreeHost(host);
}

Buffer PinnedStaging::acquire_host(std::size_t count) {
  reclaim_finished_uploads();
  ++out_;
  std::vector<float*>& spare = spare_[count];
  if (!spare.empty()) {
    float* host = spare.back();
    spare.pop_back();
    return Buffer::on_host(host, count);
  }
  void* host = nullptr;
  PP_CUDA_CHECK(cudaHostAlloc(&host, count * sizeof(float), cudaHostAllocPortable));
  lengths_[static_cast<float*>(host)] = count;
  pinned_bytes_ += count * sizeof(float);
  return Buffer::on_host(static_cast<float*>(host), count);
}

void PinnedStaging::release_host(const Buffer& host) {
  --out_;
  float* data = host.host_data();
  const bool uploading = std::any_of(uploads_.begin(), uploads_.end(),
                                     [data](const InFlight& u) { return u.host == data; });
  if (uploading) {
    released_while_uploading_.push_back(data);
  } else {
    spare_[lengths_.at(data)].push_back(data);
  }
}

void PinnedStaging::download(const Buffer& device, const Buffer& host) {
  if (device.count() != host.count()) throw Error(ErrorCategory::kInternal, "staging copy of unequal lengths");
  device_->order(device_->compute(), device_->comm());  // after the kernels that wrote `device`
  PP_CUDA_CHECK(cudaMemcpyAsync(host.host_data(), device.address(), device.bytes(), cudaMemcpyDeviceToHost,
                                device_->comm()));
  PP_CUDA_CHECK(cudaStreamSynchronize(device_->comm()));
}

void PinnedStaging::upload(const Buffer& host, const Buffer& device) {
  if (device.count() != host.count()) throw Error(ErrorCategory::kInternal, "staging copy of unequal lengths");
  // After earlier compute that may still read the old contents of `device`.
  device_->order(device_->compute(), device_->comm());
  PP_CUDA_CHECK(cudaMemcpyAsync(device.address(), host.host_data(), device.bytes(), cudaMemcpyHostToDevice,
                                device_->comm()));
  const cudaEvent_t done = events_.take();
  PP_CUDA_CHECK(cudaEventRecord(done, device_->comm()));
  PP_CUDA_CHECK(cudaStreamWaitEvent(device_->compute(), done, 0));
  uploads_.push_back({done, host.host_data()});
}

void PinnedStaging::reclaim_finished_uploads() {
  while (!uploads_.empty()) {
    const cudaError_t status = cudaEventQuery(uploads_.front().done);
    if (status == cudaErrorNotReady) return;
    PP_CUDA_CHECK(status);
    float* host = uploads_.front().host;
    events_.give(uploads_.front().done);
    uploads_.pop_front();
    auto it = std::find(released_while_uploading_.begin(), released_while_uploading_.end(), host);
    if (it != released_while_uploading_.end()) {
      released_while_uploading_.erase(it);
      spare_[lengths_.at(host)].push_back(host);
    }
  }
}

}  // namespace pp::cuda
