#include "atomic_writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "pp/error.h"

namespace pp {
namespace {

// Makes the rename durable; best effort (some file systems refuse to fsync a directory).
void sync_directory_of(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::string& path)
    : path_(path), temporary_(fmt::format("{}.tmp.{}", path, ::getpid())) {
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io(fmt::format("cannot write '{}': {}", path_, std::strerror(errno)));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    std::remove(temporary_.c_str());
  }
}

void AtomicFileWriter::write(const void* bytes, std::size_t count) {
  const char* p = static_cast<const char*>(bytes);
  while (count > 0) {
    const ssize_t n = ::write(fd_, p, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(std::strerror(errno));
    p += n;
    count -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (::fsync(fd_) != 0) fail(std::strerror(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    std::remove(temporary_.c_str());
    throw_io(fmt::format("cannot write '{}': {}", path_, std::strerror(errno)));
  }
  if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary_.c_str());
    throw_io(fmt::format("cannot write '{}': {}", path_, reason));
  }
  sync_directory_of(path_);
}

void AtomicFileWriter::fail(const std::string& reason) {
  ::close(fd_);
  fd_ = -1;
  std::remove(temporary_.c_str());
  throw_io(fmt::format("cannot write '{}': {}", path_, reason));
}

}  // namespace pp
