#pragma once
// Pictures and files made from a Timeline: an ASCII Gantt chart for the terminal, a
// Chrome/Perfetto trace, and an SVG image. All of them are pure functions of the timeline. The
// trace and the SVG grow with the events (hundreds of MB for a large pipeline), so they are
// written piece by piece to a TextSink; the string-returning forms are for small timelines.
// A timeline whose makespan is not finite (or not positive) still gives a valid file or chart.

#include <functional>
#include <string>
#include <string_view>

#include "pp/timeline.h"

namespace pp {

struct GanttOptions {
  int width = 120;     // total columns, clamped to 80..200
  bool color = false;  // ANSI colours (for a terminal)
};

// Receives text in order, piece by piece: say a file writer's write(), or an append to a string.
// Pieces are small (one event at a time); the sink may throw, which ends the writing.
using TextSink = std::function<void(std::string_view)>;

// One row per rank (compute lane), a time axis and a legend.
std::string render_gantt(const Timeline& timeline, const GanttOptions& options);

// Chrome trace-event JSON (chrome://tracing, ui.perfetto.dev): a process per rank with a compute
// thread, a receive thread and a send thread per peer, flow arrows from each send to its receive,
// and a counter track of live activations. Times in microseconds as the format requires.
// Written event by event to `sink`; memory beyond the timeline stays small.
void write_chrome_trace(const Timeline& timeline, const TimelineMetrics& metrics,
                        const TextSink& sink);
std::string chrome_trace_json(const Timeline& timeline, const TimelineMetrics& metrics);

// A self-contained SVG picture: a row per rank with its compute and, beneath, its transfers;
// a time axis in ms; each rank's bubble fraction; a legend and a title line. Written element by
// element to `sink`.
void write_svg(const Timeline& timeline, const TimelineMetrics& metrics, const TextSink& sink);
std::string render_svg(const Timeline& timeline, const TimelineMetrics& metrics);

}  // namespace pp
