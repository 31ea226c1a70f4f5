#include "pp/runtime/mpi_transport.h"

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "pp/error.h"

#define PP_MPI_CHECK(call)                                                                    \
  do {                                                                                        \
    const int pp_mpi_status_ = (call);                                                        \
    if (pp_mpi_status_ != MPI_SUCCESS) {                                                      \
      char pp_mpi_text_[MPI_MAX_ERROR_STRING];                                                \
      int pp_mpi_length_ = 0;                                                                 \
      MPI_Error_string(pp_mpi_status_, pp_mpi_text_, &pp_mpi_length_);                        \
      throw ::pp::Error(::pp::ErrorCategory::kInternal,                                       \
                        fmt::format("{} failed at {}:{} on rank {}: {}", #call, __FILE__,     \
                                    __LINE__, world_rank(), std::string(pp_mpi_text_,         \
                                                                        pp_mpi_length_)));    \
    }                                                                                         \
  } while (0)

namespace pp {
namespace {

int world_rank() {
  int rank = -1;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// MPI counts are int: a message of more elements would be silently cut.
int mpi_count(std::size_t count) {
  if (count > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(ErrorCategory::kInternal, fmt::format("a message of {} elements is over MPI's int count", count));
  }
  return static_cast<int>(count);
}

class MpiTransport : public Transport {
 public:
  explicit MpiTransport(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiTransport() override {
    if (owned_) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  bool accepts(MemorySpace space) const override { return space == MemorySpace::kHost; }

  Request isend(int peer, const Buffer& data) override {
    MPI_Request request;
    PP_MPI_CHECK(MPI_Isend(data.host_data(), mpi_count(data.count()), MPI_FLOAT, peer, 0, comm_, &request));
    return store(request);
  }

  Request irecv(int peer, const Buffer& data) override {
    MPI_Request request;
    PP_MPI_CHECK(MPI_Irecv(data.host_data(), mpi_count(data.count()), MPI_FLOAT, peer, 0, comm_, &request));
    return store(request);
  }

  void wait(Request r) override {
    if (r < 0) return;
    PP_MPI_CHECK(MPI_Wait(&requests_[r], MPI_STATUS_IGNORE));
    free_.push_back(r);
  }

  void allreduce_sum(const Buffer& data) override {
    PP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data.host_data(), mpi_count(data.count()), MPI_FLOAT, MPI_SUM,
                               comm_));
  }

  void allreduce_sum(double* data, std::size_t count) override {
    PP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, mpi_count(count), MPI_DOUBLE, MPI_SUM, comm_));
  }

  void allgather(const Buffer& mine, const Buffer& all) override {
    check_collective_parts(mine, all, size_, "allgather");
    PP_MPI_CHECK(MPI_Allgather(mine.host_data(), mpi_count(mine.count()), MPI_FLOAT, all.host_data(),
                               mpi_count(mine.count()), MPI_FLOAT, comm_));
  }

  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override {
    check_collective_parts(mine, all, size_, "reduce_scatter_sum");
    PP_MPI_CHECK(MPI_Reduce_scatter_block(all.host_data(), mine.host_data(), mpi_count(mine.count()), MPI_FLOAT,
                                          MPI_SUM, comm_));
  }

  void broadcast(double* data, std::size_t count, int root) override {
    PP_MPI_CHECK(MPI_Bcast(data, mpi_count(count), MPI_DOUBLE, root, comm_));
  }

  void barrier() override { PP_MPI_CHECK(MPI_Barrier(comm_)); }

  std::unique_ptr<Transport> split(int color, int key) override {
    MPI_Comm comm;
    PP_MPI_CHECK(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &comm));
    if (comm == MPI_COMM_NULL) return nullptr;
    return std::make_unique<MpiTransport>(comm, true);
  }

  // Point to point in pieces of at most 1 GiB, so that blobs over 2^31 bytes (a large model's
  // checkpoint) need no int counts.
  std::vector<std::string> gather_bytes(const std::string& mine) override {
    constexpr std::size_t kPiece = std::size_t{1} << 30;
    std::uint64_t length = mine.size();
    std::vector<std::uint64_t> lengths(rank_ == 0 ? size_ : 0);
    PP_MPI_CHECK(MPI_Gather(&length, 1, MPI_UINT64_T, lengths.data(), 1, MPI_UINT64_T, 0, comm_));
    if (rank_ != 0) {
      for (std::size_t at = 0; at < mine.size(); at += kPiece) {
        const int count = static_cast<int>(std::min(kPiece, mine.size() - at));
        PP_MPI_CHECK(MPI_Send(mine.data() + at, count, MPI_CHAR, 0, 1, comm_));
      }
      return {};
    }
    std::vector<std::string> out(size_);
    out[0] = mine;
    for (int r = 1; r < size_; ++r) {
      out[r].resize(lengths[r]);
      for (std::size_t at = 0; at < lengths[r]; at += kPiece) {
        const int count = static_cast<int>(std::min<std::size_t>(kPiece, lengths[r] - at));
        PP_MPI_CHECK(MPI_Recv(out[r].data() + at, count, MPI_CHAR, r, 1, comm_, MPI_STATUS_IGNORE));
      }
    }
    return out;
  }

 private:
  Request store(MPI_Request request) {
    if (!free_.empty()) {
      const Request r = free_.back();
      free_.pop_back();
      requests_[r] = request;
      return r;
    }
    requests_.push_back(request);
    return static_cast<Request>(requests_.size() - 1);
  }

  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0;
  int size_ = 1;
  std::vector<MPI_Request> requests_;
  std::vector<Request> free_;
};

}  // namespace

void mpi_initialize(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  // FUNNELED: only the main thread makes MPI calls; the progress watchdog's thread may still
  // call MPI_Abort to end a stuck job.
  int provided = 0;
  if (!initialized) MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
}

bool mpi_initialized() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  int finalized = 0;
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

int mpi_world_rank() {
  int rank = 0;
  if (mpi_initialized()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int mpi_world_size() {
  int size = 1;
  if (mpi_initialized()) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

void mpi_finalize() {
  if (mpi_initialized()) MPI_Finalize();
}

NodePlace mpi_node_place() {
  NodePlace place;
  if (!mpi_initialized()) return place;
  MPI_Comm node = MPI_COMM_NULL;
  const int world = mpi_world_rank();
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world, MPI_INFO_NULL, &node) != MPI_SUCCESS) {
    return place;
  }
  MPI_Comm_rank(node, &place.rank);
  MPI_Comm_size(node, &place.size);
  MPI_Comm_free(&node);
  return place;
}

void mpi_abort(int code) {
  if (mpi_initialized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

std::unique_ptr<Transport> mpi_world() {
  return std::make_unique<MpiTransport>(MPI_COMM_WORLD, false);
}

}  // namespace pp
