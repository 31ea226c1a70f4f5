#include <fmt/format.h>

#include <random>

#include "pp/file_io.h"
#include "pp/error.h"
#include "pp/runtime/token_data.h"

namespace pp {
namespace {

constexpr int kSentences = 32;
constexpr std::uint64_t kMinLength = 4, kMaxLength = 12;

std::vector<std::vector<std::uint16_t>> make_sentences(std::mt19937_64* rng, int vocab) {
  std::vector<std::vector<std::uint16_t>> sentences(kSentences);
  for (auto& s : sentences) {
    const std::uint64_t length = kMinLength + (*rng)() % (kMaxLength - kMinLength + 1);
    for (std::uint64_t k = 0; k < length; ++k) {
      s.push_back(static_cast<std::uint16_t>((*rng)() % static_cast<std::uint64_t>(vocab)));
    }
  }
  return sentences;
}

void put_le(std::vector<unsigned char>* out, std::uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<unsigned char>(v >> (8 * i)));
}

}  // namespace

void write_synthetic_tokens(const std::string& path, std::int64_t count, int vocab,
                            std::uint64_t seed, bool llmc_header) {
  if (count < 1 || count > 0x7fffffff || vocab < 2 || vocab > 65536) {
    throw_invalid(
        fmt::format("synthetic token file '{}': {} tokens of vocabulary {} is out of range "
                    "(1..2^31-1 tokens, vocabulary 2..65536)",
                    path, count, vocab));
  }
  std::mt19937_64 rng(seed);
  const auto sentences = make_sentences(&rng, vocab);
  std::vector<unsigned char> bytes;
  if (llmc_header) {
    const std::uint32_t header[3] = {20240520u, 1u, static_cast<std::uint32_t>(count)};
    for (int i = 0; i < 256; ++i) put_le(&bytes, i < 3 ? header[i] : 0u, 4);
  }
  std::int64_t written = 0;
  while (written < count) {
    for (std::uint16_t id : sentences[rng() % kSentences]) {
      if (written == count) break;
      put_le(&bytes, id, 2);
      ++written;
    }
  }
  AtomicFileWriter out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace pp
