#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "axis.h"
#include "kind_style.h"
#include "pp/timeline_render.h"

namespace pp {
namespace {

struct Cell {
  char ch = '.';
  ActionKind kind = ActionKind::kForward;
  bool busy = false;
};

std::vector<std::vector<Cell>> paint(const Timeline& t, int columns, double ms_per_column) {
  std::vector<std::vector<Cell>> rows(t.ranks, std::vector<Cell>(columns));
  for (const TimelineEvent& e : t.events) {
    if (e.lane != Lane::kCompute || e.rank < 0 || e.rank >= t.ranks) continue;
    const int c0 = std::clamp(static_cast<int>(std::lround(e.start_ms / ms_per_column)), 0,
                              columns - 1);
    const int c1 = std::clamp(static_cast<int>(std::lround(e.end_ms / ms_per_column)), c0 + 1,
                              columns);
    const KindStyle style = kind_style(e.kind);
    const std::string label = is_step_end(e.kind)
                                  ? std::string(1, style.letter)
                                  : action_label({e.kind, e.microbatch, e.chunk, -1},
                                                 t.chunks_per_rank);
    for (int c = c0; c < c1; ++c) {
      const std::size_t k = static_cast<std::size_t>(c - c0);
      const bool room = static_cast<std::size_t>(c1 - c0) >= label.size();
      rows[e.rank][c] = {room && k < label.size() ? label[k] : (k == 0 ? style.letter : style.fill),
                         e.kind, true};
    }
  }
  return rows;
}

std::string row_text(const std::vector<Cell>& row, bool color) {
  std::string out;
  for (const Cell& cell : row) {
    if (color && cell.busy) {
      const bool is_fill = cell.ch == kind_style(cell.kind).fill;
      out += fmt::format("{}{}\x1b[0m", kind_style(cell.kind).ansi, is_fill ? ' ' : cell.ch);
    } else {
      out += cell.ch;
    }
  }
  return out;
}

std::string axis_line(int label_width, int columns, double ms_per_column) {
  std::string ticks(columns, ' ');
  std::string marks(columns, '-');
  const double span = columns * ms_per_column;
  for (double t : axis_ticks(span, std::max(1, columns / 12))) {
    const int c = static_cast<int>(std::lround(t / ms_per_column));
    if (c >= columns) break;
    marks[c] = '+';
    const std::string text = fmt::format("{:g}", t);
    if (c + text.size() <= static_cast<std::size_t>(columns)) ticks.replace(c, text.size(), text);
  }
  return fmt::format("{:>{}}{}\n{:>{}}{}\n", "ms ", label_width, ticks, "", label_width, marks);
}

}  // namespace

std::string render_gantt(const Timeline& t, const GanttOptions& options) {
  const int width = std::clamp(options.width, 80, 200);
  const int label_width = static_cast<int>(fmt::format("r{} |", std::max(0, t.ranks - 1)).size());
  const int columns = width - label_width;
  const double makespan = t.makespan_ms();
  if (!std::isfinite(makespan)) return "(no chart: the makespan is not a finite number)\n";
  const double ms_per_column = makespan / columns;
  if (t.ranks < 1 || !(ms_per_column > 0)) return "(empty timeline)\n";
  const auto rows = paint(t, columns, ms_per_column);
  std::string out = axis_line(label_width, columns, ms_per_column);
  for (int r = 0; r < t.ranks; ++r) {
    out += fmt::format("{:>{}}", fmt::format("r{} |", r), label_width) +
           row_text(rows[r], options.color) + "\n";
  }
  out += fmt::format("{:>{}}F forward (-)  B backward (=)  I input-grad (:)  W weight-grad (~)  "
                     "r reduce  s step  . idle   [1 column = {:.3g} ms]\n",
                     "", label_width, ms_per_column);
  return out;
}

}  // namespace pp
