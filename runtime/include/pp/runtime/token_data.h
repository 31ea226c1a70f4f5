#pragma once
// Training data: a file of uint16 GPT-2 token ids, little-endian, either raw (as nanoGPT's
// data/*/prepare.py writes train.bin) or after llm.c's 1024-byte header (256 int32: magic
// 20240520, version 1, token count, the rest 0). The format is detected by the magic.
//
// Batches are a pure function of the step, so every data-parallel replica and a restarted run
// agree on them without coordination.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pp {

class TokenData {
 public:
  // Opens the file; windows are read with pread as they are needed (no memory map, so a file
  // truncated under a running job is an error, not SIGBUS). Errors: pp::Error(kIo) when it
  // cannot be read; pp::Error(kInvalidInput) naming it for an odd byte count, no tokens, or an
  // llm.c header that is not version 1 or whose count does not match the file size.
  static TokenData open(const std::string& path);

  // Reads the whole file once and throws pp::Error(kInvalidInput) naming the first token id
  // >= vocab with its byte offset in the file, so bad data is found before training starts.
  void check_vocabulary(long long vocab) const;

  std::size_t size() const { return count_; }  // tokens
  bool has_llmc_header() const { return offset_ != 0; }
  const std::string& path() const { return path_; }
  std::uint16_t token(std::size_t index) const;  // index < size(); one read, for tests

  // The global batch of `step` (>= 0): window i (0 <= i < batch) is the seq_len + 1 tokens from
  // token (step * batch + i) * seq_len on, indices taken modulo size() (wrapping at the end).
  // inputs (batch, seq_len) are each window's first seq_len tokens, targets (batch, seq_len) its
  // last seq_len; both row-major, resized here. A micro-batch is a contiguous slice of rows.
  // Throws pp::Error(kInvalidInput) naming the file when it has fewer than seq_len + 1 tokens,
  // pp::Error(kIo) when the file shrank since open().
  void global_batch(std::int64_t step, int batch, int seq_len, std::vector<std::int32_t>* inputs,
                    std::vector<std::int32_t>* targets) const;

 private:
  // Reads tokens [first, first + count) (no wrapping) into `out` as ids.
  void read_tokens(std::size_t first, std::size_t count, std::int32_t* out) const;
  void read_bytes(std::size_t offset, std::size_t count, unsigned char* out) const;

  std::shared_ptr<const int> fd_;  // closed when the last copy goes
  std::string path_;
  std::size_t offset_ = 0;  // bytes before the first token
  std::size_t count_ = 0;
};

// Writes `count` tokens (ids < vocab, 2 <= vocab <= 65536) of a small learnable corpus: short
// "sentences" drawn from a fixed set of 32 (each 4..12 random ids), chosen at random and
// concatenated, so a model's loss falls visibly within a few dozen steps. Deterministic for a
// seed (mt19937_64, no std distributions). Written atomically, with llm.c's header when asked.
void write_synthetic_tokens(const std::string& path, std::int64_t count, int vocab,
                            std::uint64_t seed, bool llmc_header);

}  // namespace pp
