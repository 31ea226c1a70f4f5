#include "pp/runtime/executor.h"

#include <fmt/format.h>

#include <chrono>
#include <deque>
#include <map>

#include "pp/error.h"

namespace pp {
namespace {

enum class Data { kActivation, kGradient };

// A message or hand-off: kind of data, micro-batch, and the local chunk that consumes it.
struct Key {
  Data data;
  int mb;
  int chunk;
  bool operator<(const Key& o) const {
    return std::tie(data, mb, chunk) < std::tie(o.data, o.mb, o.chunk);
  }
};

Key recv_key(const Action& a) {
  return {a.kind == ActionKind::kRecvActivation ? Data::kActivation : Data::kGradient, a.microbatch,
          a.chunk};
}

}  // namespace

std::vector<std::vector<std::int64_t>> message_flow_ids(const Schedule& s) {
  std::vector<std::vector<std::int64_t>> flows(s.ranks);
  std::map<std::pair<int, int>, std::vector<std::int64_t>> sent;  // (src, dst) -> ids in order
  std::int64_t next = 0;
  for (int r = 0; r < s.ranks; ++r) {
    flows[r].assign(s.actions[r].size(), -1);
    for (std::size_t i = 0; i < s.actions[r].size(); ++i) {
      const Action& a = s.actions[r][i];
      if (is_send(a.kind)) {
        flows[r][i] = next;
        sent[{r, a.peer}].push_back(next++);
      }
    }
  }
  for (int r = 0; r < s.ranks; ++r) {
    std::map<int, std::size_t> received;
    for (std::size_t i = 0; i < s.actions[r].size(); ++i) {
      const Action& a = s.actions[r][i];
      if (!is_recv(a.kind)) continue;
      const auto& ids = sent[{a.peer, r}];
      const std::size_t k = received[a.peer]++;
      flows[r][i] = k < ids.size() ? ids[k] : -1;
    }
  }
  return flows;
}

struct Executor::State {
  ExecutorSetup setup;
  StageMap map;
  std::vector<std::int64_t> flows;
  std::size_t floats = 0;  // b * T * C

  // Per step:
  std::map<Key, std::vector<float>> inbox;     // received or handed over locally, by consumer
  std::map<Key, std::vector<float>> outbox;    // produced, waiting for its SEND
  std::map<Key, Transport::Request> pending;   // posted receives, by consumer
  std::deque<std::vector<float>> in_flight;    // buffers of posted sends
  std::vector<Transport::Request> sends;
  std::size_t next_recv = 0;                   // index into the list: next receive to post
  std::size_t posted = 0;
  std::size_t completed = 0;
  std::chrono::steady_clock::time_point start;
  StepRecord record;

  double now_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  const std::vector<Action>& list() const { return setup.schedule->actions[setup.pipeline_rank]; }
  int me() const { return setup.pipeline_rank; }
  int stage_of(int chunk) const { return map.stage_of(me(), chunk); }
  int stages() const { return setup.schedule->stage_count(); }

  void post_receives() {
    const auto& actions = list();
    while (posted - completed < static_cast<std::size_t>(setup.recv_lookahead) &&
           next_recv < actions.size()) {
      const Action& a = actions[next_recv++];
      if (!is_recv(a.kind)) continue;
      const Key key = recv_key(a);
      std::vector<float>& buffer = inbox[key];
      buffer.assign(floats, 0.0f);
      pending[key] = setup.pipeline->irecv(a.peer, buffer.data(), floats);
      ++posted;
    }
  }

  void receive(const Action& a) {
    const Key key = recv_key(a);
    auto it = pending.find(key);
    if (it == pending.end()) {
      throw Error(ErrorCategory::kInternal,
                  fmt::format("rank {}: receive {} was not posted", me(), action_label(a, 2)));
    }
    setup.pipeline->wait(it->second);
    pending.erase(it);
    ++completed;
  }

  void send(const Action& a) {
    const Key key{a.kind == ActionKind::kSendActivation ? Data::kActivation : Data::kGradient,
                  a.microbatch, a.chunk};
    auto it = outbox.find(key);
    if (it == outbox.end()) {
      throw Error(ErrorCategory::kInternal,
                  fmt::format("rank {}: nothing to send for {}", me(), action_label(a, 2)));
    }
    in_flight.push_back(std::move(it->second));
    outbox.erase(it);
    sends.push_back(setup.pipeline->isend(a.peer, in_flight.back().data(), floats));
  }

  // Where the output of stage v for micro-batch mb goes: a local chunk's inbox or the outbox.
  std::vector<float>& output_slot(Data data, int mb, int chunk, int to_stage) {
    if (to_stage >= 0 && to_stage < stages() && map.rank_of_stage[to_stage] == me()) {
      return inbox[{data, mb, map.chunk_of_stage[to_stage]}];
    }
    return outbox[{data, mb, chunk}];
  }

  const float* take_input(Data data, int mb, int chunk) {
    auto it = inbox.find({data, mb, chunk});
    if (it == inbox.end()) {
      throw Error(ErrorCategory::kInternal,
                  fmt::format("rank {}: no input for micro-batch {} chunk {}", me(), mb, chunk));
    }
    return it->second.data();
  }

  void forward(const Action& a, const StepInputs& in) {
    StageCompute& model = *setup.chunks[a.chunk];
    const int v = stage_of(a.chunk);
    const std::size_t row = static_cast<std::size_t>(a.microbatch) * setup.microbatch_size * setup.seq_len;
    const float* input = model.has_embedding() ? nullptr : take_input(Data::kActivation, a.microbatch, a.chunk);
    float* output = nullptr;
    if (!model.has_head()) {
      std::vector<float>& slot = output_slot(Data::kActivation, a.microbatch, a.chunk, v + 1);
      slot.assign(floats, 0.0f);
      output = slot.data();
    }
    model.forward(a.microbatch, in.tokens + row, input, in.targets + row, output);
    if (model.has_head()) record.loss_sum += model.loss_sum(a.microbatch);
    inbox.erase({Data::kActivation, a.microbatch, a.chunk});
  }

  void backward_input(const Action& a, const StepInputs& in) {
    StageCompute& model = *setup.chunks[a.chunk];
    const int v = stage_of(a.chunk);
    const float* grad_output = model.has_head() ? nullptr : take_input(Data::kGradient, a.microbatch, a.chunk);
    float* grad_input = nullptr;
    if (!model.has_embedding()) {
      std::vector<float>& slot = output_slot(Data::kGradient, a.microbatch, a.chunk, v - 1);
      slot.assign(floats, 0.0f);
      grad_input = slot.data();
    }
    model.backward_input(a.microbatch, grad_output, in.loss_scale, grad_input);
    inbox.erase({Data::kGradient, a.microbatch, a.chunk});
  }

  void run(const Action& a, const StepInputs& in, const std::function<void(ActionKind)>& step_end) {
    switch (a.kind) {
      case ActionKind::kForward: forward(a, in); break;
      case ActionKind::kBackward:
        backward_input(a, in);
        setup.chunks[a.chunk]->backward_weight(a.microbatch);
        break;
      case ActionKind::kBackwardInput: backward_input(a, in); break;
      case ActionKind::kBackwardWeight: setup.chunks[a.chunk]->backward_weight(a.microbatch); break;
      case ActionKind::kSendActivation:
      case ActionKind::kSendGradient: send(a); break;
      case ActionKind::kRecvActivation:
      case ActionKind::kRecvGradient: receive(a); break;
      case ActionKind::kReduceGradients:
      case ActionKind::kOptimizerStep:
        for (Transport::Request r : sends) setup.pipeline->wait(r);
        sends.clear();
        in_flight.clear();
        step_end(a.kind);
        break;
    }
  }
};

Executor::Executor(ExecutorSetup setup) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.setup = std::move(setup);
  s.map = make_stage_map(*s.setup.schedule);
  s.flows = message_flow_ids(*s.setup.schedule)[s.setup.pipeline_rank];
  if (s.setup.chunks.empty()) throw Error(ErrorCategory::kInternal, "executor without a model");
  s.floats = s.setup.chunks.front()->activation_floats();
}

Executor::~Executor() = default;

StepRecord Executor::run_step(const StepInputs& inputs,
                              const std::function<void(ActionKind)>& step_end) {
  State& s = *state_;
  s.record = {};
  s.inbox.clear();
  s.outbox.clear();
  s.pending.clear();
  s.next_recv = s.posted = s.completed = 0;
  s.start = std::chrono::steady_clock::now();
  const auto& actions = s.list();
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const Action& a = actions[i];
    s.post_receives();
    const double begin = s.now_ms();
    s.run(a, inputs, step_end);
    const double end = s.now_ms();
    s.record.events.push_back({s.me(), is_comm(a.kind) ? Lane::kComm : Lane::kCompute, a.kind,
                               a.microbatch, a.chunk, a.peer, begin, end, s.flows[i]});
  }
  for (Transport::Request r : s.sends) s.setup.pipeline->wait(r);
  s.sends.clear();
  s.in_flight.clear();
  return std::move(s.record);
}

}  // namespace pp
