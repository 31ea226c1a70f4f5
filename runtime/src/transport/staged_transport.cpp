#include "pp/runtime/staged_transport.h"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "pp/error.h"

namespace pp {
namespace {

class StagedTransport : public Transport {
 public:
  StagedTransport(std::unique_ptr<Transport> inner, HostStaging* staging)
      : inner_(std::move(inner)), staging_(staging) {}

  ~StagedTransport() override {
    for (auto& [request, staged] : staged_) staging_->release_host(staged.host);
  }

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  bool accepts(MemorySpace) const override { return true; }
  bool posts_receives_ahead() const override { return inner_->posts_receives_ahead(); }
  void group_begin() override { inner_->group_begin(); }
  void group_end() override { inner_->group_end(); }

  Request isend(int peer, const Buffer& data) override {
    if (data.on_host()) return inner_->isend(peer, data);
    const Buffer host = staging_->acquire_host(data.count());
    staging_->download(data, host);
    return remember(inner_->isend(peer, host), host, Buffer());
  }

  Request irecv(int peer, const Buffer& data) override {
    if (data.on_host()) return inner_->irecv(peer, data);
    const Buffer host = staging_->acquire_host(data.count());
    return remember(inner_->irecv(peer, host), host, data);
  }

  void wait(Request request) override {
    inner_->wait(request);
    auto it = staged_.find(request);
    if (it == staged_.end()) return;
    const Staged staged = it->second;
    staged_.erase(it);
    if (!staged.device.empty()) staging_->upload(staged.host, staged.device);
    staging_->release_host(staged.host);
  }

  void allreduce_sum(const Buffer& data) override {
    if (data.on_host()) return inner_->allreduce_sum(data);
    const Buffer host = staging_->acquire_host(data.count());
    try {
      staging_->download(data, host);
      inner_->allreduce_sum(host);
      staging_->upload(host, data);
    } catch (...) {
      staging_->release_host(host);
      throw;
    }
    staging_->release_host(host);
  }

  void allreduce_sum(double* data, std::size_t count) override { inner_->allreduce_sum(data, count); }

  void allgather(const Buffer& mine, const Buffer& all) override {
    if (mine.on_host()) return inner_->allgather(mine, all);
    through_host(mine, all, [&](const Buffer& in, const Buffer& out) { inner_->allgather(in, out); });
  }

  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override {
    if (all.on_host()) return inner_->reduce_scatter_sum(all, mine);
    through_host(all, mine, [&](const Buffer& in, const Buffer& out) { inner_->reduce_scatter_sum(in, out); });
  }
  void broadcast(double* data, std::size_t count, int root) override { inner_->broadcast(data, count, root); }
  void barrier() override { inner_->barrier(); }

  std::unique_ptr<Transport> split(int color, int key) override {
    std::unique_ptr<Transport> group = inner_->split(color, key);
    if (group == nullptr) return nullptr;
    return std::make_unique<StagedTransport>(std::move(group), staging_);
  }

  std::vector<std::string> gather_bytes(const std::string& mine) override { return inner_->gather_bytes(mine); }

 private:
  // A collective of device buffers run on host copies: `in` downloaded, op(host in, host out),
  // `out` uploaded.
  template <class Op>
  void through_host(const Buffer& in, const Buffer& out, Op op) {
    const Buffer host_in = staging_->acquire_host(in.count());
    Buffer host_out;
    try {
      host_out = staging_->acquire_host(out.count());
      staging_->download(in, host_in);
      op(host_in, host_out);
      staging_->upload(host_out, out);
    } catch (...) {
      staging_->release_host(host_in);
      if (!host_out.empty()) staging_->release_host(host_out);
      throw;
    }
    staging_->release_host(host_in);
    staging_->release_host(host_out);
  }

  struct Staged {
    Buffer host;    // the pinned copy the inner transport moves
    Buffer device;  // a receive's destination; empty for a send
  };

  Request remember(Request request, const Buffer& host, const Buffer& device) {
    if (!staged_.emplace(request, Staged{host, device}).second) {
      throw Error(ErrorCategory::kInternal, fmt::format("rank {}: request {} staged twice", rank(), request));
    }
    return request;
  }

  std::unique_ptr<Transport> inner_;
  HostStaging* staging_;
  std::map<Request, Staged> staged_;  // outstanding staged operations by request
};

}  // namespace

std::unique_ptr<Transport> staged(std::unique_ptr<Transport> inner, HostStaging* staging) {
  if (inner == nullptr || staging == nullptr) throw Error(ErrorCategory::kInternal, "staged transport without parts");
  return std::make_unique<StagedTransport>(std::move(inner), staging);
}

}  // namespace pp
