#include "pp/runtime/safetensors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "pp/file_io.h"
#include "mapped_file.h"
#include "pp/error.h"
#include "safetensors_header.h"

namespace pp {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; pp copies it as is");

std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

void check_savable(const std::vector<const Tensor*>& tensors) {
  std::set<std::string> names;
  for (const Tensor* t : tensors) {
    if (t == nullptr) throw Error(ErrorCategory::kInternal, "save_safetensors: null tensor");
    if (!names.insert(t->name).second || t->name == "__metadata__") {
      throw Error(ErrorCategory::kInternal, "save_safetensors: duplicate tensor " + t->name);
    }
    if (element_count(t->shape) != static_cast<std::int64_t>(t->data.size())) {
      throw Error(ErrorCategory::kInternal,
                  "save_safetensors: " + t->name + " data/shape mismatch");
    }
  }
}

// The header JSON, padded with spaces to a multiple of 8 bytes (as the reference writer does) so
// the data that follows is aligned.
std::string header_text(const std::vector<TensorInfo>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const TensorInfo& t : tensors) {
    const std::uint64_t bytes = static_cast<std::uint64_t>(element_count(t.shape)) * sizeof(float);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;  // subnormal or zero
  return sign != 0 ? -magnitude : magnitude;
}

std::uint16_t read_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

// Converts the entry's data into `out` (already sized to the entry's element count).
void convert(const SafetensorsEntry& e, const unsigned char* bytes, std::vector<float>* out,
             const std::string& path, const std::string& name) {
  float* dst = out->data();
  const std::size_t n = out->size();
  if (e.dtype == "F32") {
    if (n != 0) std::memcpy(dst, bytes, n * sizeof(float));
  } else if (e.dtype == "F16") {
    for (std::size_t i = 0; i < n; ++i) dst[i] = half_to_float(read_u16(bytes + 2 * i));
  } else if (e.dtype == "BF16") {
    for (std::size_t i = 0; i < n; ++i) {
      dst[i] = std::bit_cast<float>(static_cast<std::uint32_t>(read_u16(bytes + 2 * i)) << 16);
    }
  } else {
    throw_invalid(
        fmt::format("checkpoint '{}' tensor '{}' has dtype {}; pp reads F32, F16 and BF16", path,
                    name, e.dtype));
  }
}

const SafetensorsEntry* find_entry(const SafetensorsHeader& header, const std::string& name) {
  auto it = header.entries.find(name);
  if (it == header.entries.end()) it = header.entries.find("transformer." + name);
  return it == header.entries.end() ? nullptr : &it->second;
}

// Checks the entry against the tensor it fills (shape, a dtype pp converts).
void check_entry(const SafetensorsEntry& e, const Tensor& t, const std::string& path) {
  if (e.shape != t.full_shape()) {
    throw_invalid(fmt::format("checkpoint '{}' tensor '{}' is ({}), expected ({})", path, t.name,
                              fmt::join(e.shape, ", "), fmt::join(t.full_shape(), ", ")));
  }
  if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16") {
    throw_invalid(
        fmt::format("checkpoint '{}' tensor '{}' has dtype '{}'; pp reads F32, F16 and BF16", path,
                    t.name, e.dtype));
  }
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<const Tensor*>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  check_savable(tensors);
  std::vector<TensorInfo> infos;
  for (const Tensor* t : tensors) infos.push_back({t->name, t->shape});
  SafetensorsStreamWriter out(path, std::move(infos), metadata);
  for (const Tensor* t : tensors) out.write_next(t->data.data(), t->data.size());
  out.commit();
}

struct SafetensorsStreamWriter::File {
  explicit File(const std::string& path) : out(path) {}
  AtomicFileWriter out;
};

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path, std::vector<TensorInfo> tensors,
                                                 const std::map<std::string, std::string>& metadata)
    : file_(std::make_unique<File>(path)), tensors_(std::move(tensors)) {
  std::set<std::string> names;
  for (const TensorInfo& t : tensors_) {
    if (!names.insert(t.name).second || t.name == "__metadata__") {
      throw Error(ErrorCategory::kInternal, "safetensors writer: duplicate tensor " + t.name);
    }
  }
  const std::string text = header_text(tensors_, metadata);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(text.size() >> (8 * i));
  file_->out.write(length, sizeof length);
  file_->out.write(text);
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() = default;

void SafetensorsStreamWriter::write_next(const float* data, std::size_t count) {
  if (next_ >= tensors_.size() || static_cast<std::int64_t>(count) != element_count(tensors_[next_].shape)) {
    throw Error(ErrorCategory::kInternal, "safetensors writer: data out of order or mis-sized");
  }
  file_->out.write(data, count * sizeof(float));
  ++next_;
}

void SafetensorsStreamWriter::commit() {
  if (next_ != tensors_.size()) throw Error(ErrorCategory::kInternal, "safetensors writer: tensors missing");
  file_->out.commit();
}

void load_safetensors(const std::string& path, ParameterSet* into, bool strict) {
  const MappedFile file = MappedFile::open(path, "checkpoint");
  const SafetensorsHeader header = parse_safetensors_header(file.data(), file.size(), path);
  // Check everything before changing anything, so a failed load leaves `into` as it was.
  std::vector<std::pair<Tensor*, const SafetensorsEntry*>> work;
  for (Tensor& t : into->tensors) {
    const SafetensorsEntry* e = find_entry(header, t.name);
    if (e == nullptr && strict) {
      throw_invalid(fmt::format("checkpoint '{}' has no tensor '{}'", path, t.name));
    }
    if (e == nullptr) continue;
    check_entry(*e, t, path);
    work.emplace_back(&t, e);
  }
  std::vector<float> whole;  // one whole tensor at a time, for a tensor-parallel piece
  for (const auto& [t, e] : work) {
    const unsigned char* bytes = file.data() + header.data_start + e->begin;
    t->data.resize(static_cast<std::size_t>(element_count(t->shape)));
    if (t->shard.replicated()) {
      convert(*e, bytes, &t->data, path, t->name);
      continue;
    }
    whole.resize(static_cast<std::size_t>(element_count(t->full_shape())));
    convert(*e, bytes, &whole, path, t->name);
    copy_piece(whole.data(), t->full_shape(), t->shard, t->data.data());
  }
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  const MappedFile file = MappedFile::open(path, "checkpoint");
  return parse_safetensors_header(file.data(), file.size(), path).metadata;
}

}  // namespace pp
