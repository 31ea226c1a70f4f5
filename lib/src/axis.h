#pragma once
// Internal: tick spacing for time axes (1, 2 or 5 times a power of ten).
#include <cmath>

namespace pp {

inline double nice_tick(double span, int max_ticks) {
  if (span <= 0 || max_ticks < 1) return 1;
  const double raw = span / max_ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * power >= raw) return step * power;
  }
  return 10 * power;
}

}  // namespace pp
