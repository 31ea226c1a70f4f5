#pragma once
// Internal: how each action kind is drawn (letter, fill, colours), shared by the renderers.
#include <string_view>

#include "pp/schedule.h"

namespace pp {

struct KindStyle {
  char letter;             // in the ASCII chart
  char fill;               // the rest of its span in the ASCII chart
  std::string_view ansi;   // background colour escape for terminals
  std::string_view color;  // SVG fill
  std::string_view name;   // legend and trace category
};

inline KindStyle kind_style(ActionKind kind) {
  switch (kind) {
    case ActionKind::kForward: return {'F', '-', "\x1b[44;97m", "#4878d0", "forward"};
    case ActionKind::kBackward: return {'B', '=', "\x1b[42;30m", "#6acc64", "backward"};
    case ActionKind::kBackwardInput: return {'I', ':', "\x1b[46;30m", "#82c6e2", "input-grad"};
    case ActionKind::kBackwardWeight: return {'W', '~', "\x1b[43;30m", "#ee854a", "weight-grad"};
    case ActionKind::kReduceGradients: return {'r', 'r', "\x1b[45;97m", "#956cb4", "reduce"};
    case ActionKind::kOptimizerStep: return {'s', 's', "\x1b[45;97m", "#8c613c", "step"};
    case ActionKind::kSendActivation:
    case ActionKind::kSendGradient: return {'>', '>', "", "#797979", "send"};
    default: return {'<', '<', "", "#b0b0b0", "recv"};
  }
}

}  // namespace pp
