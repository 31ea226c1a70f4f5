#include "train/metered_transport.h"

#include <utility>

#include "pp/runtime/forwarding_transport.h"

namespace pp {
namespace {

class MeteredTransport : public ForwardingTransport {
 public:
  MeteredTransport(std::unique_ptr<Transport> inner, double* bytes)
      : ForwardingTransport(std::move(inner)), bytes_(bytes) {}

  Request isend(int peer, const Buffer& data) override {
    *bytes_ += floats(data.count());
    return inner().isend(peer, data);
  }

  void allreduce_sum(const Buffer& data) override {
    *bytes_ += 2 * share() * floats(data.count());
    inner().allreduce_sum(data);
  }
  void allreduce_sum(double* data, std::size_t count) override {
    *bytes_ += 2 * share() * 8.0 * static_cast<double>(count);
    inner().allreduce_sum(data, count);
  }
  void allgather(const Buffer& mine, const Buffer& all) override {
    *bytes_ += share() * floats(all.count());
    inner().allgather(mine, all);
  }
  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override {
    *bytes_ += share() * floats(all.count());
    inner().reduce_scatter_sum(all, mine);
  }
  std::unique_ptr<Transport> split(int color, int key) override {
    std::unique_ptr<Transport> group = inner().split(color, key);
    return group == nullptr ? nullptr : metered(std::move(group), bytes_);
  }

 private:
  static double floats(std::size_t count) { return 4.0 * static_cast<double>(count); }
  // (p - 1) / p: the part of a collective's whole a rank sends in a ring.
  double share() const { return size() > 1 ? double(size() - 1) / size() : 0.0; }

  double* bytes_;
};

}  // namespace

std::unique_ptr<Transport> metered(std::unique_ptr<Transport> inner, double* bytes) {
  return std::make_unique<MeteredTransport>(std::move(inner), bytes);
}

}  // namespace pp
