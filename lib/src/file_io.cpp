#include "pp/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>

#include "pp/error.h"

namespace pp {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kReadPiece = std::size_t{1} << 20;
constexpr std::size_t kWriteBuffer = std::size_t{1} << 20;
constexpr std::size_t kNameMax = NAME_MAX;

std::string directory_of(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

std::string file_name_of(const std::string& path) { return fs::path(path).filename().string(); }

// Makes the rename durable; best effort (some file systems refuse to fsync a directory).
void sync_directory_of(const std::string& path) {
  const int fd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string this_host() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

std::string hashed_prefix(const std::string& name) {
  return fmt::format(".pp-{:016x}.tmp.", std::hash<std::string>{}(name));
}

// "<name>.tmp." or, for names too long to take the suffix "<host>.<pid>", ".pp-<hash>.tmp.".
std::string temporary_prefix(const std::string& name) {
  const std::string plain = name + ".tmp.";
  return plain.size() + this_host().size() + 12 <= kNameMax ? plain : hashed_prefix(name);
}

// Whether `suffix` ("<host>.<pid>", or a bare "<pid>" as older writers named it) names a writer
// on this host whose process is gone.
bool names_dead_writer_here(const std::string& suffix) {
  const std::size_t dot = suffix.rfind('.');
  const std::string host = dot == std::string::npos ? this_host() : suffix.substr(0, dot);
  const std::string pid_text = dot == std::string::npos ? suffix : suffix.substr(dot + 1);
  if (host != this_host() || pid_text.empty() || pid_text.size() > 9 ||
      pid_text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
  return pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The absolute, normalised spelling of a path that may not exist yet.
std::string spelled(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? fs::path(path).lexically_normal().string() : p.string();
}

void check_one_output(const NamedPath& out) {
  const std::string name = file_name_of(out.path);
  if (name.size() > kNameMax) {
    throw_io(fmt::format("{} '{}': the file name is longer than {} characters", out.flag, out.path, kNameMax));
  }
  struct stat st {};
  if (::lstat(out.path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      throw_io(fmt::format("{} '{}' is a symbolic link; pp writes regular files only: give the path it points to",
                           out.flag, out.path));
    }
    if (S_ISDIR(st.st_mode)) throw_io(fmt::format("{} '{}' is a directory", out.flag, out.path));
    if (!S_ISREG(st.st_mode)) {
      throw_io(fmt::format("{} '{}' is a device, FIFO or socket, not a regular file; pp will not replace it",
                           out.flag, out.path));
    }
  }
  const std::string dir = directory_of(out.path);
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    throw_io(fmt::format("{} '{}': directory '{}' does not exist", out.flag, out.path, dir));
  }
  if (!S_ISDIR(dst.st_mode)) throw_io(fmt::format("{} '{}': '{}' is not a directory", out.flag, out.path, dir));
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw_io(fmt::format("{} '{}': directory '{}' is not writable", out.flag, out.path, dir));
  }
}

// Whether two paths name the same file: the same inode where both exist, else the same spelling.
bool same_path(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  const bool a_exists = ::stat(a.c_str(), &sa) == 0;
  const bool b_exists = ::stat(b.c_str(), &sb) == 0;
  if (a_exists && b_exists) return same_file(sa, sb);
  return spelled(a) == spelled(b);
}

}  // namespace

std::string read_text_file(const std::string& path, const std::string& what, std::size_t max_bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw_io(fmt::format("{} '{}' is a directory", what, path));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
  std::string content;
  for (;;) {
    const std::size_t used = content.size();
    const std::size_t piece = std::min(kReadPiece, max_bytes + 1 - used);
    content.resize(used + piece);
    const ssize_t n = ::read(fd, content.data() + used, piece);
    if (n < 0 && errno == EINTR) {
      content.resize(used);
      continue;
    }
    if (n < 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      throw_io(fmt::format("error reading {} '{}': {}", what, path, reason));
    }
    content.resize(used + static_cast<std::size_t>(n));
    if (n == 0) break;
    if (content.size() > max_bytes) {
      ::close(fd);
      throw_invalid(fmt::format("{} '{}' is larger than the limit of {} bytes", what, path, max_bytes));
    }
  }
  ::close(fd);
  return content;
}

void check_output_paths(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  const NamedPath* on_stdout = nullptr;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const NamedPath& out = outputs[i];
    if (out.path.empty()) continue;
    if (out.path == "-") {
      if (on_stdout != nullptr) {
        throw_invalid(fmt::format("{} and {} both write to standard output ('-'): give one of them a file",
                                  on_stdout->flag, out.flag));
      }
      on_stdout = &out;
      continue;
    }
    check_one_output(out);
    for (const NamedPath& in : inputs) {
      if (!in.path.empty() && in.path != "-" && same_path(out.path, in.path)) {
        throw_invalid(fmt::format("{} '{}' is the same file as {}: pp will not overwrite its input",
                                  out.flag, out.path, in.flag));
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      const NamedPath& other = outputs[j];
      if (!other.path.empty() && other.path != "-" && same_path(out.path, other.path)) {
        throw_invalid(fmt::format("{} and {} name the same file '{}'", other.flag, out.flag, out.path));
      }
    }
  }
}

std::string temporary_path_for(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  const std::string name = temporary_prefix(file_name_of(path)) + this_host() + "." + std::to_string(::getpid());
  return parent.empty() ? name : (parent / name).string();
}

int remove_stale_temporaries(const std::string& path) {
  const std::string dir = directory_of(path);
  const std::string name = file_name_of(path);
  const std::string prefixes[] = {name + ".tmp.", hashed_prefix(name)};
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (const dirent* entry = ::readdir(d)) {
    const std::string candidate = entry->d_name;
    for (const std::string& prefix : prefixes) {
      if (candidate.size() <= prefix.size() || candidate.compare(0, prefix.size(), prefix) != 0) continue;
      if (!names_dead_writer_here(candidate.substr(prefix.size()))) continue;
      if (std::remove((fs::path(dir) / candidate).c_str()) == 0) ++removed;
      break;
    }
  }
  ::closedir(d);
  return removed;
}

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  buffer_.reserve(kWriteBuffer);
  if (path == "-") {
    to_stdout_ = true;
    std::cout.flush();
    return;
  }
  temporary_ = temporary_path_for(path);
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
  written_ += count;
  const char* p = static_cast<const char*>(bytes);
  if (buffer_.size() + count <= kWriteBuffer) {
    buffer_.append(p, count);
    return;
  }
  flush_buffer();
  if (count >= kWriteBuffer) {
    write_fd(p, count);
  } else {
    buffer_.append(p, count);
  }
}

void AtomicFileWriter::flush_buffer() {
  write_fd(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFileWriter::write_fd(const char* p, std::size_t count) {
  if (to_stdout_) {
    std::cout.write(p, static_cast<std::streamsize>(count));
    if (!std::cout) throw_io("cannot write to standard output");
    return;
  }
  while (count > 0) {
    const ssize_t n = ::write(fd_, p, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(n < 0 ? std::strerror(errno) : "no progress");
    p += n;
    count -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  flush_buffer();
  if (to_stdout_) {
    std::cout.flush();
    if (!std::cout) throw_io("cannot write to standard output");
    return;
  }
  if (::fsync(fd_) != 0) fail(std::strerror(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary_.c_str());
    throw_io(fmt::format("cannot write '{}': {}", path_, reason));
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

void write_file_atomically(const std::string& path, const std::string& content) {
  AtomicFileWriter out(path);
  out.write(content);
  out.commit();
}

}  // namespace pp
