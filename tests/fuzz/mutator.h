#pragma once
// A seeded mutator of pp's input files, shared by the deterministic mutation tests of every format
// (model config, cluster, profile, plan, schedule, safetensors, token file). Header-only test code.
//
// Mutations: whole JSON tokens (numbers replaced by extreme ones such as 1e400, -0, 1e-400 and
// huge integers; quoted strings swapped, replaced by format keys or by values of another type,
// erased or repeated; values wrapped in deep nesting), raw bytes (bit flips, deletions, insertions
// of JSON-significant characters, truncation, duplicated ranges) and little-endian words (for
// binary headers: lengths, magics, counts replaced by edge values).
//
// The generator is std::mt19937_64 with raw draws (no std distributions, whose output differs
// between standard libraries), so a failing case reproduces everywhere from its seed.

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pp_test {

// How often each kind of mutation is picked (relative weights; a zero weight disables a kind).
struct MutationWeights {
  int json_tokens = 3;  // text formats: mostly keep the text JSON so the field checks are reached
  int raw_bytes = 1;
  int binary_words = 0;  // binary headers: 4- and 8-byte little-endian fields
};

class Mutator {
 public:
  // `strings`: quoted tokens of the format ("\"n_embd\"", "\"F0\"") that a quoted string of the
  // text may be replaced by, beside the common ones (schema keys, values of other types).
  Mutator(std::uint64_t seed, std::vector<std::string> strings, MutationWeights weights = {})
      : rng_(seed), strings_(std::move(strings)), weights_(weights) {
    static constexpr std::array<std::string_view, 13> kCommon = {
        "\"\"",  "\"schema\"", "\"version\"", "\"name\"", "\"\\u0000\"", "\"\\ud800\"", "null",
        "true", "[]",           "{}",            "1e400",      "-1",           "\"1\""};
    for (std::string_view s : kCommon) strings_.emplace_back(s);
  }

  // Applies 1..3 random mutations to `text` (mostly one).
  std::string mutate(std::string text) {
    const int count = 1 + (below(4) == 0 ? 1 + static_cast<int>(below(2)) : 0);
    for (int i = 0; i < count; ++i) mutate_once(&text);
    return text;
  }

  // A uniform-enough draw in 0..n-1 (n > 0).
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

 private:
  using Span = std::pair<std::size_t, std::size_t>;  // (offset, length) in the text

  std::size_t position(const std::string& text) { return below(text.size() + 1); }

  void mutate_once(std::string* text) {
    const std::size_t total = static_cast<std::size_t>(weights_.json_tokens + weights_.raw_bytes +
                                                       weights_.binary_words);
    const std::size_t pick = below(total);
    if (pick < static_cast<std::size_t>(weights_.json_tokens)) {
      mutate_token(text);
    } else if (pick < static_cast<std::size_t>(weights_.json_tokens + weights_.raw_bytes)) {
      mutate_bytes(text);
    } else {
      replace_word(text);
    }
  }

  void mutate_token(std::string* text) {
    switch (below(6)) {
      case 0: replace_number(text); break;
      case 1: swap_strings(text); break;
      case 2: replace_string(text); break;
      case 3: erase_string(text); break;
      case 4: duplicate_string(text); break;
      default: nest(text); break;
    }
  }

  void mutate_bytes(std::string* text) {
    switch (below(6)) {
      case 0: flip_bit(text); break;
      case 1: erase_range(text); break;
      case 2: insert_significant(text); break;
      case 3: truncate(text); break;
      case 4: duplicate_range(text); break;
      default: replace_byte(text); break;
    }
  }

  void flip_bit(std::string* text) {
    if (text->empty()) return;
    char& c = (*text)[below(text->size())];
    c = static_cast<char>(static_cast<unsigned char>(c) ^ (1u << below(8)));
  }

  void replace_byte(std::string* text) {
    if (text->empty()) return;
    (*text)[below(text->size())] = static_cast<char>(below(256));
  }

  void erase_range(std::string* text) {
    if (text->empty()) return;
    const std::size_t at = below(text->size());
    text->erase(at, 1 + below(8));
  }

  void insert_significant(std::string* text) {
    static constexpr std::string_view kChars = "{}[]\",:0123456789-.eE \\";
    const std::size_t n = 1 + below(3);
    const std::size_t at = position(*text);
    for (std::size_t i = 0; i < n; ++i) text->insert(at, 1, kChars[below(kChars.size())]);
  }

  void truncate(std::string* text) { text->resize(position(*text)); }

  void duplicate_range(std::string* text) {
    if (text->empty()) return;
    const std::size_t from = below(text->size());
    const std::string piece = text->substr(from, 1 + below(64));
    text->insert(position(*text), piece);
  }

  // Overwrites a 4- or 8-byte little-endian field (at a multiple of its width) by an edge value.
  void replace_word(std::string* text) {
    static constexpr std::array<std::uint64_t, 12> kWords = {
        0, 1, 2, 7, 8, 255, 20240520, 0x7fffffffULL, 0x80000000ULL, 0xffffffffULL,
        0x7fffffffffffffffULL, 0xffffffffffffffffULL};
    const std::size_t width = below(2) == 0 ? 4 : 8;
    if (text->size() < width) return;
    const std::size_t at = below(text->size() / width) * width;
    std::uint64_t value = kWords[below(kWords.size())];
    if (below(4) == 0) value = text->size() - below(16);  // a length near the file's own
    for (std::size_t i = 0; i < width; ++i) (*text)[at + i] = static_cast<char>(value >> (8 * i));
  }

  // Replaces the run of digits at or after a random position by an extreme or odd number.
  void replace_number(std::string* text) {
    static constexpr std::array<std::string_view, 30> kNumbers = {
        "-1",          "0",           "1",          "2",           "-0",
        "1.5",         "1e308",       "-1e308",     "1e400",       "-1e400",
        "1e-400",      "-0.0",        "4.9e-324",   "1e18",        "1e300",
        "32767",       "32768",       "65536",      "2147483647",  "2147483648",
        "-2147483649", "4294967296",  "1099511627776", "1099511627777", "4611686018427387905",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "123456789012345678901234567890"};
    const std::size_t start = text->find_first_of("0123456789", position(*text));
    if (start == std::string::npos) return;
    std::size_t end = start;
    while (end < text->size() && (*text)[end] >= '0' && (*text)[end] <= '9') ++end;
    text->replace(start, end - start, kNumbers[below(kNumbers.size())]);
  }

  // The quoted strings of the text (quotes included), honouring backslash escapes.
  static std::vector<Span> strings_of(const std::string& text) {
    std::vector<Span> spans;
    std::size_t open = std::string::npos;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && open != std::string::npos) {
        ++i;
      } else if (text[i] == '"') {
        if (open == std::string::npos) {
          open = i;
        } else {
          spans.emplace_back(open, i - open + 1);
          open = std::string::npos;
        }
      }
    }
    return spans;
  }

  // Picks a random quoted string; false when there is none.
  bool pick_string(const std::string& text, Span* span) {
    const std::vector<Span> spans = strings_of(text);
    if (spans.empty()) return false;
    *span = spans[below(spans.size())];
    return true;
  }

  // Swaps two quoted strings (two keys, a key and a value, two actions).
  void swap_strings(std::string* text) {
    Span a, b;
    if (!pick_string(*text, &a) || !pick_string(*text, &b) || a.first == b.first) return;
    if (a.first > b.first) std::swap(a, b);
    const std::string sa = text->substr(a.first, a.second);
    const std::string sb = text->substr(b.first, b.second);
    text->replace(b.first, b.second, sa);  // the later one first: offsets of `a` stay put
    text->replace(a.first, a.second, sb);
  }

  // Replaces a quoted string by a format token or a common one, which may not belong there.
  void replace_string(std::string* text) {
    Span span;
    if (!pick_string(*text, &span)) return;
    text->replace(span.first, span.second, strings_[below(strings_.size())]);
  }

  // Deletes a quoted string and the comma after it: drops a list element or a key.
  void erase_string(std::string* text) {
    Span span;
    if (!pick_string(*text, &span)) return;
    std::size_t length = span.second;
    if (span.first + length < text->size() && (*text)[span.first + length] == ',') ++length;
    text->erase(span.first, length);
  }

  // Repeats a quoted string as the next element: a repeated list entry or a duplicated key.
  void duplicate_string(std::string* text) {
    Span span;
    if (!pick_string(*text, &span)) return;
    text->insert(span.first, text->substr(span.first, span.second) + ",");
  }

  // Wraps the value after a random ':' in 1..5000 levels of [ ] (deep nesting).
  void nest(std::string* text) {
    const std::size_t colon = text->find(':', position(*text));
    if (colon == std::string::npos) return;
    std::size_t end = text->find_first_of(",}", colon + 1);
    if (end == std::string::npos) end = text->size();
    const std::size_t depth = below(4) == 0 ? 1000 + below(4000) : 1 + below(8);
    text->insert(end, std::string(depth, ']'));
    text->insert(colon + 1, std::string(depth, '['));
  }

  std::mt19937_64 rng_;
  std::vector<std::string> strings_;
  MutationWeights weights_;
};

}  // namespace pp_test
