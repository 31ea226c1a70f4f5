#include "safetensors_header.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "pp/error.h"

namespace pp {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw_invalid(fmt::format("checkpoint '{}' is not a valid safetensors file: {}", path, why));
}

std::uint64_t read_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The deepest nesting of brackets outside strings. A safetensors header needs 3; bounding it
// keeps a hostile header from driving nlohmann's recursive value handling into the stack limit.
int nesting_depth(const unsigned char* p, std::size_t n) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

std::uint64_t get_u64(const json& v, const std::string& path, const std::string& what) {
  if (!v.is_number_unsigned()) bad(path, what + " is not a non-negative integer");
  return v.get<std::uint64_t>();
}

SafetensorsEntry parse_entry(const std::string& name, const json& v, std::uint64_t data_bytes,
                             const std::string& path) {
  const std::string where = fmt::format("tensor '{}'", name);
  if (!v.is_object()) bad(path, where + " is not an object");
  const auto dtype = v.find("dtype"), shape = v.find("shape"), offsets = v.find("data_offsets");
  if (dtype == v.end() || !dtype->is_string()) bad(path, where + " has no dtype string");
  if (shape == v.end() || !shape->is_array()) bad(path, where + " has no shape array");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2) {
    bad(path, where + " has no data_offsets [begin, end]");
  }
  SafetensorsEntry e;
  e.dtype = dtype->get<std::string>();
  std::uint64_t count = 1;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (const json& d : *shape) {
    const std::uint64_t n = get_u64(d, path, where + " shape entry");
    if (n > kMax || (n != 0 && count > kMax / n)) bad(path, where + " has an overflowing shape");
    count *= n;
    e.shape.push_back(static_cast<std::int64_t>(n));
  }
  e.begin = get_u64((*offsets)[0], path, where + " data offset");
  e.end = get_u64((*offsets)[1], path, where + " data offset");
  if (e.begin > e.end || e.end > data_bytes) {
    bad(path, fmt::format("{} has data_offsets [{}, {}] outside the {} data bytes", where, e.begin,
                          e.end, data_bytes));
  }
  const std::size_t element = safetensors_dtype_size(e.dtype);
  if (element != 0 && (count > kMax / element || e.end - e.begin != count * element)) {
    bad(path, fmt::format("{} has {} bytes of data for its shape and dtype {}", where,
                          e.end - e.begin, e.dtype));
  }
  return e;
}

std::map<std::string, std::string> parse_metadata(const json& v, const std::string& path) {
  if (!v.is_object()) bad(path, "__metadata__ is not an object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) bad(path, fmt::format("__metadata__ '{}' is not a string", key));
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

}  // namespace

std::size_t safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> kSizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"U64", 8}, {"I32", 4},
      {"U32", 4}, {"I16", 2}, {"U16", 2}, {"I8", 1},   {"U8", 1},  {"BOOL", 1}};
  const auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

SafetensorsHeader parse_safetensors_header(const unsigned char* file, std::size_t size,
                                           const std::string& path) {
  if (size < 8)
    bad(path, fmt::format("it is {} bytes, shorter than the 8-byte header length", size));
  const std::uint64_t n = read_le64(file);
  if (n > kMaxSafetensorsHeaderBytes) bad(path, fmt::format("header length {} is over 100 MB", n));
  if (n > size - 8) bad(path, fmt::format("header length {} exceeds the file ({} bytes)", n, size));
  const unsigned char* text = file + 8;
  if (nesting_depth(text, n) > 4) bad(path, "the header nests too deeply");
  const json header = json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) bad(path, "the header is not JSON");
  if (!header.is_object()) bad(path, "the header is not a JSON object");
  SafetensorsHeader result;
  result.data_start = static_cast<std::size_t>(8 + n);
  const std::uint64_t data_bytes = size - result.data_start;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      result.metadata = parse_metadata(value, path);
    } else {
      result.entries.emplace(name, parse_entry(name, value, data_bytes, path));
    }
  }
  return result;
}

}  // namespace pp
