#include "schedule_dependencies.h"

#include <fmt/format.h>

#include "pp/rank_sweep.h"

namespace pp {
namespace {

MessageKey make_key(const Schedule& s, int gradient, int mb, int stage) {
  return (static_cast<MessageKey>(gradient) * s.microbatches + mb) * s.stage_count() + stage;
}

// The compute action whose data a send/recv carries.
Action compute_of(const Action& a) {
  const bool activation =
      a.kind == ActionKind::kSendActivation || a.kind == ActionKind::kRecvActivation;
  return {activation ? ActionKind::kForward : ActionKind::kBackward, a.microbatch, a.chunk, -1};
}

}  // namespace

int PairIndex::id(int src, int dst) {
  const std::int64_t code = (static_cast<std::int64_t>(src) << 32) | static_cast<std::uint32_t>(dst);
  auto [it, inserted] = ids_.try_emplace(code, static_cast<int>(pairs_.size()));
  if (inserted) pairs_.emplace_back(src, dst);
  return it->second;
}

bool consumed_message(const Schedule& s, const StageMap& map, int rank, const Action& a,
                      MessageEnd* message) {
  const int v = map.stage_of(rank, a.chunk);
  int from = -1;
  int gradient = 0;
  if (a.kind == ActionKind::kForward && v > 0) {
    from = v - 1;
  } else if (is_backward_part(a.kind) && v < s.stage_count() - 1) {
    from = v + 1;
    gradient = 1;
  }
  if (from < 0 || map.rank_of_stage[from] == rank) return false;
  *message = {"", map.rank_of_stage[from], rank, make_key(s, gradient, a.microbatch, v)};
  return true;
}

bool produced_message(const Schedule& s, const StageMap& map, int rank, const Action& a,
                      MessageEnd* message) {
  const int v = map.stage_of(rank, a.chunk);
  int to = -1;
  int gradient = 0;
  if (a.kind == ActionKind::kForward && v < s.stage_count() - 1) {
    to = v + 1;
  } else if (is_backward_part(a.kind) && v > 0) {
    to = v - 1;
    gradient = 1;
  }
  if (to < 0 || map.rank_of_stage[to] == rank) return false;
  *message = {"", rank, map.rank_of_stage[to], make_key(s, gradient, a.microbatch, to)};
  return true;
}

std::string message_label(const Schedule& s, MessageKey key) {
  const int stage = static_cast<int>(key % s.stage_count());
  const MessageKey rest = key / s.stage_count();
  const int mb = static_cast<int>(rest % s.microbatches);
  const bool gradient = rest / s.microbatches != 0;
  return fmt::format("the {} of micro-batch {} for stage {}", gradient ? "gradient" : "activation",
                     mb, stage);
}

MessageTable::MessageTable(const Schedule& s, const StageMap& map) : s_(s), map_(map) {
  const std::size_t n = 2 * static_cast<std::size_t>(s.microbatches) * s.stage_count();
  sent_.assign(n, 0);
  received_.assign(n, 0);
}

MessageEnd MessageTable::describe(int rank, const Action& a) const {
  MessageEnd end;
  const Action compute = compute_of(a);
  const int v = map_.stage_of(rank, a.chunk);
  const bool found = is_send(a.kind) ? produced_message(s_, map_, rank, compute, &end)
                                     : consumed_message(s_, map_, rank, compute, &end);
  if (!found) {
    end.error = fmt::format("stage {} has no {} on another rank to {} this", v,
                            is_send(a.kind) ? "consumer" : "producer",
                            is_send(a.kind) ? "send" : "receive");
    return end;
  }
  const int expected_peer = is_send(a.kind) ? end.dst : end.src;
  if (a.peer != expected_peer) {
    end.error = fmt::format("peer should be rank {}, which holds the {} stage", expected_peer,
                            is_send(a.kind) ? "consuming" : "producing");
  }
  return end;
}

bool MessageTable::count(int rank, int step, const Action& a) {
  const MessageEnd end = describe(rank, a);
  auto& seen = is_send(a.kind) ? sent_ : received_;
  if (seen[slot(end.key)]) return false;
  seen[slot(end.key)] = 1;
  const int pair = pairs_.id(end.src, end.dst);
  if (pair >= static_cast<int>(sends_by_pair_.size())) {
    sends_by_pair_.resize(pair + 1);
    recvs_by_pair_.resize(pair + 1);
  }
  auto& list = is_send(a.kind) ? sends_by_pair_[pair] : recvs_by_pair_[pair];
  list.push_back({end.key, rank, step});
  return true;
}

std::vector<Located> MessageTable::missing_messages() const {
  std::vector<Located> missing;
  const int stages = s_.stage_count();
  auto check = [&](int gradient, int mb, int consumer, int producer) {
    const int src = map_.rank_of_stage[producer];
    const int dst = map_.rank_of_stage[consumer];
    if (src == dst || missing.size() >= 5) return;
    const MessageKey key = make_key(s_, gradient, mb, consumer);
    if (!sent_[slot(key)]) {
      missing.push_back({src, -1, fmt::format("never sends {} to rank {}", message_label(s_, key),
                                              dst)});
    }
    if (!received_[slot(key)]) {
      missing.push_back({dst, -1, fmt::format("never receives {} from rank {}",
                                              message_label(s_, key), src)});
    }
  };
  for (int mb = 0; mb < s_.microbatches; ++mb) {
    for (int v = 1; v < stages; ++v) {
      check(0, mb, v, v - 1);
      check(1, mb, v - 1, v);
    }
  }
  return missing;
}

Located MessageTable::first_order_mismatch() const {
  for (std::size_t p = 0; p < sends_by_pair_.size(); ++p) {
    const auto& sends = sends_by_pair_[p];
    const auto& recvs = recvs_by_pair_[p];
    for (std::size_t i = 0; i < sends.size() && i < recvs.size(); ++i) {
      if (sends[i].key == recvs[i].key) continue;
      return {recvs[i].rank, recvs[i].step,
              fmt::format("receives {} here, but rank {} sends {} first (its step {}); receives "
                          "must come in the order of the sends",
                          message_label(s_, recvs[i].key), sends[i].rank,
                          message_label(s_, sends[i].key), sends[i].step)};
    }
  }
  return {};
}

namespace {

// Unit-cost execution with non-blocking sends, advancing every rank as far as it can go.
class ProgressRun {
 public:
  ProgressRun(const Schedule& s, const StageMap& map) : s_(s), map_(map) {
    const std::size_t n = static_cast<std::size_t>(s.microbatches) * s.stage_count();
    done_f_.assign(n, 0);
    done_bi_.assign(n, 0);
    position_.assign(s.ranks, 0);
    index_pairs();
  }

  std::vector<Blocked> run() {
    sweep_until_stuck(s_.ranks, [this](int rank) { return advance(rank); });
    std::vector<Blocked> blocked;
    for (int r = 0; r < s_.ranks; ++r) {
      if (position_[r] < s_.actions[r].size()) blocked.push_back({r, static_cast<int>(position_[r])});
    }
    return blocked;
  }

 private:
  void index_pairs() {
    pair_of_.resize(s_.ranks);
    for (int r = 0; r < s_.ranks; ++r) {
      const auto& list = s_.actions[r];
      pair_of_[r].assign(list.size(), -1);
      for (std::size_t i = 0; i < list.size(); ++i) {
        const Action& a = list[i];
        if (is_send(a.kind)) pair_of_[r][i] = pairs_.id(r, a.peer);
        if (is_recv(a.kind)) pair_of_[r][i] = pairs_.id(a.peer, r);
      }
    }
    sent_.assign(pairs_.size(), 0);
    received_.assign(pairs_.size(), 0);
  }

  std::size_t index(int mb, int stage) const {
    return static_cast<std::size_t>(mb) * s_.stage_count() + stage;
  }

  bool ready(int r, std::size_t i) const {
    const Action& a = s_.actions[r][i];
    if (is_recv(a.kind)) return sent_[pair_of_[r][i]] > received_[pair_of_[r][i]];
    if (!is_compute(a.kind)) return true;
    const int v = map_.stage_of(r, a.chunk);
    if (a.kind == ActionKind::kForward) return v == 0 || done_f_[index(a.microbatch, v - 1)];
    if (is_backward_part(a.kind)) {
      return v == s_.stage_count() - 1 || done_bi_[index(a.microbatch, v + 1)];
    }
    return true;
  }

  void execute(int r, std::size_t i) {
    const Action& a = s_.actions[r][i];
    if (is_send(a.kind)) ++sent_[pair_of_[r][i]];
    if (is_recv(a.kind)) ++received_[pair_of_[r][i]];
    if (a.kind == ActionKind::kForward) done_f_[index(a.microbatch, map_.stage_of(r, a.chunk))] = 1;
    if (is_backward_part(a.kind)) {
      done_bi_[index(a.microbatch, map_.stage_of(r, a.chunk))] = 1;
    }
  }

  bool advance(int r) {
    const auto& list = s_.actions[r];
    const std::size_t start = position_[r];
    std::size_t& i = position_[r];
    while (i < list.size() && ready(r, i)) execute(r, i++);
    return i != start;
  }

  const Schedule& s_;
  const StageMap& map_;
  std::vector<std::uint8_t> done_f_, done_bi_;
  std::vector<std::size_t> position_;
  PairIndex pairs_;
  std::vector<std::vector<int>> pair_of_;
  std::vector<std::int64_t> sent_, received_;
};

}  // namespace

std::vector<Blocked> find_deadlock(const Schedule& s, const StageMap& map) {
  return ProgressRun(s, map).run();
}

}  // namespace pp
