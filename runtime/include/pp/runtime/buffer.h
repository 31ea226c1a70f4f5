#pragma once
// Handles to memory a backend owns. The executor, the transports and the trainer pass Buffers,
// never raw pointers: a Buffer says where its floats live (host or device memory), and host code
// reaches the values only through host_data(), which refuses device memory. So a device pointer
// never meets code that would dereference it on the host.
//
// A Buffer does not own its memory: it is valid while its owner (a BufferPool, a backend's
// parameters) keeps it. The empty Buffer (default-constructed) stands for "no buffer".

#include <cstddef>
#include <memory>

namespace pp {

enum class MemorySpace { kHost, kDevice };

class Buffer {
 public:
  Buffer() = default;
  static Buffer on_host(float* data, std::size_t count) { return {data, count, MemorySpace::kHost}; }
  static Buffer on_device(float* data, std::size_t count) { return {data, count, MemorySpace::kDevice}; }

  bool empty() const { return data_ == nullptr; }
  std::size_t count() const { return count_; }  // float32 values
  std::size_t bytes() const { return count_ * sizeof(float); }
  MemorySpace space() const { return space_; }
  bool on_host() const { return space_ == MemorySpace::kHost; }

  // The values, for host code. Throws pp::Error(kInternal) for device memory or an empty handle.
  float* host_data() const;
  // The raw address, for device kernels, copies and transports that know the space.
  float* address() const { return data_; }
  // count floats from offset on; throws pp::Error(kInternal) past the end.
  Buffer slice(std::size_t offset, std::size_t count) const;

 private:
  Buffer(float* data, std::size_t count, MemorySpace space) : data_(data), count_(count), space_(space) {}
  float* data_ = nullptr;
  std::size_t count_ = 0;
  MemorySpace space_ = MemorySpace::kHost;
};

// A backend's buffers for the executor's messages and hand-offs: activations and their gradients
// between stages, all of one size (b * T * C floats). A buffer given back is handed out again, so
// once the first step has run a step allocates nothing.
class BufferPool {
 public:
  virtual ~BufferPool() = default;
  // A buffer of buffer_floats() floats; contents unspecified (the taker overwrites them).
  virtual Buffer acquire() = 0;
  // Gives back a buffer from acquire(); empty ones are ignored. The caller has finished every use
  // of it (on a device: every use is ordered before the next acquirer's on the backend's stream).
  virtual void release(const Buffer& buffer) = 0;
  virtual std::size_t buffer_floats() const = 0;
  virtual std::size_t allocations() const = 0;  // buffers allocated so far
  virtual std::size_t peak_in_use() const = 0;  // the most buffers out at once
};

// Host memory: the CPU backend's pool (and a test's).
std::unique_ptr<BufferPool> make_host_buffer_pool(std::size_t buffer_floats);

}  // namespace pp
