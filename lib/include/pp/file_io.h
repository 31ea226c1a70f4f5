#pragma once
// Reading input files with a bound, checking output paths before any work, and writing outputs
// atomically. Errors are pp::Error naming the path (and the flag, where one is given).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pp {

// Reads a file whole. `what` names it in errors ("schedule file", "plan"). Any kind of file
// (regular, FIFO, device) is read in pieces and refused once it passes max_bytes (default 1 GiB),
// so `/dev/zero` or an endless pipe ends with an error instead of exhausting memory.
std::string read_text_file(const std::string& path, const std::string& what,
                           std::size_t max_bytes = std::size_t{1} << 30);

// A path given on the command line and the flag that named it, e.g. {"--trace", "t.json"}.
struct NamedPath {
  std::string flag;
  std::string path;
};

// Checks, before any work starts, that each output can be written without harming anything:
// - exit 2 (kInvalidInput): an output that is the same file as an input or as another output;
//   more than one output on standard output ("-");
// - exit 4 (kIo): an output that is a symbolic link, a directory, a device, a FIFO or a socket
//   (pp writes regular files only, by renaming a temporary file over them); an output whose
//   directory is missing, not a directory or not writable.
// Empty paths are skipped; "-" means standard output. Nothing is created or changed.
void check_output_paths(const std::vector<NamedPath>& outputs,
                        const std::vector<NamedPath>& inputs = {});

// Streams a file into place atomically: bytes go to a temporary file beside the target
// (temporary_path_for), buffered; commit() flushes, fsyncs, renames it over `path` and fsyncs
// the directory. A reader, or a crash at any point, sees the old file or the complete new one.
// Destroying an uncommitted writer removes the temporary file. "-" streams to standard output
// (commit() flushes it). Errors: pp::Error(kIo) naming `path`.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* bytes, std::size_t count);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();
  // Bytes written so far.
  std::size_t size() const { return written_; }

 private:
  void flush_buffer();
  void write_fd(const char* bytes, std::size_t count);
  [[noreturn]] void fail(const std::string& reason);
  std::string path_;
  std::string temporary_;
  std::string buffer_;
  std::size_t written_ = 0;
  int fd_ = -1;
  bool to_stdout_ = false;
};

// Writes `content` through an AtomicFileWriter. "-" writes to standard output.
void write_file_atomically(const std::string& path, const std::string& content);

// The temporary file a writer of `path` uses in this process: "<path>.tmp.<host>.<pid>", or,
// where that name would pass the file system's name limit, ".pp-<hash>.tmp.<host>.<pid>" in the
// same directory.
std::string temporary_path_for(const std::string& path);

// Removes temporary files left beside `path` by writers on this host that died (their process no
// longer runs); another host's temporaries on a shared file system are left alone. Returns how
// many were removed. Never throws.
int remove_stale_temporaries(const std::string& path);

}  // namespace pp
