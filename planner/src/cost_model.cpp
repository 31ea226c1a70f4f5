#include "pp/planner/cost_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "pp/error.h"

namespace pp {
namespace {

// The value for index i of a list given as one entry or `count` entries.
std::vector<double> expand(const std::vector<double>& values, int count, std::string_view flag,
                           std::string_view what) {
  if (values.size() != 1 && static_cast<int>(values.size()) != count) {
    throw_invalid(fmt::format("{}: expected 1 value or {} ({}), got {}", flag, count, what,
                              values.size()));
  }
  for (double v : values) {
    if (!std::isfinite(v) || v < 0) {
      throw_invalid(fmt::format("{}: {} is not a non-negative number of milliseconds", flag, v));
    }
  }
  return values.size() == 1 ? std::vector<double>(count, values[0]) : values;
}

double link_ms(const std::vector<double>& p2p, int a, int b) {
  if (a == b) return 0;
  if (std::abs(a - b) == 1) return p2p[std::min(a, b)];
  return p2p.empty() ? 0 : *std::max_element(p2p.begin(), p2p.end());
}

}  // namespace

double LinkCost::transfer_ms() const {
  return latency_ms + (bytes_per_ms > 0 ? message_bytes / bytes_per_ms : 0);
}

double CostModel::duration_ms(ActionKind kind, int s, int rank) const {
  switch (kind) {
    case ActionKind::kForward: return stage[s].forward_ms;
    case ActionKind::kBackward: return stage[s].backward_ms;
    case ActionKind::kBackwardInput: return stage[s].input_grad_ms();
    case ActionKind::kBackwardWeight: return stage[s].wgrad_ms;
    case ActionKind::kReduceGradients:
      return rank < static_cast<int>(reduce_ms.size()) ? reduce_ms[rank] : 0;
    case ActionKind::kOptimizerStep:
      return rank < static_cast<int>(optimizer_ms.size()) ? optimizer_ms[rank] : 0;
    default: return 0;
  }
}

CostModel per_rank_cost_model(const Schedule& schedule, const PerRankCosts& in) {
  const int k = schedule.ranks;
  const auto fwd = expand(in.forward_ms, k, "--fwd-ms", "one per stage");
  const auto bwd = expand(in.backward_ms, k, "--bwd-ms", "one per stage");
  std::vector<double> wgrad(k);
  if (in.wgrad_ms.empty()) {
    for (int r = 0; r < k; ++r) wgrad[r] = bwd[r] / 2;
  } else {
    wgrad = expand(in.wgrad_ms, k, "--wgrad-ms", "one per stage");
  }
  const auto p2p = expand(in.p2p_ms.empty() ? std::vector<double>{0} : in.p2p_ms,
                          std::max(1, k - 1), "--p2p-ms", "one per stage boundary");
  if (!std::isfinite(in.reduce_ms) || in.reduce_ms < 0) {
    throw_invalid("--reduce-ms: must be a non-negative number of milliseconds");
  }
  if (!std::isfinite(in.optimizer_ms) || in.optimizer_ms < 0) {
    throw_invalid("--optimizer-ms: must be a non-negative number of milliseconds");
  }
  for (int r = 0; r < k; ++r) {
    if (wgrad[r] > bwd[r]) {
      throw_invalid(fmt::format("--wgrad-ms: the weight-gradient part ({} ms) exceeds the whole "
                                "backward ({} ms) on stage {}",
                                wgrad[r], bwd[r], r));
    }
  }
  const StageMap map = make_stage_map(schedule);
  const double v = schedule.chunks_per_rank;
  CostModel model;
  model.reduce_ms.assign(k, in.reduce_ms);
  model.optimizer_ms.assign(k, in.optimizer_ms);
  for (int s = 0; s < schedule.stage_count(); ++s) {
    const int r = map.rank_of_stage[s];
    model.stage.push_back({fwd[r] / v, bwd[r] / v, wgrad[r] / v});
    if (s + 1 < schedule.stage_count()) {
      model.boundary.push_back({link_ms(p2p, r, map.rank_of_stage[s + 1]), 0, 0});
    }
  }
  return model;
}

}  // namespace pp
