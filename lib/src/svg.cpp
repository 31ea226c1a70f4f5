#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "axis.h"
#include "kind_style.h"
#include "pp/timeline_render.h"

namespace pp {
namespace {

// Layout in pixels.
constexpr double kLeft = 70;
constexpr double kRight = 80;
constexpr double kTop = 58;
constexpr double kChartWidth = 1100;
constexpr double kRowHeight = 30;
constexpr double kComputeHeight = 20;
constexpr double kCommHeight = 5;
constexpr double kCharWidth = 6.5;  // of the 11px label font, for deciding whether a label fits

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Maps times to pixels. A makespan that is not a positive finite number cannot be drawn: the
// picture then has its frame and labels but no events or ticks.
struct Frame {
  double makespan;
  bool drawable() const { return std::isfinite(makespan) && makespan > 0; }
  double x(double ms) const { return drawable() ? kLeft + ms / makespan * kChartWidth : kLeft; }
  double row_y(int rank) const { return kTop + rank * kRowHeight; }
};

std::string rect(double x, double y, double w, double h, std::string_view fill,
                 const std::string& title) {
  return fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
                     "fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"0.5\"><title>{}</title></rect>\n",
                     x, y, std::max(w, 0.5), h, fill, escape(title));
}

// Writes each event as a rect (and a label where it fits); nothing when the frame cannot draw.
void draw_events(const Timeline& t, const Frame& f, const TextSink& sink) {
  if (!f.drawable()) return;
  std::string out;
  for (const TimelineEvent& e : t.events) {
    if (e.rank < 0 || e.rank >= t.ranks) continue;
    if (is_recv(e.kind)) continue;  // receives are waits; the transfer is drawn at the sender
    const KindStyle style = kind_style(e.kind);
    const std::string label = action_label({e.kind, e.microbatch, e.chunk, e.peer}, t.chunks_per_rank);
    const std::string title = fmt::format("rank {} {} [{:.3f}, {:.3f}] ms", e.rank, label,
                                          e.start_ms, e.end_ms);
    const double x = f.x(e.start_ms);
    const double w = f.x(e.end_ms) - x;
    if (e.lane == Lane::kComm) {
      sink(rect(x, f.row_y(e.rank) + kComputeHeight + 1, w, kCommHeight, style.color, title));
      continue;
    }
    out = rect(x, f.row_y(e.rank), w, kComputeHeight, style.color, title);
    const std::string text = is_step_end(e.kind) ? std::string(1, style.letter) : label;
    if (w >= text.size() * kCharWidth + 2) {
      out += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" class=\"label\">{}</text>\n", x + w / 2,
                         f.row_y(e.rank) + kComputeHeight / 2 + 4, escape(text));
    }
    sink(out);
  }
}

std::string draw_axis(const Timeline& t, const Frame& f) {
  const double bottom = f.row_y(t.ranks) + 4;
  std::string out = fmt::format("<line x1=\"{}\" y1=\"{:.2f}\" x2=\"{}\" y2=\"{:.2f}\" "
                                "stroke=\"#333\"/>\n",
                                kLeft, bottom, kLeft + kChartWidth, bottom);
  for (double ms : axis_ticks(f.drawable() ? f.makespan : 0, 10)) {
    out += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" "
                       "stroke=\"#ddd\"/>\n<text x=\"{0:.2f}\" y=\"{3:.2f}\" class=\"tick\">{4:g}"
                       "</text>\n",
                       f.x(ms), kTop - 4, bottom + 4, bottom + 16, ms);
  }
  out += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" class=\"tick\">time (ms)</text>\n",
                     kLeft + kChartWidth / 2, bottom + 32);
  return out;
}

std::string draw_rank_labels(const Timeline& t, const TimelineMetrics& m, const Frame& f) {
  std::string out;
  for (int r = 0; r < t.ranks; ++r) {
    const double y = f.row_y(r) + kComputeHeight / 2 + 4;
    out += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" class=\"rank\">rank {}</text>\n",
                       kLeft - 8, y, r);
    if (r < static_cast<int>(m.ranks.size())) {
      out += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" class=\"side\">{:.1f}% idle</text>\n",
                         kLeft + kChartWidth + 8, y, 100 * m.ranks[r].bubble_fraction);
    }
  }
  return out;
}

std::string draw_legend(const Timeline& t, const Frame& f) {
  std::string out;
  double x = kLeft;
  const double y = f.row_y(t.ranks) + 48;
  for (ActionKind kind : {ActionKind::kForward, ActionKind::kBackward, ActionKind::kBackwardInput,
                          ActionKind::kBackwardWeight, ActionKind::kSendActivation,
                          ActionKind::kReduceGradients, ActionKind::kOptimizerStep}) {
    const KindStyle style = kind_style(kind);
    out += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"12\" height=\"12\" fill=\"{}\"/>"
                       "<text x=\"{:.2f}\" y=\"{:.2f}\" class=\"legend\">{}</text>\n",
                       x, y, style.color, x + 16, y + 10, style.name);
    x += 30 + style.name.size() * kCharWidth;
  }
  return out;
}

}  // namespace

void write_svg(const Timeline& t, const TimelineMetrics& m, const TextSink& sink) {
  const Frame f{std::isfinite(m.makespan_ms) ? std::max(m.makespan_ms, 1e-9) : m.makespan_ms};
  const double width = kLeft + kChartWidth + kRight;
  const double height = f.row_y(t.ranks) + 72;
  sink(fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
      "viewBox=\"0 0 {0:.0f} {1:.0f}\" font-family=\"Helvetica, Arial, sans-serif\">\n"
      "<style>.label{{font-size:11px;text-anchor:middle;fill:#fff}} "
      ".tick{{font-size:11px;text-anchor:middle;fill:#333}} "
      ".rank{{font-size:12px;text-anchor:end;fill:#333}} .side{{font-size:11px;fill:#555}} "
      ".legend{{font-size:12px;fill:#333}} .title{{font-size:15px;font-weight:bold;fill:#222}} "
      ".sub{{font-size:12px;fill:#555}}</style>\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
      width, height));
  sink(fmt::format("<text x=\"{}\" y=\"22\" class=\"title\">{} ({}): {} ranks, {} micro-batches"
                   "{}</text>\n",
                   kLeft, escape(t.schedule_name), escape(t.source), t.ranks, t.microbatches,
                   t.chunks_per_rank > 1 ? fmt::format(", {} chunks per rank", t.chunks_per_rank)
                                         : std::string()));
  sink(fmt::format("<text x=\"{}\" y=\"40\" class=\"sub\">makespan {:.3f} ms, bubble {:.1f}%{}"
                   "</text>\n",
                   kLeft, m.makespan_ms, 100 * m.bubble_fraction,
                   f.drawable() ? "" : " (not drawn: the makespan is not a finite number)"));
  sink(draw_axis(t, f));
  draw_events(t, f, sink);
  sink(draw_rank_labels(t, m, f));
  sink(draw_legend(t, f));
  sink("</svg>\n");
}

std::string render_svg(const Timeline& t, const TimelineMetrics& m) {
  std::string out;
  write_svg(t, m, [&out](std::string_view piece) { out += piece; });
  return out;
}

}  // namespace pp
