#include "mapped_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "pp/error.h"

namespace pp {
namespace {

// Closes a descriptor when it leaves scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

MappedFile MappedFile::open(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
  FdCloser closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    throw_io(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode)) throw_io(fmt::format("{} '{}' is not a regular file", what, path));
  MappedFile file;
  file.size_ = static_cast<std::size_t>(info.st_size);
  if (file.size_ == 0) return file;
  void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    throw_io(fmt::format("cannot map {} '{}': {}", what, path, std::strerror(errno)));
  }
  file.data_ = static_cast<const unsigned char*>(p);
  return file;
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release() {
  if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace pp
