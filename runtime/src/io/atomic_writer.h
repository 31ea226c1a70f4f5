#pragma once
// Streams a binary file into place atomically (internal to pp::runtime's file writers): bytes go
// to "<path>.tmp.<pid>" beside the target; commit() fsyncs it, renames it over `path` and fsyncs
// the directory. A reader (or a crash at any point) sees the old file or the complete new one,
// never a torn one. Destroying an uncommitted writer removes the temporary file.
// Errors: pp::Error(kIo) naming `path`.

#include <cstddef>
#include <string>

namespace pp {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* bytes, std::size_t count);
  void commit();

 private:
  [[noreturn]] void fail(const std::string& reason);
  std::string path_;
  std::string temporary_;
  int fd_ = -1;
};

}  // namespace pp
