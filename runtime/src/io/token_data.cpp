#include "pp/runtime/token_data.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "pp/error.h"

namespace pp {
namespace {

constexpr std::int32_t kLlmcMagic = 20240520;
constexpr std::size_t kLlmcHeaderBytes = 256 * sizeof(std::int32_t);
constexpr std::size_t kScanTokens = std::size_t{1} << 21;  // 4 MiB per read when scanning

std::int32_t read_i32(const unsigned char* p) {
  return static_cast<std::int32_t>(
      static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
      (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24));
}

std::uint16_t read_u16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }

std::shared_ptr<const int> open_fd(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io(fmt::format("cannot read token file '{}': {}", path, std::strerror(errno)));
  return std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
}

std::size_t file_size(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_io(fmt::format("cannot read token file '{}': {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw_io(fmt::format("token file '{}' is not a regular file", path));
  return static_cast<std::size_t>(st.st_size);
}

// Validates llm.c's header (the first 1024 bytes); returns the token count it states.
std::size_t check_llmc_header(const unsigned char* header, std::size_t size, const std::string& path) {
  const std::int32_t version = read_i32(header + 4);
  if (version != 1) {
    throw_invalid(fmt::format("token file '{}' has llm.c header version {}; pp reads version 1 (uint16 tokens)",
                              path, version));
  }
  const std::int64_t stated = read_i32(header + 8);
  const std::size_t actual = (size - kLlmcHeaderBytes) / 2;
  if (stated < 0 || static_cast<std::size_t>(stated) != actual) {
    throw_invalid(fmt::format("token file '{}' header says {} tokens but the file holds {}", path, stated, actual));
  }
  return actual;
}

}  // namespace

TokenData TokenData::open(const std::string& path) {
  TokenData data;
  data.path_ = path;
  data.fd_ = open_fd(path);
  const std::size_t size = file_size(*data.fd_, path);
  if (size % 2 != 0) {
    throw_invalid(fmt::format("token file '{}' has an odd byte count ({}); tokens are uint16", path, size));
  }
  unsigned char magic[4] = {};
  if (size >= 4) data.read_bytes(0, 4, magic);
  if (size >= 4 && read_i32(magic) == kLlmcMagic) {
    if (size < kLlmcHeaderBytes) {
      throw_invalid(fmt::format("token file '{}' starts with llm.c's magic but is shorter than its 1024-byte header",
                                path));
    }
    unsigned char header[kLlmcHeaderBytes];
    data.read_bytes(0, kLlmcHeaderBytes, header);
    data.count_ = check_llmc_header(header, size, path);
    data.offset_ = kLlmcHeaderBytes;
  } else {
    data.count_ = size / 2;
  }
  if (data.count_ == 0) throw_invalid(fmt::format("token file '{}' has no tokens", path));
  return data;
}

void TokenData::read_bytes(std::size_t offset, std::size_t count, unsigned char* out) const {
  while (count > 0) {
    const ssize_t n = ::pread(*fd_, out, count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io(fmt::format("error reading token file '{}': {}", path_, std::strerror(errno)));
    if (n == 0) {
      throw_io(fmt::format("token file '{}' ended at byte {} while pp read it (it was {} bytes at the start: "
                           "was it truncated or replaced during the run?)",
                           path_, offset, offset_ + 2 * count_));
    }
    out += n;
    offset += static_cast<std::size_t>(n);
    count -= static_cast<std::size_t>(n);
  }
}

void TokenData::read_tokens(std::size_t first, std::size_t count, std::int32_t* out) const {
  std::vector<unsigned char> bytes(2 * count);
  read_bytes(offset_ + 2 * first, bytes.size(), bytes.data());
  for (std::size_t i = 0; i < count; ++i) out[i] = read_u16(bytes.data() + 2 * i);
}

std::uint16_t TokenData::token(std::size_t index) const {
  std::int32_t id = 0;
  read_tokens(index, 1, &id);
  return static_cast<std::uint16_t>(id);
}

void TokenData::check_vocabulary(long long vocab) const {
  std::vector<std::int32_t> ids;
  for (std::size_t first = 0; first < count_; first += kScanTokens) {
    const std::size_t n = std::min(kScanTokens, count_ - first);
    ids.resize(n);
    read_tokens(first, n, ids.data());
    for (std::size_t i = 0; i < n; ++i) {
      if (ids[i] >= vocab) {
        throw_invalid(fmt::format("token file '{}' holds token id {} at byte offset {} (token {}), outside the "
                                  "model's vocabulary of {}",
                                  path_, ids[i], offset_ + 2 * (first + i), first + i, vocab));
      }
    }
  }
}

void TokenData::global_batch(std::int64_t step, int batch, int seq_len,
                             std::vector<std::int32_t>* inputs,
                             std::vector<std::int32_t>* targets) const {
  if (step < 0 || batch < 1 || seq_len < 1) {
    throw_invalid(fmt::format("token batch of step {} with {} sequences of {} tokens is invalid",
                              step, batch, seq_len));
  }
  if (count_ < static_cast<std::size_t>(seq_len) + 1) {
    throw_invalid(
        fmt::format("token file '{}' has {} tokens, fewer than one window of {} (seq_len + 1)",
                    path_, count_, seq_len + 1));
  }
  const std::size_t b = static_cast<std::size_t>(batch), t = static_cast<std::size_t>(seq_len);
  inputs->resize(b * t);
  targets->resize(b * t);
  std::vector<std::int32_t> window(t + 1);
  // (step * batch + i) * seq_len mod count, without overflow for any realistic step.
  const std::size_t first_window = (static_cast<std::size_t>(step) % count_) * b % count_;
  for (std::size_t i = 0; i < b; ++i) {
    const std::size_t start = (first_window + i) % count_ * t % count_;
    // A window of t + 1 tokens, in at most two pieces when it wraps at the end of the file.
    const std::size_t head = std::min(t + 1, count_ - start);
    read_tokens(start, head, window.data());
    if (head < t + 1) read_tokens(0, t + 1 - head, window.data() + head);
    std::copy(window.begin(), window.begin() + static_cast<std::ptrdiff_t>(t), inputs->begin() + static_cast<std::ptrdiff_t>(i * t));
    std::copy(window.begin() + 1, window.end(), targets->begin() + static_cast<std::ptrdiff_t>(i * t));
  }
}

}  // namespace pp
