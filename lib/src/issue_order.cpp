#include "pp/issue_order.h"

#include <fmt/format.h>

#include <map>
#include <utility>
#include <vector>

namespace pp {
namespace {

struct Op {
  int rank = 0;
  std::size_t group = 0;  // index into the rank's groups
  std::size_t index = 0;  // the action's index in the rank's list
  int partner = -1;       // the matching op's id
  bool done = false;
};

}  // namespace

IssueOrderVerdict check_grouped_rendezvous(const Schedule& s) {
  std::vector<Op> ops;
  std::vector<std::vector<std::vector<int>>> groups(s.ranks);  // rank -> group -> op ids
  std::map<std::pair<int, int>, std::vector<int>> sends, receives;  // (from, to) -> op ids in order
  for (int r = 0; r < s.ranks; ++r) {
    const std::vector<Action>& list = s.actions[r];
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!is_comm(list[i].kind)) continue;
      if (i == 0 || !is_comm(list[i - 1].kind)) groups[r].emplace_back();
      const int id = static_cast<int>(ops.size());
      ops.push_back({r, groups[r].size() - 1, i});
      groups[r].back().push_back(id);
      if (is_send(list[i].kind)) {
        sends[{r, list[i].peer}].push_back(id);
      } else {
        receives[{list[i].peer, r}].push_back(id);
      }
    }
  }
  for (auto& [pair, sent] : sends) {
    const std::vector<int>& got = receives[pair];
    for (std::size_t k = 0; k < sent.size() && k < got.size(); ++k) {
      ops[sent[k]].partner = got[k];
      ops[got[k]].partner = sent[k];
    }
  }
  // Each rank's current group: the earliest with an operation not done. Two operations meet when
  // both are in their rank's current group; a group whose operations all met is finished.
  std::vector<std::size_t> current(s.ranks, 0);
  const auto advance = [&](int r) {
    while (current[r] < groups[r].size()) {
      for (int id : groups[r][current[r]]) {
        if (!ops[id].done) return;
      }
      ++current[r];
    }
  };
  for (int r = 0; r < s.ranks; ++r) advance(r);
  for (bool progress = true; progress;) {
    progress = false;
    for (int r = 0; r < s.ranks; ++r) {
      if (current[r] >= groups[r].size()) continue;
      for (int id : groups[r][current[r]]) {
        Op& op = ops[id];
        if (op.done || op.partner < 0) continue;
        Op& other = ops[op.partner];
        if (current[other.rank] < groups[other.rank].size() && other.group == current[other.rank]) {
          op.done = other.done = true;
          progress = true;
        }
      }
      advance(r);
    }
    for (int r = 0; r < s.ranks; ++r) advance(r);
  }
  for (int r = 0; r < s.ranks; ++r) {
    if (current[r] >= groups[r].size()) continue;
    std::string labels;
    for (int id : groups[r][current[r]]) {
      labels += (labels.empty() ? "" : ", ") + action_label(s.actions[r][ops[id].index], s.chunks_per_rank);
    }
    return {false, fmt::format("rank {} waits in the group [{}]", r, labels)};
  }
  return {};
}

}  // namespace pp
