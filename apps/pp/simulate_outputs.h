#pragma once
// The files `pp simulate` writes (--trace, --svg, --save-schedule): checked before any work,
// streamed to temporary files, and put in place together only when all of them are written.

#include <string>
#include <vector>

#include "pp/file_io.h"
#include "pp/planner/simulation_request.h"
#include "simulate_command.h"

namespace pp::cli {

// The output and input paths of a run, each with the flag that named it.
std::vector<NamedPath> simulate_outputs(const SimulateOptions& options);
std::vector<NamedPath> simulate_inputs(const SimulateOptions& options);

// Refuses, before any work (pp::Error naming the flag): two outputs on standard output (counting
// --json), an output onto an input or another output, an output that is a link, a directory, a
// device or a FIFO, or whose directory is missing or not writable.
void check_simulate_outputs(const SimulateOptions& options);

// Writes the requested files: the trace and the SVG of `result`, and `schedule` (unlowered) for
// --save-schedule. Each is streamed to a temporary file; all are renamed into place only after
// every one is written, so an error leaves none of them changed. Then names them on stderr.
void write_simulate_outputs(const SimulateOptions& options, const SimulationResult& result,
                            const Schedule* schedule);

}  // namespace pp::cli
