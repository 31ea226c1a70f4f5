#include "cuda/nccl_transport.h"

#include <fmt/format.h>
#include <nccl.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/event_pool.h"
#include "pp/error.h"

#define PP_NCCL_CHECK(call)                                                             \
  do {                                                                                  \
    const ncclResult_t pp_nccl_status_ = (call);                                        \
    if (pp_nccl_status_ != ncclSuccess) {                                               \
      ::pp::cuda::fail_call(#call, __FILE__, __LINE__, ncclGetErrorString(pp_nccl_status_)); \
    }                                                                                   \
  } while (0)

namespace pp::cuda {
namespace {

// The 128-byte unique id crosses the host transport as 32 doubles of 4 bytes each (exact).
ncclUniqueId share_unique_id(Transport& host) {
  ncclUniqueId id{};
  if (host.rank() == 0) PP_NCCL_CHECK(ncclGetUniqueId(&id));
  static_assert(sizeof(id) % 4 == 0);
  std::array<double, sizeof(id) / 4> words{};
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::uint32_t w = 0;
    std::memcpy(&w, reinterpret_cast<const char*>(&id) + 4 * i, 4);
    words[i] = w;
  }
  host.broadcast(words.data(), words.size(), 0);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto w = static_cast<std::uint32_t>(words[i]);
    std::memcpy(reinterpret_cast<char*>(&id) + 4 * i, &w, 4);
  }
  return id;
}

class NcclTransport : public Transport {
 public:
  NcclTransport(std::unique_ptr<Transport> host, DeviceContext* device)
      : host_(std::move(host)), device_(device) {
    const ncclUniqueId id = share_unique_id(*host_);
    PP_CUDA_CHECK(cudaSetDevice(device_->device()));
    PP_NCCL_CHECK(ncclCommInitRank(&comm_, host_->size(), id, host_->rank()));
  }
  ~NcclTransport() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  bool accepts(MemorySpace) const override { return true; }
  bool posts_receives_ahead() const override { return false; }

  void group_begin() override {
    device_->order(device_->compute(), device_->comm());  // after the kernels that made the sends
    PP_NCCL_CHECK(ncclGroupStart());
    in_group_ = true;
  }
  void group_end() override {
    PP_NCCL_CHECK(ncclGroupEnd());
    in_group_ = false;
    const cudaEvent_t done = events_.take();
    PP_CUDA_CHECK(cudaEventRecord(done, device_->comm()));
    for (Request r : group_requests_) requests_[r] = done;
    if (group_requests_.empty()) events_.give(done);
    shared_[done] = group_requests_.size();
    group_requests_.clear();
  }

  Request isend(int peer, const Buffer& data) override {
    if (data.on_host()) return host_->isend(peer, data) + kHostRequests;
    check_in_group("send");
    PP_NCCL_CHECK(ncclSend(data.address(), data.count(), ncclFloat32, peer, comm_, device_->comm()));
    return new_request();
  }
  Request irecv(int peer, const Buffer& data) override {
    if (data.on_host()) return host_->irecv(peer, data) + kHostRequests;
    check_in_group("receive");
    PP_NCCL_CHECK(ncclRecv(data.address(), data.count(), ncclFloat32, peer, comm_, device_->comm()));
    return new_request();
  }
  void wait(Request request) override {
    if (request < 0) return;
    if (request >= kHostRequests) return host_->wait(request - kHostRequests);
    auto it = requests_.find(request);
    if (it == requests_.end()) throw Error(ErrorCategory::kInternal, fmt::format("NCCL request {} unknown", request));
    const cudaEvent_t done = it->second;
    requests_.erase(it);
    PP_CUDA_CHECK(cudaStreamWaitEvent(device_->compute(), done, 0));
    if (--shared_[done] == 0) {
      shared_.erase(done);
      events_.give(done);
    }
  }

  void allreduce_sum(const Buffer& data) override {
    if (data.on_host()) return host_->allreduce_sum(data);
    device_->order(device_->compute(), device_->comm());
    PP_NCCL_CHECK(ncclAllReduce(data.address(), data.address(), data.count(), ncclFloat32, ncclSum, comm_,
                                device_->comm()));
    device_->order(device_->comm(), device_->compute());
  }
  void allreduce_sum(double* data, std::size_t count) override { host_->allreduce_sum(data, count); }
  void allgather(const Buffer& mine, const Buffer& all) override {
    if (mine.on_host()) return host_->allgather(mine, all);
    check_collective_parts(mine, all, size(), "allgather");
    device_->order(device_->compute(), device_->comm());
    PP_NCCL_CHECK(ncclAllGather(mine.address(), all.address(), mine.count(), ncclFloat32, comm_, device_->comm()));
    device_->order(device_->comm(), device_->compute());
  }
  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override {
    if (all.on_host()) return host_->reduce_scatter_sum(all, mine);
    check_collective_parts(mine, all, size(), "reduce_scatter_sum");
    device_->order(device_->compute(), device_->comm());
    PP_NCCL_CHECK(ncclReduceScatter(all.address(), mine.address(), mine.count(), ncclFloat32, ncclSum, comm_,
                                    device_->comm()));
    device_->order(device_->comm(), device_->compute());
  }
  void broadcast(double* data, std::size_t count, int root) override { host_->broadcast(data, count, root); }
  void barrier() override { host_->barrier(); }
  std::unique_ptr<Transport> split(int color, int key) override {
    std::unique_ptr<Transport> group = host_->split(color, key);
    if (group == nullptr) return nullptr;
    return std::make_unique<NcclTransport>(std::move(group), device_);
  }
  std::vector<std::string> gather_bytes(const std::string& mine) override { return host_->gather_bytes(mine); }

 private:
  // Requests of host-memory operations are the host transport's plus this offset.
  static constexpr Request kHostRequests = 1 << 30;

  void check_in_group(const char* what) const {
    if (!in_group_) {
      throw Error(ErrorCategory::kInternal, fmt::format("an NCCL {} outside ncclGroupStart/End", what));
    }
  }
  Request new_request() {
    const Request r = next_request_;
    next_request_ = (next_request_ + 1) % kHostRequests;
    group_requests_.push_back(r);
    return r;
  }

  std::unique_ptr<Transport> host_;
  DeviceContext* device_;
  ncclComm_t comm_ = nullptr;
  bool in_group_ = false;
  Request next_request_ = 0;
  std::vector<Request> group_requests_;
  std::map<Request, cudaEvent_t> requests_;     // issued, not yet waited for
  std::map<cudaEvent_t, std::size_t> shared_;   // a group's event -> its requests not yet waited for
  EventPool events_;
};

}  // namespace

std::unique_ptr<Transport> nccl_transport(std::unique_ptr<Transport> host, DeviceContext* device) {
  return std::make_unique<NcclTransport>(std::move(host), device);
}

}  // namespace pp::cuda
