#include "simulate_outputs.h"

#include <fmt/format.h>

#include <memory>

#include "pp/error.h"
#include "pp/schedule_file.h"
#include "pp/timeline_render.h"

namespace pp::cli {
namespace {

// A file written but not yet in place, and the line that names it once it is.
struct Pending {
  std::unique_ptr<AtomicFileWriter> writer;
  std::string note;  // empty for standard output
};

Pending start(const std::string& path, std::string note) {
  return {std::make_unique<AtomicFileWriter>(path), path == "-" ? "" : std::move(note)};
}

}  // namespace

std::vector<NamedPath> simulate_outputs(const SimulateOptions& o) {
  return {{"--trace", o.trace}, {"--svg", o.svg}, {"--save-schedule", o.save_schedule}};
}

std::vector<NamedPath> simulate_inputs(const SimulateOptions& o) {
  return {{"--schedule-file", o.schedule_file}, {"--plan", o.plan}};
}

void check_simulate_outputs(const SimulateOptions& o) {
  int to_stdout = o.json ? 1 : 0;
  for (const NamedPath& out : simulate_outputs(o)) to_stdout += out.path == "-";
  if (to_stdout > 1) {
    throw_invalid("only one of --json, --trace -, --svg -, --save-schedule - can use standard output");
  }
  check_output_paths(simulate_outputs(o), simulate_inputs(o));
}

void write_simulate_outputs(const SimulateOptions& o, const SimulationResult& r,
                            const Schedule* schedule) {
  std::vector<Pending> files;
  if (!o.trace.empty()) {
    files.push_back(start(o.trace, fmt::format("wrote trace {} (open in ui.perfetto.dev or "
                                               "chrome://tracing)", o.trace)));
    AtomicFileWriter& w = *files.back().writer;
    write_chrome_trace(r.timeline, r.metrics, [&w](std::string_view piece) { w.write(piece); });
  }
  if (!o.svg.empty()) {
    files.push_back(start(o.svg, fmt::format("wrote picture {}", o.svg)));
    AtomicFileWriter& w = *files.back().writer;
    write_svg(r.timeline, r.metrics, [&w](std::string_view piece) { w.write(piece); });
  }
  if (!o.save_schedule.empty() && schedule != nullptr) {
    files.push_back(start(o.save_schedule, fmt::format("wrote schedule {}", o.save_schedule)));
    files.back().writer->write(schedule_to_json_text(*schedule));
  }
  for (Pending& file : files) file.writer->commit();
  for (const Pending& file : files) {
    if (!file.note.empty()) fmt::print(stderr, "{}\n", file.note);
  }
}

}  // namespace pp::cli
