#pragma once
// The parsed, validated header of a safetensors file (internal to pp::runtime). The header is
// treated as hostile: its length is capped, its JSON nesting is bounded, and every entry's
// shape and data_offsets are checked against the file size, so that a caller may read
// [data + begin, data + end) of any entry without further checks.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pp {

struct SafetensorsEntry {
  std::string dtype;                // "F32", "F16", "BF16", ... as in the file
  std::vector<std::int64_t> shape;  // may be empty (a scalar)
  std::uint64_t begin = 0;          // byte offsets relative to the data start, begin <= end
  std::uint64_t end = 0;
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::size_t data_start = 0;                   // 8 + header length
};

inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100000000;  // as the reference reader

// Size in bytes of one element of `dtype`, 0 when unknown.
std::size_t safetensors_dtype_size(const std::string& dtype);

// Parses the header of the `size` bytes at `file`. Throws pp::Error(kInvalidInput) naming
// `path` for a truncated file, a header over the cap, bad JSON or an inconsistent entry.
SafetensorsHeader parse_safetensors_header(const unsigned char* file, std::size_t size,
                                           const std::string& path);

}  // namespace pp
