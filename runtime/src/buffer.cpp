#include "pp/runtime/buffer.h"

#include <fmt/format.h>

#include "cpu/host_buffer_pool.h"
#include "pp/error.h"
#include "pp/runtime/transport.h"

namespace pp {

float* Buffer::host_data() const {
  if (empty()) throw Error(ErrorCategory::kInternal, "host access to an empty buffer");
  if (!on_host()) {
    throw Error(ErrorCategory::kInternal,
                fmt::format("host access to {} floats of device memory: stage them through the host first",
                            count_));
  }
  return data_;
}

Buffer Buffer::slice(std::size_t offset, std::size_t count) const {
  if (offset > count_ || count > count_ - offset) {
    throw Error(ErrorCategory::kInternal,
                fmt::format("slice [{}, {}) of a buffer of {} floats", offset, offset + count, count_));
  }
  return {data_ + offset, count, space_};
}

void check_collective_parts(const Buffer& mine, const Buffer& all, int ranks, const char* call) {
  if (ranks < 1 || all.count() != mine.count() * static_cast<std::size_t>(ranks) || mine.space() != all.space()) {
    throw Error(ErrorCategory::kInternal,
                fmt::format("{} of {} floats per rank over {} ranks into a buffer of {} floats", call, mine.count(),
                            ranks, all.count()));
  }
}

std::unique_ptr<BufferPool> make_host_buffer_pool(std::size_t buffer_floats) {
  return std::make_unique<cpu::HostBufferPool>(buffer_floats);
}

}  // namespace pp
