#include "train/metered_transport.h"

#include <utility>

namespace pp {
namespace {

class MeteredTransport : public Transport {
 public:
  MeteredTransport(std::unique_ptr<Transport> inner, double* bytes) : inner_(std::move(inner)), bytes_(bytes) {}

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  bool accepts(MemorySpace space) const override { return inner_->accepts(space); }
  bool posts_receives_ahead() const override { return inner_->posts_receives_ahead(); }
  void group_begin() override { inner_->group_begin(); }
  void group_end() override { inner_->group_end(); }

  Request isend(int peer, const Buffer& data) override {
    *bytes_ += floats(data.count());
    return inner_->isend(peer, data);
  }
  Request irecv(int peer, const Buffer& data) override { return inner_->irecv(peer, data); }
  void wait(Request request) override { inner_->wait(request); }

  void allreduce_sum(const Buffer& data) override {
    *bytes_ += 2 * share() * floats(data.count());
    inner_->allreduce_sum(data);
  }
  void allreduce_sum(double* data, std::size_t count) override {
    *bytes_ += 2 * share() * 8.0 * static_cast<double>(count);
    inner_->allreduce_sum(data, count);
  }
  void allgather(const Buffer& mine, const Buffer& all) override {
    *bytes_ += share() * floats(all.count());
    inner_->allgather(mine, all);
  }
  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override {
    *bytes_ += share() * floats(all.count());
    inner_->reduce_scatter_sum(all, mine);
  }
  void broadcast(double* data, std::size_t count, int root) override { inner_->broadcast(data, count, root); }
  void barrier() override { inner_->barrier(); }
  std::unique_ptr<Transport> split(int color, int key) override {
    std::unique_ptr<Transport> group = inner_->split(color, key);
    return group == nullptr ? nullptr : metered(std::move(group), bytes_);
  }
  std::vector<std::string> gather_bytes(const std::string& mine) override { return inner_->gather_bytes(mine); }

 private:
  static double floats(std::size_t count) { return 4.0 * static_cast<double>(count); }
  // (p - 1) / p: the part of a collective's whole a rank sends in a ring.
  double share() const { return size() > 1 ? double(size() - 1) / size() : 0.0; }

  std::unique_ptr<Transport> inner_;
  double* bytes_;
};

}  // namespace

std::unique_ptr<Transport> metered(std::unique_ptr<Transport> inner, double* bytes) {
  return std::make_unique<MeteredTransport>(std::move(inner), bytes);
}

}  // namespace pp
