// Deterministic mutation fuzzing of the binary input headers of pp::runtime: the safetensors
// header (parse_safetensors_header, internal to the runtime) and the token file header
// (TokenData::open). Runs in every CI build; the libFuzzer targets in tests/fuzz/ explore further.
//
// Seeds: files written by pp's own writers (save_safetensors, write_synthetic_tokens with and
// without llm.c's header). Each is mutated (tests/fuzz/mutator.h: JSON tokens, raw bytes and
// little-endian length/magic/count words) and checked against the contract of
// tests/fuzz/runtime_format_checks.h: return or throw pp::Error (kInvalidInput; kIo for files),
// never another exception, and what is accepted is safe to read.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/mutation_test.h"
#include "fuzz/runtime_format_checks.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/safetensors.h"
#include "pp/runtime/token_data.h"
#include "temp_files.h"

namespace {

using pp::test::read_bytes;
using pp::test::temp_path;

// A checkpoint of three small tensors (one a scalar) with metadata, as pp writes them.
std::string written_safetensors() {
  const std::string path = temp_path("seed.safetensors");
  const pp::Tensor a{"wte.weight", {4, 3}, std::vector<float>(12, 0.5f), {}};
  const pp::Tensor b{"h.0.ln_1.bias", {3}, {1.0f, -2.0f, 3.0f}, {}};
  const pp::Tensor c{"scale", {}, {2.0f}, {}};
  pp::save_safetensors(path, {&a, &b, &c}, {{"step", "7"}, {"format", "pt"}});
  std::string bytes = read_bytes(path);
  std::filesystem::remove(path);
  return bytes;
}

std::string written_tokens(bool llmc_header) {
  const std::string path = temp_path("seed.bin");
  pp::write_synthetic_tokens(path, 40, 50257, 11, llmc_header);
  std::string bytes = read_bytes(path);
  std::filesystem::remove(path);
  return bytes;
}

const auto kCheckSafetensors = [](std::string_view bytes, int* accepted) {
  return pp_test::check_safetensors_header(bytes, accepted);
};
const auto kCheckTokens = [](std::string_view bytes, int* accepted) {
  return pp_test::check_token_file(bytes, accepted);
};

TEST(SafetensorsHeaderFuzz, WrittenCheckpointMutated) {
  const std::vector<std::string> strings = {
      "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"F32\"", "\"F16\"", "\"BF16\"", "\"I64\"",
      "\"BOOL\"", "\"F8\"", "\"__metadata__\"", "\"wte.weight\""};
  const pp_test::MutationWeights weights{3, 1, 1};
  const int accepted = pp_test::run_mutations("checkpoint", written_safetensors(),
                                              pp_test::Mutator(0x5afe0000u, strings, weights), 3000,
                                              kCheckSafetensors);
  EXPECT_GT(accepted, 30) << "mutations must reach the entry checks";
}

TEST(TokenFileFuzz, WrittenTokenFilesMutated) {
  const pp_test::MutationWeights weights{0, 1, 3};
  const int with_header = pp_test::run_mutations(
      "llm.c header", written_tokens(true), pp_test::Mutator(0x70c0000u, {}, weights), 1000,
      kCheckTokens);
  EXPECT_GT(with_header, 20) << "mutations must reach past the header checks";
  pp_test::run_mutations("raw tokens", written_tokens(false),
                         pp_test::Mutator(0x70c0001u, {}, weights), 300, kCheckTokens);
}

// Hand-picked headers: lengths at and around the file's, the cap, deep nesting, extreme numbers.
TEST(SafetensorsHeaderHostile, EdgeLengthsAndNumbersAreRejectedCleanly) {
  const auto le64 = [](std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
    return s;
  };
  const std::string entry = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,)";
  const std::vector<std::string> headers = {
      "", "{}", std::string(1000, '['), entry + "8]}}", entry + "1e400]}}", entry + "-0]}}",
      entry + "8.0]}}", entry + "18446744073709551616]}}", R"({"__metadata__":{"k":"\ud800"}})"};
  for (const std::string& header : headers) {
    const std::string body = header + std::string(8, '\0');
    for (std::uint64_t length : {std::uint64_t{0}, std::uint64_t{header.size()},
                                 std::uint64_t{body.size()}, std::uint64_t{body.size() + 1},
                                 std::uint64_t{100000001}, ~std::uint64_t{0}}) {
      EXPECT_EQ(pp_test::check_safetensors_header(le64(length) + body), "")
          << header << " with length " << length;
    }
  }
  EXPECT_EQ(pp_test::check_safetensors_header(std::string(7, '\0')), "");
}

}  // namespace
