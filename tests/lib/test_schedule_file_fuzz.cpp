// Deterministic mutation fuzzing of the schedule-file parser (runs in every CI build; the libFuzzer
// target in tests/fuzz/ explores further where clang is available).
//
// Starts from valid schedule files written by schedule_to_json_text(), applies seeded random
// mutations (byte flips, deletions, insertions of JSON-significant characters, truncation,
// duplicated ranges, numbers replaced by extreme ones, swapped string tokens) and checks, for each
// mutated text, the parser's contract: it returns or throws pp::Error(kInvalidInput), never another
// exception. Whatever parses must go through validate_schedule() without throwing; what fails it
// must make require_valid_schedule() throw pp::Error (its message renders the schedule grid);
// what passes must survive a write/parse round trip and, when unlowered, lowering.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <exception>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/schedule.h"
#include "pp/schedule_file.h"
#include "pp/schedule_generators.h"
#include "pp/validator.h"

namespace {

constexpr int kMutationsPerSeed = 2500;  // x 8 seeds = 20,000 mutated texts
constexpr int kMaxReportedFailures = 5;  // per seed, so a regression does not flood the log

// ---------------------------------------------------------------------------------------------
// Mutations. The generator is std::mt19937_64 with raw draws (no std distributions, whose output
// differs between standard libraries), so a failing case reproduces everywhere from its seed.

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  // Applies 1..3 random mutations to `text` (mostly one): three in four edit whole JSON tokens, so
  // that the text often stays JSON and reaches the schedule checks; the others edit raw bytes.
  std::string mutate(std::string text) {
    const int count = 1 + (below(4) == 0 ? 1 + static_cast<int>(below(2)) : 0);
    for (int i = 0; i < count; ++i) {
      if (below(4) != 0) {
        mutate_token(&text);
      } else {
        mutate_bytes(&text);
      }
    }
    return text;
  }

 private:
  using Span = std::pair<std::size_t, std::size_t>;  // (offset, length) in the text

  // A uniform-enough draw in 0..n-1 (n > 0).
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  std::size_t position(const std::string& text) { return below(text.size() + 1); }

  void mutate_token(std::string* text) {
    switch (below(5)) {
      case 0: replace_number(text); break;
      case 1: swap_strings(text); break;
      case 2: replace_string(text); break;
      case 3: erase_string(text); break;
      default: duplicate_string(text); break;
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

  // Replaces the run of digits at or after a random position by an extreme or odd number.
  void replace_number(std::string* text) {
    static constexpr std::array<std::string_view, 18> kNumbers = {
        "-1",         "0",          "1",           "2",
        "-0",         "1.5",        "1e308",       "-1e308",
        "32767",      "32768",      "65536",       "2147483647",
        "2147483648", "-2147483649", "4294967296", "9223372036854775807",
        "18446744073709551615",     "123456789012345678901234567890"};
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

  // Swaps two quoted strings ("F3" <-> "B1", "ranks" <-> "STEP"): reorders actions and keys.
  void swap_strings(std::string* text) {
    Span a, b;
    if (!pick_string(*text, &a) || !pick_string(*text, &b) || a.first == b.first) return;
    if (a.first > b.first) std::swap(a, b);
    const std::string sa = text->substr(a.first, a.second);
    const std::string sb = text->substr(b.first, b.second);
    text->replace(b.first, b.second, sa);  // the later one first: offsets of `a` stay put
    text->replace(a.first, a.second, sb);
  }

  // Replaces a quoted string by an action, an op or a key that may not belong there.
  void replace_string(std::string* text) {
    static constexpr std::array<std::string_view, 24> kStrings = {
        "\"F0\"",     "\"B0\"",      "\"I1\"",     "\"W1\"",     "\"F1.1\"",    "\"B0.1\"",
        "\"F9\"",     "\"F0.9\"",    "\"F\"",      "\"X0\"",     "\"F00\"",     "\"F0.\"",
        "\"F-1\"",    "\"REDUCE\"",  "\"STEP\"",   "\"SEND_F\"", "\"RECV_B\"",  "\"op\"",
        "\"mb\"",     "\"peer\"",    "\"chunk\"",  "\"ranks\"",  "\"placement\"", "\"\""};
    Span span;
    if (!pick_string(*text, &span)) return;
    text->replace(span.first, span.second, kStrings[below(kStrings.size())]);
  }

  // Deletes a quoted string and the comma after it: drops an action from a list.
  void erase_string(std::string* text) {
    Span span;
    if (!pick_string(*text, &span)) return;
    std::size_t length = span.second;
    if (span.first + length < text->size() && (*text)[span.first + length] == ',') ++length;
    text->erase(span.first, length);
  }

  // Repeats a quoted string as the next list element: runs an action twice.
  void duplicate_string(std::string* text) {
    Span span;
    if (!pick_string(*text, &span)) return;
    text->insert(span.first, text->substr(span.first, span.second) + ",");
  }

  std::mt19937_64 rng_;
};

// ---------------------------------------------------------------------------------------------
// The contract checks. Each returns an empty string when the contract holds, else what broke.

struct Tally {
  int parsed = 0;
  int valid = 0;
};

bool same_schedule(const pp::Schedule& a, const pp::Schedule& b) {
  return a.name == b.name && a.ranks == b.ranks && a.microbatches == b.microbatches &&
         a.chunks_per_rank == b.chunks_per_rank && a.placement == b.placement &&
         a.actions == b.actions;
}

// A schedule that validated: it must survive writing and re-parsing unchanged and, when unlowered,
// lower into a schedule that validates.
std::string check_valid_schedule(const pp::Schedule& schedule) {
  try {
    const std::string written = pp::schedule_to_json_text(schedule);
    if (!same_schedule(schedule, pp::parse_schedule_json(written, "written"))) {
      return "a valid schedule changed in a write/parse round trip";
    }
    if (schedule.is_lowered()) return "";
    if (!pp::validate_schedule(pp::lower_communication(schedule)).ok()) {
      return "lowering a valid schedule gave an invalid one";
    }
  } catch (const std::exception& e) {
    return std::string("a valid schedule threw in round trip or lowering: ") + e.what();
  }
  return "";
}

// A schedule that failed validation: require_valid_schedule() must throw pp::Error(kInvalidInput)
// with the first violation and the grid around it (render_schedule_grid on hostile data).
std::string check_invalid_schedule(const pp::Schedule& schedule) {
  try {
    pp::require_valid_schedule(schedule);
  } catch (const pp::Error& e) {
    if (e.category() == pp::ErrorCategory::kInvalidInput) return "";
    return std::string("require_valid_schedule threw a non-input pp::Error: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("require_valid_schedule threw a non-pp exception: ") + e.what();
  }
  return "require_valid_schedule accepted a schedule that validate_schedule rejects";
}

// Parses and validates one text; counts what got how far.
std::string check_text(const std::string& text, Tally* tally) {
  pp::Schedule schedule;
  try {
    schedule = pp::parse_schedule_json(text, "mutated");
  } catch (const pp::Error& e) {
    if (e.category() == pp::ErrorCategory::kInvalidInput) return "";
    return std::string("parse threw pp::Error of a category other than invalid input: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("parse threw a non-pp exception: ") + e.what();
  } catch (...) {
    return "parse threw something that is not a std::exception";
  }
  ++tally->parsed;
  pp::ValidationReport report;
  try {
    report = pp::validate_schedule(schedule);
  } catch (const std::exception& e) {
    return std::string("validate_schedule threw: ") + e.what();
  }
  if (!report.ok()) return check_invalid_schedule(schedule);
  ++tally->valid;
  return check_valid_schedule(schedule);
}

// ---------------------------------------------------------------------------------------------
// Seeds: small valid schedules of every generator, unlowered and lowered.

struct Seed {
  const char* label;
  const char* schedule;
  pp::ScheduleSpec spec;
  bool lowered;
};

const Seed kSeeds[] = {
    {"gpipe_k2_m3", "gpipe", {2, 3, 1}, false},
    {"1f1b_k3_m4", "1f1b", {3, 4, 1}, false},
    {"1f1b_k2_m2_lowered", "1f1b", {2, 2, 1}, true},
    {"interleaved_k2_m4_v2", "interleaved", {2, 4, 2}, false},
    {"interleaved_k2_m2_v2_lowered", "interleaved", {2, 2, 2}, true},
    {"zb_h1_k2_m3", "zb-h1", {2, 3, 1}, false},
    {"zb_h1_k3_m3_lowered", "zb-h1", {3, 3, 1}, true},
    {"gpipe_k1_m2", "gpipe", {1, 2, 1}, false},
};

std::string seed_text(const Seed& seed) {
  pp::Schedule schedule = pp::generate_schedule(seed.schedule, seed.spec);
  if (seed.lowered) schedule = pp::lower_communication(schedule);
  return pp::schedule_to_json_text(schedule);
}

class ScheduleFileFuzz : public ::testing::TestWithParam<int> {};

TEST_P(ScheduleFileFuzz, ParserThrowsOnlyPpErrorAndValidatorNeverThrows) {
  const Seed& seed = kSeeds[GetParam()];
  const std::string original = seed_text(seed);
  Tally tally;
  ASSERT_EQ(check_text(original, &tally), "") << "the unmutated seed fails";
  ASSERT_EQ(tally.valid, 1) << "the unmutated seed does not validate";

  Mutator mutator(0x5eed0000u + static_cast<std::uint64_t>(GetParam()));
  int failures = 0;
  for (int i = 0; i < kMutationsPerSeed && failures < kMaxReportedFailures; ++i) {
    const std::string text = mutator.mutate(original);
    const std::string broken = check_text(text, &tally);
    if (broken.empty()) continue;
    ++failures;
    ADD_FAILURE() << seed.label << ", mutation " << i << ": " << broken << "\n--- input ---\n"
                  << text << "\n--- end ---";
  }
  // The mutations must reach the validator, not only the JSON syntax check.
  EXPECT_GT(tally.parsed, kMutationsPerSeed / 20) << seed.label;
  RecordProperty("parsed", tally.parsed);
  RecordProperty("valid", tally.valid);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ScheduleFileFuzz,
                         ::testing::Range(0, static_cast<int>(std::size(kSeeds))),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return std::string(kSeeds[param.param].label);
                         });

// Hand-picked hostile inputs that random mutation rarely reaches.
TEST(ScheduleFileHostile, DeepNestingHugeHeadersAndOddActionsAreRejectedCleanly) {
  const std::string header = R"({"schema": "pp.schedule", "version": 1, )";
  std::vector<std::string> texts = {
      "",
      "null",
      std::string(100000, '['),
      std::string(50000, '[') + std::string(50000, ']'),
      header + R"("ranks": 4096, "microbatches": 1048576, "chunks_per_rank": 64, "actions": []})",
      header + R"("ranks": 4096, "microbatches": 4096, "actions": [])" + "}",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F2147483648"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0.65"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0.64"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F-0"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0", "B0", "REDUCE"]]})",
      header + R"("ranks": 2, "microbatches": 1, "actions": [["F0", {"op": "SEND_F", "mb": 0,
          "peer": 0}, "B0"], ["F0", "B0"]]})",
      header + R"("ranks": 2, "microbatches": 1, "placement": [[1], [1]], "actions": [[], []]})",
      header + R"("ranks": 1, "microbatches": 1, "name": "\u0000\ud800", "actions": [["F0"]]})",
      header + R"("ranks": 1.0, "microbatches": 1, "actions": [["F0"]]})",
      header + R"("ranks": 1, "microbatches": 1, "actions": [["F0", "B0"]], "ranks": 2})",
  };
  std::string many_ranks = header + R"("ranks": 4096, "microbatches": 4096, "actions": [)";
  for (int r = 0; r < 4096; ++r) many_ranks += r ? ",[]" : "[]";
  texts.push_back(many_ranks + "]}");
  Tally tally;
  for (const std::string& text : texts) {
    EXPECT_EQ(check_text(text, &tally), "") << text.substr(0, 200);
  }
}

}  // namespace
