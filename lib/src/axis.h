#pragma once
// Internal: tick spacing and positions for time axes (1, 2 or 5 times a power of ten).
#include <algorithm>
#include <cmath>
#include <vector>

namespace pp {

// The tick step for an axis of `span` (> 0, finite) with at most max_ticks intervals; 1 for a
// span that is not a positive finite number.
inline double nice_tick(double span, int max_ticks) {
  if (!std::isfinite(span) || span <= 0 || max_ticks < 1) return 1;
  const double raw = span / max_ticks;
  if (!std::isnormal(raw)) return 1;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * power >= raw) return step * power;
  }
  return 10 * power;
}

// Tick positions 0, step, 2 step, ... up to `span`: at most max_ticks + 1 of them, so a drawing
// loop over them always ends. Only {0} for a span that is not a positive finite number.
inline std::vector<double> axis_ticks(double span, int max_ticks) {
  if (!std::isfinite(span) || span <= 0 || max_ticks < 1) return {0.0};
  const double step = nice_tick(span, max_ticks);
  const double intervals = std::floor(span / step * (1 + 1e-9));
  const int count = static_cast<int>(std::clamp(intervals, 0.0, static_cast<double>(max_ticks)));
  std::vector<double> ticks;
  for (int i = 0; i <= count; ++i) ticks.push_back(i * step);
  return ticks;
}

}  // namespace pp
