#pragma once
// A transport that passes every call to another one: the base of decorators (a watchdog, a byte
// counter, a fault injector in tests), which override only the calls they change.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pp/runtime/transport.h"

namespace pp {

class ForwardingTransport : public Transport {
 public:
  // Forwards to `inner`, owned when `owned` is given (then inner == owned.get()), else borrowed
  // (it must outlive this transport).
  ForwardingTransport(std::unique_ptr<Transport> owned, Transport* inner)
      : owned_(std::move(owned)), inner_(inner) {}
  explicit ForwardingTransport(std::unique_ptr<Transport> owned)
      : owned_(std::move(owned)), inner_(owned_.get()) {}

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  bool accepts(MemorySpace space) const override { return inner_->accepts(space); }
  bool posts_receives_ahead() const override { return inner_->posts_receives_ahead(); }
  void group_begin() override { inner_->group_begin(); }
  void group_end() override { inner_->group_end(); }
  Request isend(int peer, const Buffer& data) override { return inner_->isend(peer, data); }
  Request irecv(int peer, const Buffer& data) override { return inner_->irecv(peer, data); }
  void wait(Request request) override { inner_->wait(request); }
  void allreduce_sum(const Buffer& data) override { inner_->allreduce_sum(data); }
  void allreduce_sum(double* data, std::size_t count) override { inner_->allreduce_sum(data, count); }
  void allgather(const Buffer& mine, const Buffer& all) override { inner_->allgather(mine, all); }
  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override { inner_->reduce_scatter_sum(all, mine); }
  void broadcast(double* data, std::size_t count, int root) override { inner_->broadcast(data, count, root); }
  void barrier() override { inner_->barrier(); }
  std::unique_ptr<Transport> split(int color, int key) override { return inner_->split(color, key); }
  std::vector<std::string> gather_bytes(const std::string& mine) override { return inner_->gather_bytes(mine); }

 protected:
  Transport& inner() const { return *inner_; }

 private:
  std::unique_ptr<Transport> owned_;
  Transport* inner_;
};

}  // namespace pp
