#include "pp/file_io.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "pp/error.h"

namespace pp {

std::string read_text_file(const std::string& path, const std::string& what,
                           std::size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw_io(fmt::format("{} '{}' is a directory", what, path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > max_bytes) {
    throw_io(fmt::format("{} '{}' is {} bytes, over the limit of {}", what, path, size, max_bytes));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw_io(fmt::format("error reading {} '{}'", what, path));
  return content.str();
}

void write_file_atomically(const std::string& path, const std::string& content) {
  if (path == "-") {
    std::cout << content << std::flush;
    return;
  }
  const std::string temporary = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw_io(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
    out << content;
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw_io(fmt::format("error writing '{}'", path));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw_io(fmt::format("cannot write '{}': {}", path, ec.message()));
  }
}

}  // namespace pp
