#include "pp/runtime/token_data.h"

#include <fmt/format.h>

#include "mapped_file.h"
#include "pp/error.h"

namespace pp {
namespace {

constexpr std::int32_t kLlmcMagic = 20240520;
constexpr std::size_t kLlmcHeaderBytes = 256 * sizeof(std::int32_t);

std::int32_t read_i32(const unsigned char* p) {
  return static_cast<std::int32_t>(
      static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
      (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24));
}

bool starts_with_magic(const MappedFile& file) {
  return file.size() >= 4 && read_i32(file.data()) == kLlmcMagic;
}

// Validates llm.c's header; returns the token count it states.
std::size_t check_llmc_header(const MappedFile& file, const std::string& path) {
  if (file.size() < kLlmcHeaderBytes) {
    throw_invalid(
        fmt::format("token file '{}' starts with llm.c's magic but is shorter than its "
                    "1024-byte header",
                    path));
  }
  const std::int32_t version = read_i32(file.data() + 4);
  if (version != 1) {
    throw_invalid(
        fmt::format("token file '{}' has llm.c header version {}; pp reads version 1 "
                    "(uint16 tokens)",
                    path, version));
  }
  const std::int64_t stated = read_i32(file.data() + 8);
  const std::size_t actual = (file.size() - kLlmcHeaderBytes) / 2;
  if (stated < 0 || static_cast<std::size_t>(stated) != actual) {
    throw_invalid(fmt::format("token file '{}' header says {} tokens but the file holds {}", path,
                              stated, actual));
  }
  return actual;
}

}  // namespace

TokenData TokenData::open(const std::string& path) {
  auto file = std::make_shared<MappedFile>(MappedFile::open(path, "token file"));
  if (file->size() % 2 != 0) {
    throw_invalid(fmt::format("token file '{}' has an odd byte count ({}); tokens are uint16", path,
                              file->size()));
  }
  TokenData data;
  data.path_ = path;
  if (starts_with_magic(*file)) {
    data.count_ = check_llmc_header(*file, path);
    data.offset_ = kLlmcHeaderBytes;
  } else {
    data.count_ = file->size() / 2;
  }
  if (data.count_ == 0) throw_invalid(fmt::format("token file '{}' has no tokens", path));
  data.file_ = std::move(file);
  return data;
}

std::uint16_t TokenData::token(std::size_t index) const {
  const unsigned char* p = file_->data() + offset_ + 2 * index;
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

void TokenData::global_batch(std::int64_t step, int batch, int seq_len,
                             std::vector<std::int32_t>* inputs,
                             std::vector<std::int32_t>* targets) const {
  if (step < 0 || batch < 1 || seq_len < 1) {
    throw_invalid(fmt::format("token batch of step {} with {} sequences of {} tokens is invalid",
                              step, batch, seq_len));
  }
  if (count_ < static_cast<std::size_t>(seq_len) + 1) {
    throw_invalid(
        fmt::format("token file '{}' has {} tokens, fewer than one window of {} (seq_len + 1)",
                    path_, count_, seq_len + 1));
  }
  const std::size_t b = static_cast<std::size_t>(batch), t = static_cast<std::size_t>(seq_len);
  inputs->resize(b * t);
  targets->resize(b * t);
  // (step * batch + i) * seq_len mod count, without overflow for any realistic step.
  const std::size_t first_window = (static_cast<std::size_t>(step) % count_) * b % count_;
  for (std::size_t i = 0; i < b; ++i) {
    std::size_t index = (first_window + i) % count_ * t % count_;
    for (std::size_t j = 0; j < t; ++j) {
      (*inputs)[i * t + j] = token(index);
      index = index + 1 == count_ ? 0 : index + 1;
      (*targets)[i * t + j] = token(index);
    }
  }
}

}  // namespace pp
