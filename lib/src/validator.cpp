#include "pp/validator.h"

#include <fmt/format.h>

#include <cstdint>
#include <memory>

#include "pp/error.h"
#include "schedule_dependencies.h"

namespace pp {
namespace {

constexpr std::int32_t kNone = -1;

class Checker {
 public:
  explicit Checker(const Schedule& s) : s_(s), stages_(s.stage_count()) {}

  ValidationReport run() {
    if (!check_header()) return std::move(report_);
    if (!check_fields()) return std::move(report_);
    if (!check_counts()) return std::move(report_);
    record_positions();
    if (!check_coverage()) return std::move(report_);
    check_local_order();
    check_step_end();
    if (s_.is_lowered()) check_communication();
    if (report_.ok()) check_progress();
    return std::move(report_);
  }

 private:
  bool full() const { return static_cast<int>(report_.violations.size()) >= kMaxViolations; }

  void add(int rank, int step, const std::string& what) {
    if (full()) return;
    std::string where = rank < 0 ? std::string("schedule")
                        : step < 0
                            ? fmt::format("rank {}", rank)
                            : fmt::format("rank {}, step {} ({})", rank, step,
                                          action_label(s_.actions[rank][step], s_.chunks_per_rank));
    report_.violations.push_back({rank, step, fmt::format("{}: {}", where, what)});
  }

  bool check_header() {
    if (s_.ranks < 1) add(-1, -1, fmt::format("ranks must be at least 1, not {}", s_.ranks));
    if (s_.microbatches < 1) {
      add(-1, -1, fmt::format("microbatches must be at least 1, not {}", s_.microbatches));
    }
    if (s_.chunks_per_rank < 1) {
      add(-1, -1, fmt::format("chunks_per_rank must be at least 1, not {}", s_.chunks_per_rank));
    }
    if (static_cast<int>(s_.actions.size()) != s_.ranks) {
      add(-1, -1, fmt::format("expected action lists for {} ranks, found {}", s_.ranks,
                              s_.actions.size()));
    }
    if (!report_.ok()) return false;
    try {
      map_ = make_stage_map(s_);
    } catch (const Error& e) {
      add(-1, -1, e.what());
      return false;
    }
    return true;
  }

  bool check_fields() {
    for (int r = 0; r < s_.ranks && !full(); ++r) {
      const auto& list = s_.actions[r];
      for (int i = 0; i < static_cast<int>(list.size()) && !full(); ++i) check_action(r, i);
    }
    return report_.ok();
  }

  void check_action(int r, int i) {
    const Action& a = s_.actions[r][i];
    if (static_cast<int>(a.kind) >= kActionKindCount) {
      add(r, -1, fmt::format("step {}: unknown action kind", i));
      return;
    }
    if (is_step_end(a.kind)) return;
    if (a.microbatch < 0 || a.microbatch >= s_.microbatches) {
      add(r, i, fmt::format("micro-batch {} is outside 0..{}", a.microbatch, s_.microbatches - 1));
    }
    if (a.chunk < 0 || a.chunk >= s_.chunks_per_rank) {
      add(r, i, fmt::format("chunk {} is outside 0..{}", a.chunk, s_.chunks_per_rank - 1));
    }
    if (is_comm(a.kind) && (a.peer < 0 || a.peer >= s_.ranks || a.peer == r)) {
      add(r, i, fmt::format("peer {} must be another rank in 0..{}", a.peer, s_.ranks - 1));
    }
  }

  // Sizes the per-(micro-batch, stage) tables need, checked before allocating them, so that a
  // hostile header cannot make the validator allocate far more than the actions present justify.
  // A count that is merely wrong is left to the coverage checks, which locate the culprit.
  bool check_counts() {
    long long forwards = 0;
    for (const auto& list : s_.actions) {
      for (const Action& a : list) forwards += a.kind == ActionKind::kForward;
    }
    const long long expected = 1LL * s_.microbatches * stages_;
    if (forwards < expected / 4 || forwards > 4 * expected) {
      add(-1, -1, fmt::format("expected {} forwards ({} micro-batches x {} stages), found {}",
                              expected, s_.microbatches, stages_, forwards));
      return false;
    }
    return true;
  }

  std::size_t index(int mb, int stage) const {
    return static_cast<std::size_t>(mb) * stages_ + stage;
  }

  void record_positions() {
    const std::size_t n = static_cast<std::size_t>(s_.microbatches) * stages_;
    pos_f_.assign(n, kNone);
    pos_bi_.assign(n, kNone);
    pos_w_.assign(n, kNone);
    full_backward_.assign(n, 0);
    for (int r = 0; r < s_.ranks; ++r) {
      const auto& list = s_.actions[r];
      for (int i = 0; i < static_cast<int>(list.size()); ++i) record(r, i);
    }
  }

  void record(int r, int i) {
    const Action& a = s_.actions[r][i];
    if (!is_compute(a.kind)) return;
    const std::size_t k = index(a.microbatch, map_.stage_of(r, a.chunk));
    std::int32_t* slot = a.kind == ActionKind::kForward          ? &pos_f_[k]
                         : a.kind == ActionKind::kBackwardWeight ? &pos_w_[k]
                                                                 : &pos_bi_[k];
    if (*slot != kNone) {
      add(r, i, fmt::format("micro-batch {} already ran {} on this stage at step {}", a.microbatch,
                            a.kind == ActionKind::kForward ? "forward" : "this backward part",
                            *slot));
      return;
    }
    *slot = i;
    if (a.kind == ActionKind::kBackward) full_backward_[k] = 1;
  }

  bool check_coverage() {
    for (int mb = 0; mb < s_.microbatches && !full(); ++mb) {
      for (int v = 0; v < stages_ && !full(); ++v) check_covered(mb, v);
    }
    return report_.ok();
  }

  void check_covered(int mb, int v) {
    const std::size_t k = index(mb, v);
    const int r = map_.rank_of_stage[v];
    const std::string what = fmt::format("micro-batch {} on stage {} (chunk {})", mb, v,
                                         map_.chunk_of_stage[v]);
    if (pos_f_[k] == kNone) add(r, -1, what + " has no forward");
    if (pos_bi_[k] == kNone) add(r, -1, what + " has no backward (B or I)");
    if (full_backward_[k] && pos_w_[k] != kNone) {
      add(r, pos_w_[k], what + " has both a full backward B and a weight-gradient W");
    }
    if (!full_backward_[k] && pos_bi_[k] != kNone && pos_w_[k] == kNone) {
      add(r, pos_bi_[k], what + " has an input gradient I but no weight gradient W");
    }
  }

  void check_local_order() {
    for (int mb = 0; mb < s_.microbatches && !full(); ++mb) {
      for (int v = 0; v < stages_ && !full(); ++v) {
        const std::size_t k = index(mb, v);
        const int r = map_.rank_of_stage[v];
        if (pos_bi_[k] < pos_f_[k]) {
          add(r, pos_bi_[k], fmt::format("backward before its forward (step {})", pos_f_[k]));
        }
        if (pos_w_[k] != kNone && pos_w_[k] < pos_bi_[k]) {
          add(r, pos_w_[k], fmt::format("weight gradient before its input gradient (step {})",
                                        pos_bi_[k]));
        }
      }
    }
  }

  void check_step_end() {
    for (int r = 0; r < s_.ranks && !full(); ++r) {
      const auto& list = s_.actions[r];
      int steps = 0;
      int reduces = 0;
      for (int i = 0; i < static_cast<int>(list.size()); ++i) {
        const ActionKind kind = list[i].kind;
        if (kind == ActionKind::kOptimizerStep && ++steps > 1) add(r, i, "a second STEP");
        if (kind == ActionKind::kReduceGradients && ++reduces > 1) add(r, i, "a second REDUCE");
        if (!is_step_end(kind) && (steps > 0 || reduces > 0)) {
          add(r, i, "work after the step-end REDUCE/STEP");
        }
        if (kind == ActionKind::kReduceGradients && steps > 0) add(r, i, "REDUCE after STEP");
      }
      if (steps == 0) add(r, -1, "no optimizer STEP at the end of the list");
    }
  }

  void check_communication() {
    deps_ = std::make_unique<MessageTable>(s_, map_);
    check_message_endpoints();
    if (report_.ok()) check_pair_order();
  }

  void check_message_endpoints() {
    for (int r = 0; r < s_.ranks && !full(); ++r) {
      const auto& list = s_.actions[r];
      for (int i = 0; i < static_cast<int>(list.size()) && !full(); ++i) {
        if (is_comm(list[i].kind)) check_endpoint(r, i);
      }
    }
    for (const auto& missing : deps_->missing_messages()) add(missing.rank, missing.step,
                                                               missing.what);
  }

  void check_endpoint(int r, int i) {
    const Action& a = s_.actions[r][i];
    const MessageEnd end = deps_->describe(r, a);
    if (!end.error.empty()) {
      add(r, i, end.error);
      return;
    }
    const std::size_t k = index(a.microbatch, map_.stage_of(r, a.chunk));
    if (is_send(a.kind)) {
      const std::int32_t producer = a.kind == ActionKind::kSendActivation ? pos_f_[k] : pos_bi_[k];
      if (producer > i) add(r, i, fmt::format("sent before it is computed (step {})", producer));
    } else {
      const std::int32_t consumer = a.kind == ActionKind::kRecvActivation ? pos_f_[k] : pos_bi_[k];
      if (consumer < i) add(r, i, fmt::format("received after it is used (step {})", consumer));
    }
    if (!deps_->count(r, i, a)) add(r, i, "this message appears twice");
  }

  void check_pair_order() {
    const auto mismatch = deps_->first_order_mismatch();
    if (mismatch.rank >= 0) add(mismatch.rank, mismatch.step, mismatch.what);
  }

  void check_progress() {
    const auto blocked = find_deadlock(s_, map_);
    if (blocked.empty()) return;
    std::string chain;
    for (std::size_t j = 0; j < blocked.size() && j < 4; ++j) {
      const auto& b = blocked[j];
      chain += fmt::format("{}rank {} waits at step {} ({})", j ? ", " : "", b.rank, b.step,
                           action_label(s_.actions[b.rank][b.step], s_.chunks_per_rank));
    }
    if (blocked.size() > 4) chain += fmt::format(" and {} more", blocked.size() - 4);
    add(blocked[0].rank, blocked[0].step, fmt::format("deadlock: {}", chain));
  }

  const Schedule& s_;
  const int stages_;
  StageMap map_;
  ValidationReport report_;
  std::vector<std::int32_t> pos_f_, pos_bi_, pos_w_;
  std::vector<std::uint8_t> full_backward_;
  std::unique_ptr<MessageTable> deps_;
};

}  // namespace

ValidationReport validate_schedule(const Schedule& schedule) { return Checker(schedule).run(); }

void require_valid_schedule(const Schedule& schedule) {
  const ValidationReport report = validate_schedule(schedule);
  if (report.ok()) return;
  const Violation& first = report.violations.front();
  std::string message = fmt::format("schedule '{}' is invalid: {}", schedule.name, first.message);
  if (report.violations.size() > 1) {
    message += fmt::format(" (and {} more)", report.violations.size() - 1);
  }
  if (first.rank >= 0) message += "\n" + render_schedule_grid(schedule, first.rank, first.step);
  throw Error(ErrorCategory::kInvalidInput, message);
}

}  // namespace pp
