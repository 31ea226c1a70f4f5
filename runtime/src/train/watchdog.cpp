#include "watchdog.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "pp/error.h"
#include "pp/runtime/forwarding_transport.h"
#include "pp/runtime/mpi_transport.h"

namespace pp {

Watchdog::Watchdog(double limit_s, int world_rank) : limit_s_(limit_s), world_rank_(world_rank) {
  if (limit_s_ > 0) thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::waiting(std::string what) {
  if (limit_s_ <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  waiting_ = true;
  what_ = std::move(what);
  since_ = std::chrono::steady_clock::now();
}

void Watchdog::progressed() {
  if (limit_s_ <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  waiting_ = false;
}

void Watchdog::arm(bool armed) {
  if (limit_s_ <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = armed;
  waiting_ = false;
}

void Watchdog::watch() {
  const auto tick = std::chrono::duration<double>(std::clamp(limit_s_ / 4, 0.01, 1.0));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, tick);
    if (stop_ || !waiting_ || !armed_) continue;
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
    if (waited < limit_s_) continue;
    std::fprintf(stderr,
                 "error: rank %d: no progress for %.0f s: waiting for %s; that rank may be stopped, hung or "
                 "far slower than this one (--watchdog-s sets the limit, 0 turns it off)\n",
                 world_rank_, waited, what_.c_str());
    std::fflush(stderr);
    mpi_abort(exit_code(ErrorCategory::kRuntime));
  }
}

namespace {

class WatchedTransport : public ForwardingTransport {
 public:
  WatchedTransport(std::unique_ptr<Transport> owned, Transport* inner, Watchdog* dog, std::string group,
                   std::string peer_name)
      : ForwardingTransport(std::move(owned), inner), dog_(dog), group_(std::move(group)),
        peer_name_(std::move(peer_name)) {}

  Request isend(int peer, const Buffer& data) override {
    const Request r = inner().isend(peer, data);
    peers_[r] = {peer, true};
    return r;
  }
  Request irecv(int peer, const Buffer& data) override {
    const Request r = inner().irecv(peer, data);
    peers_[r] = {peer, false};
    return r;
  }
  void wait(Request request) override {
    const auto it = peers_.find(request);
    std::string what = "a message";
    if (it != peers_.end()) {
      what = fmt::format("{} {} {} (in the {} group)", it->second.sending ? "a send to" : "a message from",
                         peer_name_, it->second.peer, group_);
      peers_.erase(it);
    }
    guarded(std::move(what), [&] { inner().wait(request); });
  }
  void allreduce_sum(const Buffer& data) override {
    guarded(collective("a sum"), [&] { inner().allreduce_sum(data); });
  }
  void allreduce_sum(double* data, std::size_t count) override {
    guarded(collective("a sum"), [&] { inner().allreduce_sum(data, count); });
  }
  void allgather(const Buffer& mine, const Buffer& all) override {
    guarded(collective("an all-gather"), [&] { inner().allgather(mine, all); });
  }
  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override {
    guarded(collective("a reduce-scatter"), [&] { inner().reduce_scatter_sum(all, mine); });
  }
  void broadcast(double* data, std::size_t count, int root) override {
    guarded(collective("a broadcast"), [&] { inner().broadcast(data, count, root); });
  }
  void barrier() override {
    guarded(collective("a barrier"), [&] { inner().barrier(); });
  }
  std::unique_ptr<Transport> split(int color, int key) override {
    std::unique_ptr<Transport> child;
    guarded(collective("a group split"), [&] { child = inner().split(color, key); });
    return child;  // the caller wraps it with the group's own name
  }
  std::vector<std::string> gather_bytes(const std::string& mine) override {
    std::vector<std::string> all;
    guarded(collective("a gather"), [&] { all = inner().gather_bytes(mine); });
    return all;
  }

 private:
  struct Peer {
    int peer = -1;
    bool sending = false;
  };

  std::string collective(const char* kind) const {
    return fmt::format("{} over the {} group ({} ranks); some rank of it has not joined", kind, group_, size());
  }

  // Tells the watchdog about a blocking call for as long as it runs, exceptions included.
  struct Waiting {
    Waiting(Watchdog* dog, std::string what) : dog_(dog) { dog_->waiting(std::move(what)); }
    ~Waiting() { dog_->progressed(); }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;
    Watchdog* dog_;
  };

  template <typename F>
  void guarded(std::string what, F&& call) {
    const Waiting waiting(dog_, std::move(what));
    call();
  }

  Watchdog* dog_;
  std::string group_;
  std::string peer_name_;
  std::map<Request, Peer> peers_;
};

}  // namespace

std::unique_ptr<Transport> watched(std::unique_ptr<Transport> inner, Watchdog* dog, std::string group,
                                   std::string peer_name) {
  if (inner == nullptr) return nullptr;
  Transport* raw = inner.get();
  return std::make_unique<WatchedTransport>(std::move(inner), raw, dog, std::move(group), std::move(peer_name));
}

std::unique_ptr<Transport> watched(Transport& inner, Watchdog* dog, std::string group, std::string peer_name) {
  return std::make_unique<WatchedTransport>(nullptr, &inner, dog, std::move(group), std::move(peer_name));
}

}  // namespace pp
