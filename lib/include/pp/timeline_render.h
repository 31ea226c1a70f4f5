#pragma once
// Pictures and files made from a Timeline: an ASCII Gantt chart for the terminal, a
// Chrome/Perfetto trace, and an SVG image. All of them are pure functions returning text.

#include <string>

#include "pp/timeline.h"

namespace pp {

struct GanttOptions {
  int width = 120;     // total columns, clamped to 80..200
  bool color = false;  // ANSI colours (for a terminal)
};

// One row per rank (compute lane), a time axis and a legend.
std::string render_gantt(const Timeline& timeline, const GanttOptions& options);

// Chrome trace-event JSON (chrome://tracing, ui.perfetto.dev): a process per rank with a compute
// thread, a receive thread and a send thread per peer, flow arrows from each send to its receive,
// and a counter track of live activations. Times in microseconds as the format requires.
std::string chrome_trace_json(const Timeline& timeline, const TimelineMetrics& metrics);

// A self-contained SVG picture: a row per rank with its compute and, beneath, its transfers;
// a time axis in ms; each rank's bubble fraction; a legend and a title line.
std::string render_svg(const Timeline& timeline, const TimelineMetrics& metrics);

}  // namespace pp
