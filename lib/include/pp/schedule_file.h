#pragma once
// The public schedule file (JSON, schema "pp.schedule", version 1), documented in
// docs/schedule-format.md. Users write one to run a custom schedule through
// `pp simulate --schedule-file`; `pp simulate --save-schedule` writes one to start from.

#include <cstddef>
#include <string>
#include <string_view>

#include "pp/schedule.h"

namespace pp {

inline constexpr std::string_view kScheduleSchema = "pp.schedule";
inline constexpr int kScheduleFileVersion = 1;
// The largest schedule file pp reads: its JSON takes roughly 10 to 20 times its size in memory
// while parsed. A file at kMaxScheduleActions actions in "F3" form is about 60 MB.
inline constexpr std::size_t kMaxScheduleFileBytes = std::size_t{128} << 20;

// Parses the text of a schedule file. `origin` (the path) prefixes every error. Throws
// pp::Error(kInvalidInput) naming the field ("actions[1][4].mb: ...") for malformed input; never
// crashes on any input. The result is not validated: call validate_schedule() next.
Schedule parse_schedule_json(std::string_view text, std::string_view origin);

// Reads and parses a schedule file (pp::Error(kIo) when it cannot be read or is over
// kMaxScheduleFileBytes). A file of more than kMaxScheduleActions actions is invalid input.
Schedule load_schedule_file(const std::string& path);

// The schedule as schedule-file JSON text (compute actions as "F3", "F3.1"; send/recv as objects).
std::string schedule_to_json_text(const Schedule& schedule);

}  // namespace pp
