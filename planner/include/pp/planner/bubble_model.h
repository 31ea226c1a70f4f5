#pragma once
// The closed-form bubble model of the published schedules, for uniform stages and free
// communication (the planner prunes with it; pp simulate prints it beside the simulation):
//   gpipe, 1f1b:  (K-1) / (M+K-1)
//   interleaved:  (K-1) / (V*M+K-1)
//   zb-h1:        (K-1)(F+I-W) / (M(F+B) + (K-1)(F+I-W)),  I = B - W the input-gradient part
// F, B and W are one stage's per-micro-batch forward, full backward and weight-gradient times.

#include <optional>
#include <string_view>

namespace pp {

// Nothing for a schedule without a closed form here.
std::optional<double> closed_form_bubble_fraction(std::string_view schedule, int ranks,
                                                  int microbatches, int virtual_stages,
                                                  double forward_ms, double backward_ms,
                                                  double wgrad_ms);

}  // namespace pp
