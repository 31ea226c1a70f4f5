#pragma once
// The contract of pp::runtime's binary input parsers on hostile bytes (safetensors header, token
// file header), shared by the deterministic mutation tests (tests/runtime) and the libFuzzer
// targets (tests/fuzz). Header-only test code; needs runtime/src on the include path for the
// internal safetensors header parser.
//
// Each check_* returns an empty string when the contract holds, else what broke (see
// format_checks.h for parser_contract).

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/format_checks.h"
#include "io/safetensors_header.h"
#include "pp/runtime/token_data.h"

namespace pp_test {

// parse_safetensors_header on exactly `bytes` (no slack after them, so that a sanitizer sees any
// read past the end): whatever it accepts must keep every entry inside the file, with its byte
// range matching its shape and dtype; every accepted entry's bytes are then read once.
inline std::string check_safetensors_header(std::string_view bytes, int* accepted = nullptr) {
  const std::vector<unsigned char> file(bytes.begin(), bytes.end());
  return parser_contract([&] {
    const pp::SafetensorsHeader header =
        pp::parse_safetensors_header(file.data(), file.size(), "fuzz.safetensors");
    if (accepted != nullptr) ++*accepted;
    if (header.data_start < 8 || header.data_start > file.size()) return std::string("data_start outside the file");
    const std::uint64_t data_size = file.size() - header.data_start;
    unsigned sum = 0;
    for (const auto& [name, entry] : header.entries) {
      if (entry.begin > entry.end || entry.end > data_size) {
        return "entry '" + name + "' has data_offsets outside the data";
      }
      const std::size_t element = pp::safetensors_dtype_size(entry.dtype);
      std::uint64_t expected = element;
      bool overflow = false;
      for (std::int64_t d : entry.shape) {
        overflow = overflow || __builtin_mul_overflow(expected, static_cast<std::uint64_t>(d), &expected);
      }
      if (element != 0 && (overflow || expected != entry.end - entry.begin)) {
        return "entry '" + name + "' has a byte range that does not match its shape and dtype";
      }
      for (std::uint64_t i = entry.begin; i < entry.end; ++i) sum += file[header.data_start + i];
    }
    return sum == 0xffffffffu ? std::string("unreachable") : std::string();
  });
}

// A file of this process for the token checks (TokenData reads a path): under $TMPDIR or /tmp.
inline std::string fuzz_token_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/pp_fuzz_tokens_" +
         std::to_string(::getpid()) + ".bin";
}

// TokenData::open on a file holding `bytes`: it opens, or throws pp::Error kInvalidInput / kIo.
// An opened file must give its first and last token and a small batch, and pass the vocabulary
// check for 65536 (every uint16 id is below it).
inline std::string check_token_file(std::string_view bytes, int* accepted = nullptr) {
  const std::string path = fuzz_token_path();
  if (std::FILE* out = std::fopen(path.c_str(), "wb")) {
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
    if (std::fclose(out) != 0 || !written) return "cannot write the temporary token file " + path;
  } else {
    return "cannot create the temporary token file " + path;
  }
  const std::string broken = parser_contract(
      [&] {
        const pp::TokenData data = pp::TokenData::open(path);
        if (accepted != nullptr) ++*accepted;
        if (data.size() == 0) return std::string("opened a token file with no tokens");
        (void)data.token(0);
        (void)data.token(data.size() - 1);
        if (data.size() >= 2) {
          std::vector<std::int32_t> inputs, targets;
          const int seq_len = data.size() > 9 ? 8 : static_cast<int>(data.size()) - 1;
          data.global_batch(3, 2, seq_len, &inputs, &targets);
          if (inputs.size() != static_cast<std::size_t>(2 * seq_len)) return std::string("bad batch size");
        }
        data.check_vocabulary(65536);
        return std::string();
      },
      /*io_allowed=*/true);
  std::remove(path.c_str());
  return broken;
}

}  // namespace pp_test
