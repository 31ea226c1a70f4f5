#pragma once
// Whole-file reads and atomic writes. Errors are pp::Error(kIo) naming the path.

#include <string>

namespace pp {

// Reads a file whole. `what` names it in errors ("schedule file", "plan").
// Refuses files larger than max_bytes (default 1 GiB) rather than exhausting memory.
std::string read_text_file(const std::string& path, const std::string& what,
                           std::size_t max_bytes = std::size_t{1} << 30);

// Writes `content` to a temporary file beside `path`, then renames it over `path`: a reader sees
// the old file or the new one, never a torn one. "-" writes to standard output.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace pp
