#include "pp/planner/bubble_model.h"

#include <algorithm>

namespace pp {

std::optional<double> closed_form_bubble_fraction(std::string_view schedule, int k, int m, int v,
                                                  double f, double b, double w) {
  if (k < 1 || m < 1 || v < 1) return std::nullopt;
  if (schedule == "gpipe" || schedule == "1f1b") return double(k - 1) / (m + k - 1);
  if (schedule == "interleaved") return double(k - 1) / (double(v) * m + k - 1);
  if (schedule == "zb-h1") {
    const double bubble = std::max(0.0, (k - 1) * (f + (b - w) - w));
    const double work = m * (f + b);
    return bubble + work > 0 ? bubble / (bubble + work) : 0.0;
  }
  return std::nullopt;
}

}  // namespace pp
