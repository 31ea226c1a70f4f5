#include "pp/schedule_file.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/schedule_generators.h"

namespace pp {
namespace {

using nlohmann::json;

// nlohmann's messages start with "[json.exception.parse_error.101] "; users need only the rest.
std::string without_exception_prefix(const std::string& message) {
  const auto end = message.find("] ");
  return message.rfind("[json.exception", 0) == 0 && end != std::string::npos
             ? message.substr(end + 2)
             : message;
}

class Parser {
 public:
  explicit Parser(std::string_view origin) : origin_(origin) {}

  Schedule parse(std::string_view text) {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::exception& e) {  // syntax, or a number out of range (1e400)
      fail("", "not valid JSON: " + without_exception_prefix(e.what()));
    }
    if (!doc.is_object()) fail("", "the top level must be a JSON object");
    check_known_keys(doc);
    check_schema(doc);
    Schedule s;
    s.name = doc.contains("name") ? string_field(doc, "name") : origin_;
    s.ranks = int_field(doc, "ranks", 1, kMaxRanks);
    s.microbatches = int_field(doc, "microbatches", 1, kMaxMicrobatches);
    s.chunks_per_rank =
        doc.contains("chunks_per_rank") ? int_field(doc, "chunks_per_rank", 1, kMaxVirtualStages) : 1;
    if (1LL * s.ranks * s.chunks_per_rank * s.microbatches > kMaxStageMicrobatches) {
      fail("microbatches", fmt::format("ranks x chunks_per_rank x microbatches is over pp's limit "
                                       "of {}", kMaxStageMicrobatches));
    }
    s.placement = doc.contains("placement") ? parse_placement(doc.at("placement"), s)
                                            : interleaved_placement(s.ranks, s.chunks_per_rank);
    parse_actions(doc, &s);
    return s;
  }

 private:
  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    if (field.empty()) throw_invalid(fmt::format("schedule file '{}': {}", origin_, what));
    throw_invalid(fmt::format("schedule file '{}': {}: {}", origin_, field, what));
  }

  void check_known_keys(const json& doc) const {
    static const std::set<std::string> known = {"schema",  "version",         "name",
                                                "ranks",   "microbatches",    "chunks_per_rank",
                                                "placement", "actions"};
    for (const auto& item : doc.items()) {
      if (!known.count(item.key())) {
        fail(item.key(), "unknown field (known: schema, version, name, ranks, microbatches, "
                         "chunks_per_rank, placement, actions)");
      }
    }
  }

  void check_schema(const json& doc) const {
    if (!doc.contains("schema") || !doc.at("schema").is_string() ||
        doc.at("schema").get<std::string>() != kScheduleSchema) {
      fail("schema", fmt::format("must be \"{}\"", kScheduleSchema));
    }
    const int version = int_field(doc, "version", 0, 1 << 30);
    if (version != kScheduleFileVersion) {
      fail("version", fmt::format("version {} is not supported (this pp reads version {})",
                                  version, kScheduleFileVersion));
    }
  }

  std::string string_field(const json& doc, const char* key) const {
    if (!doc.at(key).is_string()) fail(key, "must be a string");
    return doc.at(key).get<std::string>();
  }

  int int_value(const json& value, const std::string& field, long long low, long long high) const {
    if (!value.is_number_integer()) fail(field, "must be an integer");
    const long long v = value.is_number_unsigned()
                            ? static_cast<long long>(std::min<std::uint64_t>(
                                  value.get<std::uint64_t>(), 1ULL << 62))
                            : value.get<long long>();
    if (v < low || v > high) fail(field, fmt::format("{} is outside {}..{}", v, low, high));
    return static_cast<int>(v);
  }

  int int_field(const json& doc, const char* key, long long low, long long high) const {
    if (!doc.contains(key)) fail(key, "is missing");
    return int_value(doc.at(key), key, low, high);
  }

  std::vector<std::vector<int>> parse_placement(const json& p, const Schedule& s) const {
    if (!p.is_array() || static_cast<int>(p.size()) != s.ranks) {
      fail("placement", fmt::format("must be a list of {} lists (one per rank)", s.ranks));
    }
    std::vector<std::vector<int>> placement(s.ranks);
    for (int r = 0; r < s.ranks; ++r) {
      const std::string field = fmt::format("placement[{}]", r);
      if (!p[r].is_array() || static_cast<int>(p[r].size()) != s.chunks_per_rank) {
        fail(field, fmt::format("must list {} stages (one per chunk)", s.chunks_per_rank));
      }
      for (int c = 0; c < s.chunks_per_rank; ++c) {
        placement[r].push_back(int_value(p[r][c], fmt::format("{}[{}]", field, c), 0,
                                         s.stage_count() - 1));
      }
    }
    return placement;
  }

  void parse_actions(const json& doc, Schedule* s) const {
    if (!doc.contains("actions")) fail("actions", "is missing");
    const json& lists = doc.at("actions");
    if (!lists.is_array() || static_cast<int>(lists.size()) != s->ranks) {
      fail("actions", fmt::format("must be a list of {} lists (one per rank)", s->ranks));
    }
    check_action_count(lists);
    s->actions.resize(s->ranks);
    for (int r = 0; r < s->ranks; ++r) {
      const std::string field = fmt::format("actions[{}]", r);
      if (!lists[r].is_array()) fail(field, "must be a list of actions");
      auto& out = s->actions[r];
      out.reserve(lists[r].size() + 2);
      for (std::size_t i = 0; i < lists[r].size(); ++i) {
        out.push_back(parse_action(lists[r][i], fmt::format("{}[{}]", field, i), *s));
      }
      append_step_end_if_absent(&out);
    }
  }

  // Refuses, before converting any, more actions than pp simulates (kMaxScheduleActions).
  void check_action_count(const json& lists) const {
    long long total = 0;
    for (const json& list : lists) total += list.is_array() ? static_cast<long long>(list.size()) + 2 : 0;
    if (total > kMaxScheduleActions) {
      fail("actions", fmt::format("{} actions is over pp's limit of {}", total, kMaxScheduleActions));
    }
  }

  static void append_step_end_if_absent(std::vector<Action>* out) {
    for (const Action& a : *out) {
      if (is_step_end(a.kind)) return;
    }
    out->push_back({ActionKind::kReduceGradients, -1, 0, -1});
    out->push_back({ActionKind::kOptimizerStep, -1, 0, -1});
  }

  Action parse_action(const json& value, const std::string& field, const Schedule& s) const {
    if (value.is_string()) return parse_shorthand(value.get<std::string>(), field, s);
    if (!value.is_object()) fail(field, "must be a string such as \"F3\" or an object");
    for (const auto& item : value.items()) {
      if (item.key() != "op" && item.key() != "mb" && item.key() != "chunk" &&
          item.key() != "peer") {
        fail(field + "." + item.key(), "unknown field (known: op, mb, chunk, peer)");
      }
    }
    Action a;
    if (!value.contains("op") || !value.at("op").is_string() ||
        !parse_action_kind(value.at("op").get<std::string>(), &a.kind)) {
      fail(field + ".op", "must be one of F, B, I, W, SEND_F, RECV_F, SEND_B, RECV_B, REDUCE, STEP");
    }
    if (is_step_end(a.kind)) return a;
    if (!value.contains("mb")) fail(field + ".mb", "is missing");
    a.microbatch = int_value(value.at("mb"), field + ".mb", 0, s.microbatches - 1);
    if (value.contains("chunk")) {
      a.chunk = static_cast<std::int16_t>(
          int_value(value.at("chunk"), field + ".chunk", 0, s.chunks_per_rank - 1));
    }
    if (is_comm(a.kind)) {
      if (!value.contains("peer")) fail(field + ".peer", "is missing (sends and receives need it)");
      a.peer = int_value(value.at("peer"), field + ".peer", 0, s.ranks - 1);
    }
    return a;
  }

  // "F3", "B3", "I3", "W3", with an optional ".chunk"; "REDUCE"; "STEP".
  Action parse_shorthand(const std::string& text, const std::string& field, const Schedule& s) const {
    Action a;
    if (text == "REDUCE" || text == "STEP") {
      parse_action_kind(text, &a.kind);
      return a;
    }
    const std::string expected =
        "expected F<mb>, B<mb>, I<mb> or W<mb> (optionally .<chunk>), REDUCE, STEP, or an object";
    auto reject = [&]() { fail(field, fmt::format("'{}' is not an action: {}", text, expected)); };
    if (text.size() < 2 || !parse_action_kind(text.substr(0, 1), &a.kind) || !is_compute(a.kind) ||
        text[1] < '0' || text[1] > '9') {
      reject();
    }
    const char* end = text.data() + text.size();
    int mb = 0;
    auto [after_mb, ec] = std::from_chars(text.data() + 1, end, mb);
    if (ec != std::errc()) reject();
    int chunk = 0;
    if (after_mb != end) {
      if (*after_mb != '.' || after_mb + 1 == end || after_mb[1] < '0' || after_mb[1] > '9') reject();
      auto [after_chunk, ec2] = std::from_chars(after_mb + 1, end, chunk);
      if (ec2 != std::errc() || after_chunk != end) reject();
    }
    if (mb >= s.microbatches) {
      fail(field, fmt::format("micro-batch {} is outside 0..{}", mb, s.microbatches - 1));
    }
    if (chunk >= s.chunks_per_rank) {
      fail(field, fmt::format("chunk {} is outside 0..{}", chunk, s.chunks_per_rank - 1));
    }
    a.microbatch = mb;
    a.chunk = static_cast<std::int16_t>(chunk);
    return a;
  }

  std::string origin_;
};

json action_to_json(const Action& a, int chunks_per_rank) {
  if (!is_comm(a.kind)) return action_label(a, chunks_per_rank);
  json object = {{"op", action_kind_name(a.kind)}, {"mb", a.microbatch}, {"peer", a.peer}};
  if (chunks_per_rank > 1) object["chunk"] = a.chunk;
  return object;
}

}  // namespace

Schedule parse_schedule_json(std::string_view text, std::string_view origin) {
  try {
    return Parser(origin).parse(text);
  } catch (const json::exception& e) {
    throw_invalid(fmt::format("schedule file '{}': {}", origin, without_exception_prefix(e.what())));
  }
}

Schedule load_schedule_file(const std::string& path) {
  return parse_schedule_json(read_text_file(path, "schedule file", kMaxScheduleFileBytes), path);
}

std::string schedule_to_json_text(const Schedule& s) {
  nlohmann::ordered_json doc = {{"schema", kScheduleSchema},     {"version", kScheduleFileVersion},
              {"name", s.name},                {"ranks", s.ranks},
              {"microbatches", s.microbatches}, {"chunks_per_rank", s.chunks_per_rank},
              {"placement", s.placement}};
  json lists = json::array();
  for (const auto& list : s.actions) {
    json out = json::array();
    for (const Action& a : list) out.push_back(action_to_json(a, s.chunks_per_rank));
    lists.push_back(std::move(out));
  }
  doc["actions"] = std::move(lists);
  // One rank per line keeps a hand-edited file readable.
  std::string text = "{\n";
  std::size_t i = 0;
  for (const auto& item : doc.items()) {
    text += fmt::format("  {}: ", json(item.key()).dump());
    if (item.key() == "actions") {
      text += "[\n";
      for (std::size_t r = 0; r < item.value().size(); ++r) {
        text += "    " + item.value()[r].dump() + (r + 1 < item.value().size() ? ",\n" : "\n");
      }
      text += "  ]";
    } else {
      text += item.value().dump();
    }
    text += ++i < doc.size() ? ",\n" : "\n";
  }
  return text + "}\n";
}

}  // namespace pp
