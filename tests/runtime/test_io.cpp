// Checkpoint (safetensors) and token-file I/O of pp::runtime.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pp/error.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/safetensors.h"
#include "pp/runtime/token_data.h"
#include "temp_files.h"

namespace pp {
namespace {

using pp::test::read_bytes;
using pp::test::temp_path;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A safetensors file from a header written by hand and raw data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

Tensor make_tensor(const std::string& name, std::vector<std::int64_t> shape, float first) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  Tensor t{name, std::move(shape), std::vector<float>(n), std::vector<float>(n, 7.0f)};
  for (std::int64_t i = 0; i < n; ++i) t.data[i] = first + 0.25f * static_cast<float>(i);
  return t;
}

ParameterSet two_tensors() {
  ParameterSet set;
  set.tensors.push_back(make_tensor("wpe.weight", {3, 2}, 1.0f));
  set.tensors.push_back(make_tensor("h.0.ln_1.bias", {2}, -3.0f));
  return set;
}

ParameterSet zeroed_like(const ParameterSet& set) {
  ParameterSet copy = set;
  for (Tensor& t : copy.tensors) std::fill(t.data.begin(), t.data.end(), 0.0f);
  return copy;
}

void save(const std::string& path, const ParameterSet& set,
          const std::map<std::string, std::string>& metadata = {}) {
  std::vector<const Tensor*> pointers;
  for (const Tensor& t : set.tensors) pointers.push_back(&t);
  save_safetensors(path, pointers, metadata);
}

template <typename F>
std::string error_message(F&& f, ErrorCategory expected) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), expected) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    return e.what();
  }
  ADD_FAILURE() << "no pp::Error thrown";
  return "";
}

TEST(Safetensors, RoundTripKeepsValuesAndMetadata) {
  const std::string path = temp_path("round.safetensors");
  const ParameterSet original = two_tensors();
  save(path, original, {{"step", "12"}, {"model", "gpt2"}});
  ParameterSet loaded = zeroed_like(original);
  load_safetensors(path, &loaded, true);
  for (std::size_t i = 0; i < original.tensors.size(); ++i) {
    EXPECT_EQ(loaded.tensors[i].data, original.tensors[i].data);
    EXPECT_EQ(loaded.tensors[i].grad, original.tensors[i].grad);  // grads untouched
  }
  const auto metadata = read_safetensors_metadata(path);
  EXPECT_EQ(metadata.at("step"), "12");
  EXPECT_EQ(metadata.at("model"), "gpt2");
  const std::string bytes = read_bytes(path);
  EXPECT_EQ((bytes.size() - 8 - (6 + 2) * 4) % 8, 0u);  // header padded to 8 bytes
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));
  std::filesystem::remove(path);
}

TEST(Safetensors, NoMetadataReadsEmpty) {
  const std::string path = temp_path("nometa.safetensors");
  save(path, two_tensors());
  EXPECT_TRUE(read_safetensors_metadata(path).empty());
  std::filesystem::remove(path);
}

TEST(Safetensors, HandWrittenBf16AndF16Convert) {
  const std::string path = temp_path("half.safetensors");
  // BF16: 1.0, -2.5, 0.15625; F16: 1.0, -2.0, 0.5, 65504, 2^-24 (subnormal), +inf.
  const unsigned char data[] = {0x80, 0x3f, 0x20, 0xc0, 0x20, 0x3e,              // bf16 x3
                                0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b,  // f16 x4
                                0x01, 0x00, 0x00, 0x7c};                         // f16 x2
  const std::string header = R"({"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]},)"
                             R"("b":{"dtype":"F16","shape":[2,3],"data_offsets":[6,18]}})";
  write_bytes(path, safetensors_bytes(
                        header, std::string(reinterpret_cast<const char*>(data), sizeof data)));
  ParameterSet set;
  set.tensors.push_back(make_tensor("a", {3}, 0.0f));
  set.tensors.push_back(make_tensor("b", {2, 3}, 0.0f));
  load_safetensors(path, &set, true);
  EXPECT_EQ(set.tensors[0].data, (std::vector<float>{1.0f, -2.5f, 0.15625f}));
  const std::vector<float> expected{1.0f,     -2.0f,    0.5f,
                                    65504.0f, 0x1p-24f, std::numeric_limits<float>::infinity()};
  EXPECT_EQ(set.tensors[1].data, expected);
  std::filesystem::remove(path);
}

TEST(Safetensors, TransformerPrefixAndExtraTensorsAccepted) {
  const std::string path = temp_path("hf.safetensors");
  ParameterSet file = two_tensors();
  for (Tensor& t : file.tensors) t.name = "transformer." + t.name;
  file.tensors.push_back(make_tensor("transformer.h.0.attn.bias", {1, 1, 2, 2}, 1.0f));
  file.tensors.push_back(make_tensor("lm_head.weight", {2, 2}, 1.0f));
  save(path, file);
  ParameterSet loaded = zeroed_like(two_tensors());
  load_safetensors(path, &loaded, true);
  EXPECT_EQ(loaded.tensors[0].data, two_tensors().tensors[0].data);
  EXPECT_EQ(loaded.tensors[1].data, two_tensors().tensors[1].data);
  std::filesystem::remove(path);
}

TEST(Safetensors, MissingTensorNamedUnlessNotStrict) {
  const std::string path = temp_path("missing.safetensors");
  save(path, two_tensors());
  ParameterSet wanted = zeroed_like(two_tensors());
  wanted.tensors.push_back(make_tensor("h.3.mlp.c_fc.weight", {2, 8}, 5.0f));
  const std::string message =
      error_message([&] { load_safetensors(path, &wanted, true); }, ErrorCategory::kInvalidInput);
  EXPECT_NE(message.find("has no tensor 'h.3.mlp.c_fc.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(wanted.tensors[0].data[0], 0.0f);  // a failed load changes nothing
  load_safetensors(path, &wanted, false);
  EXPECT_EQ(wanted.tensors[0].data, two_tensors().tensors[0].data);
  EXPECT_EQ(wanted.tensors[2].data[0], 5.0f);  // kept
  std::filesystem::remove(path);
}

TEST(Safetensors, MisShapedTensorNamed) {
  const std::string path = temp_path("shape.safetensors");
  save(path, two_tensors());
  ParameterSet wanted;
  wanted.tensors.push_back(make_tensor("wpe.weight", {2, 3}, 0.0f));
  const std::string message =
      error_message([&] { load_safetensors(path, &wanted, true); }, ErrorCategory::kInvalidInput);
  EXPECT_NE(message.find("'wpe.weight' is (3, 2), expected (2, 3)"), std::string::npos) << message;
  std::filesystem::remove(path);
}

TEST(Safetensors, UnsupportedDtypeNamed) {
  const std::string path = temp_path("dtype.safetensors");
  write_bytes(path, safetensors_bytes(R"({"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                                      std::string(4, '\0')));
  ParameterSet wanted;
  wanted.tensors.push_back(make_tensor("x", {1}, 0.0f));
  const std::string message =
      error_message([&] { load_safetensors(path, &wanted, true); }, ErrorCategory::kInvalidInput);
  EXPECT_NE(message.find("'x' has dtype 'I32'"), std::string::npos) << message;
  std::filesystem::remove(path);
}

TEST(Safetensors, UnreadableFileIsIoError) {
  ParameterSet set = two_tensors();
  error_message([&] { load_safetensors(temp_path("absent.safetensors"), &set, true); },
                ErrorCategory::kIo);
  error_message([&] { read_safetensors_metadata(temp_path("absent.safetensors")); },
                ErrorCategory::kIo);
  error_message([&] { save(temp_path("no_such_dir/x.safetensors"), set); }, ErrorCategory::kIo);
}

TEST(Safetensors, EveryTruncationIsRejected) {
  const std::string path = temp_path("full.safetensors"), cut = temp_path("cut.safetensors");
  save(path, two_tensors(), {{"k", "v"}});
  const std::string bytes = read_bytes(path);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    write_bytes(cut, bytes.substr(0, n));
    ParameterSet set = zeroed_like(two_tensors());
    error_message([&] { load_safetensors(cut, &set, true); }, ErrorCategory::kInvalidInput);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(cut);
}

TEST(Safetensors, HostileHeadersRaiseErrorsNeverCrash) {
  const std::string path = temp_path("good.safetensors"), bad = temp_path("bad.safetensors");
  save(path, two_tensors(), {{"k", "v"}});
  const std::string bytes = read_bytes(path);
  std::size_t header_length = 0;
  for (int i = 7; i >= 0; --i)
    header_length = header_length * 256 + static_cast<unsigned char>(bytes[i]);
  const std::size_t header_end = 8 + header_length;
  std::mt19937_64 rng(1234);
  int rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string mutated = bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % header_end;  // the length or the JSON
      mutated[at] = static_cast<char>(rng() % 4 == 0 ? "{}[]\":,0"[rng() % 8] : rng() % 256);
    }
    write_bytes(bad, mutated);
    ParameterSet set = zeroed_like(two_tensors());
    try {
      load_safetensors(bad, &set, true);
      read_safetensors_metadata(bad);
    } catch (const Error& err) {
      EXPECT_EQ(err.category(), ErrorCategory::kInvalidInput) << err.what();
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 300);
  std::filesystem::remove(path);
  std::filesystem::remove(bad);
}

TEST(Safetensors, CraftedHeadersRaiseErrors) {
  const std::string f32 = R"({"wpe.weight":{"dtype":"F32",)";
  const std::vector<std::string> headers = {
      std::string(100000, '['),                                            // deep nesting
      f32 + R"("shape":[3,2],"data_offsets":[0,18446744073709551615]}})",  // past the end
      f32 + R"("shape":[4294967296,4294967296],"data_offsets":[0,24]}})",  // overflowing
      f32 + R"("shape":[3,2],"data_offsets":[8,0]}})",                     // reversed
      f32 + R"("shape":[-3,2],"data_offsets":[0,24]}})",                   // negative
      f32 + R"("shape":[3,2],"data_offsets":[0,20]}})",                    // short data
      R"({"__metadata__":{"k":1}})",                                       // not a string
      "\"str\""};
  const std::string bad = temp_path("crafted.safetensors");
  for (const std::string& header : headers) {
    write_bytes(bad, safetensors_bytes(header, std::string(24, '\0')));
    ParameterSet set = zeroed_like(two_tensors());
    error_message([&] { load_safetensors(bad, &set, true); }, ErrorCategory::kInvalidInput);
  }
  write_bytes(bad, le64(1ull << 62) + "{}");  // a header length far over the cap
  ParameterSet set = zeroed_like(two_tensors());
  error_message([&] { load_safetensors(bad, &set, true); }, ErrorCategory::kInvalidInput);
  std::filesystem::remove(bad);
}

// ---- token files ------------------------------------------------------------------------------

std::string u16_bytes(const std::vector<std::uint16_t>& tokens) {
  std::string s;
  for (std::uint16_t t : tokens) {
    s.push_back(static_cast<char>(t & 0xff));
    s.push_back(static_cast<char>(t >> 8));
  }
  return s;
}

std::string llmc_header(std::int32_t magic, std::int32_t version, std::int32_t count) {
  std::string s(1024, '\0');
  const std::int32_t fields[3] = {magic, version, count};
  std::memcpy(s.data(), fields, sizeof fields);
  return s;
}

std::vector<std::uint16_t> iota_tokens(int n) {
  std::vector<std::uint16_t> tokens(n);
  for (int i = 0; i < n; ++i) tokens[i] = static_cast<std::uint16_t>(1000 + i);
  return tokens;
}

TEST(TokenData, RawAndLlmcHeaderGiveSameWindows) {
  const std::string raw = temp_path("raw.bin"), llmc = temp_path("llmc.bin");
  const auto tokens = iota_tokens(100);
  write_bytes(raw, u16_bytes(tokens));
  write_bytes(llmc, llmc_header(20240520, 1, 100) + u16_bytes(tokens));
  const TokenData a = TokenData::open(raw), b = TokenData::open(llmc);
  EXPECT_EQ(a.size(), 100u);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_FALSE(a.has_llmc_header());
  EXPECT_TRUE(b.has_llmc_header());
  std::vector<std::int32_t> in_a, tg_a, in_b, tg_b;
  for (std::int64_t step = 0; step < 5; ++step) {
    a.global_batch(step, 3, 8, &in_a, &tg_a);
    b.global_batch(step, 3, 8, &in_b, &tg_b);
    EXPECT_EQ(in_a, in_b);
    EXPECT_EQ(tg_a, tg_b);
  }
  a.global_batch(1, 3, 8, &in_a, &tg_a);  // windows start at tokens 24, 32, 40
  ASSERT_EQ(in_a.size(), 24u);
  EXPECT_EQ(in_a[0], 1024);
  EXPECT_EQ(tg_a[0], 1025);
  EXPECT_EQ(in_a[8], 1032);
  EXPECT_EQ(tg_a[23], 1048);
  std::filesystem::remove(raw);
  std::filesystem::remove(llmc);
}

TEST(TokenData, WrapsAroundTheEnd) {
  const std::string path = temp_path("wrap.bin");
  write_bytes(path, u16_bytes(iota_tokens(10)));
  const TokenData data = TokenData::open(path);
  std::vector<std::int32_t> inputs, targets;
  data.global_batch(1, 2, 4, &inputs, &targets);  // windows at 8 and 12 % 10 = 2
  EXPECT_EQ(inputs, (std::vector<std::int32_t>{1008, 1009, 1000, 1001, 1002, 1003, 1004, 1005}));
  EXPECT_EQ(targets, (std::vector<std::int32_t>{1009, 1000, 1001, 1002, 1003, 1004, 1005, 1006}));
  data.global_batch(1000000000000, 2, 4, &inputs, &targets);  // 8e12 % 10 = 0
  EXPECT_EQ(inputs[0], 1000);
  std::filesystem::remove(path);
}

TEST(TokenData, ErrorsNameTheFile) {
  error_message([] { TokenData::open(temp_path("absent.bin")); }, ErrorCategory::kIo);
  const std::string path = temp_path("bad.bin");
  write_bytes(path, u16_bytes(iota_tokens(5)) + "x");
  EXPECT_NE(error_message([&] { TokenData::open(path); }, ErrorCategory::kInvalidInput).find(path),
            std::string::npos);
  write_bytes(path, u16_bytes(iota_tokens(5)));
  const TokenData data = TokenData::open(path);
  std::vector<std::int32_t> inputs, targets;
  data.global_batch(0, 1, 4, &inputs, &targets);  // 5 tokens: one window of 4 + 1
  const std::string short_message = error_message(
      [&] { data.global_batch(0, 1, 5, &inputs, &targets); }, ErrorCategory::kInvalidInput);
  EXPECT_NE(short_message.find(path), std::string::npos);
  write_bytes(path, llmc_header(20240520, 1, 6) + u16_bytes(iota_tokens(5)));
  EXPECT_NE(
      error_message([&] { TokenData::open(path); }, ErrorCategory::kInvalidInput).find("6 tokens"),
      std::string::npos);
  write_bytes(path, llmc_header(20240520, 2, 5) + u16_bytes(iota_tokens(5)));
  error_message([&] { TokenData::open(path); }, ErrorCategory::kInvalidInput);
  write_bytes(path, "");
  error_message([&] { TokenData::open(path); }, ErrorCategory::kInvalidInput);
  std::filesystem::remove(path);
}

std::vector<std::uint16_t> all_tokens(const TokenData& data) {
  std::vector<std::uint16_t> tokens;
  for (std::size_t i = 0; i < data.size(); ++i) tokens.push_back(data.token(i));
  return tokens;
}

TEST(TokenData, SyntheticCorpusIsDeterministicAndRepetitive) {
  const std::string a = temp_path("syn_a.bin"), b = temp_path("syn_b.bin"),
                    c = temp_path("syn_c.bin");
  write_synthetic_tokens(a, 5000, 50257, 7, false);
  write_synthetic_tokens(b, 5000, 50257, 7, true);
  write_synthetic_tokens(c, 5000, 50257, 8, false);
  const TokenData da = TokenData::open(a), db = TokenData::open(b), dc = TokenData::open(c);
  EXPECT_EQ(da.size(), 5000u);
  EXPECT_TRUE(db.has_llmc_header());
  const auto ta = all_tokens(da);
  EXPECT_EQ(ta, all_tokens(db));
  EXPECT_NE(ta, all_tokens(dc));
  std::set<std::uint16_t> distinct(ta.begin(), ta.end());
  EXPECT_LE(distinct.size(), 32u * 12u);  // a small, learnable vocabulary in use
  for (std::uint16_t t : ta) EXPECT_LT(t, 50257);
  write_synthetic_tokens(c, 5000, 50257, 7, false);
  EXPECT_EQ(read_bytes(a), read_bytes(c));
  error_message([&] { write_synthetic_tokens(c, 10, 1, 7, false); }, ErrorCategory::kInvalidInput);
  for (const auto& p : {a, b, c}) std::filesystem::remove(p);
}

}  // namespace
}  // namespace pp
