// render_schedule_grid(): the rank-by-step picture that validation errors show.
#include <fmt/format.h>

#include <algorithm>

#include "pp/validator.h"

namespace pp {
namespace {

struct Window {
  int first_rank, last_rank;  // inclusive
  int first_step, last_step;  // inclusive
};

Window grid_window(const Schedule& s, int rank, int step, int context) {
  Window w{};
  const int ranks_shown = 16;
  w.first_rank = s.ranks <= ranks_shown ? 0 : std::max(0, rank - 4);
  w.last_rank = s.ranks <= ranks_shown ? s.ranks - 1 : std::min(s.ranks - 1, rank + 4);
  const int length = static_cast<int>(s.actions[rank].size());
  const int center = step < 0 ? length : step;
  w.first_step = std::max(0, center - context);
  w.last_step = step < 0 ? length : center + context;  // "[end]" closes the grid
  return w;
}

std::string cell(const Schedule& s, int r, int i, bool culprit) {
  if (i >= static_cast<int>(s.actions[r].size())) return culprit ? "[end]" : "";
  const std::string label = action_label(s.actions[r][i], s.chunks_per_rank);
  return culprit ? "[" + label + "]" : label;
}

}  // namespace

std::string render_schedule_grid(const Schedule& s, int rank, int step, int context) {
  if (rank < 0 || rank >= static_cast<int>(s.actions.size()) || s.ranks < 1) return "";
  const Window w = grid_window(s, rank, step, context);
  const int culprit_step = step < 0 ? static_cast<int>(s.actions[rank].size()) : step;
  std::size_t width = 4;
  for (int r = w.first_rank; r <= w.last_rank; ++r) {
    for (int i = w.first_step; i <= w.last_step; ++i) {
      width = std::max(width, cell(s, r, i, r == rank && i == culprit_step).size());
    }
  }
  std::string out = fmt::format("{:>9} |", "step");
  for (int i = w.first_step; i <= w.last_step; ++i) out += fmt::format(" {:^{}}", i, width);
  out += "\n";
  for (int r = w.first_rank; r <= w.last_rank; ++r) {
    out += fmt::format("{:>9} |", fmt::format("{}rank {}", r == rank ? "*" : "", r));
    for (int i = w.first_step; i <= w.last_step; ++i) {
      out += fmt::format(" {:^{}}", cell(s, r, i, r == rank && i == culprit_step), width);
    }
    out += "\n";
  }
  if (w.first_rank > 0 || w.last_rank < s.ranks - 1) {
    out += fmt::format("(ranks {}..{} of {} shown)\n", w.first_rank, w.last_rank, s.ranks);
  }
  return out;
}

}  // namespace pp
