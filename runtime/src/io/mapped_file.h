#pragma once
// A read-only memory map of a whole file (internal to pp::runtime's file readers).
// Errors: pp::Error(kIo) naming the file ("cannot read checkpoint 'x': No such file").

#include <cstddef>
#include <string>

namespace pp {

class MappedFile {
 public:
  // Maps `path`; `what` names it in errors ("checkpoint", "token file"). An empty file maps to
  // size() == 0 and data() == nullptr.
  static MappedFile open(const std::string& path, const std::string& what);

  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void release();
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace pp
