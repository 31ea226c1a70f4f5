#include "pp/runtime/executor.h"

#include <fmt/format.h>

#include <chrono>
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
  BufferPool* pool = nullptr;

  // Per step. Every Buffer here comes from the pool and goes back to it after its last use.
  std::map<Key, Buffer> inbox;                 // received or handed over locally, by consumer
  std::map<Key, Buffer> outbox;                // produced, waiting for its SEND
  std::map<Key, Transport::Request> pending;   // posted receives, by consumer
  std::vector<std::pair<Transport::Request, Buffer>> sends;  // posted sends and their buffers
  std::vector<bool> issued;                    // in-order transports: actions already issued
  std::vector<std::pair<int, int>> losses_to_read;  // (chunk, micro-batch): read at the step's end
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

  void post(const Action& a) {
    const Key key = recv_key(a);
    const Buffer buffer = pool->acquire();
    inbox[key] = buffer;
    pending[key] = setup.pipeline->irecv(a.peer, buffer);
    ++posted;
  }

  // Receives posted ahead of their use, up to the lookahead (where the transport allows it).
  void post_receives() {
    if (!setup.pipeline->posts_receives_ahead()) return;
    const auto& actions = list();
    while (posted - completed < static_cast<std::size_t>(setup.recv_lookahead) &&
           next_recv < actions.size()) {
      const Action& a = actions[next_recv++];
      if (is_recv(a.kind)) post(a);
    }
  }

  // In-order transports (NCCL): the run of consecutive communication actions from index i is issued
  // as one group, in the list's order, before any of its receives is waited for.
  void issue_group(std::size_t i) {
    const auto& actions = list();
    setup.pipeline->group_begin();
    for (std::size_t j = i; j < actions.size() && is_comm(actions[j].kind); ++j) {
      if (is_recv(actions[j].kind)) {
        post(actions[j]);
      } else {
        send(actions[j]);
      }
      issued[j] = true;
    }
    setup.pipeline->group_end();
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
    const Buffer buffer = it->second;
    outbox.erase(it);
    sends.emplace_back(setup.pipeline->isend(a.peer, buffer), buffer);
  }

  void finish_sends() {
    for (const auto& [request, buffer] : sends) {
      setup.pipeline->wait(request);
      pool->release(buffer);
    }
    sends.clear();
  }

  // A fresh buffer for the output of stage v for micro-batch mb, placed in a local chunk's inbox
  // (when the next stage is on this rank) or in the outbox for its SEND.
  Buffer output_slot(Data data, int mb, int chunk, int to_stage) {
    const Buffer buffer = pool->acquire();
    const bool local = to_stage >= 0 && to_stage < stages() && map.rank_of_stage[to_stage] == me();
    Buffer& slot = local ? inbox[{data, mb, map.chunk_of_stage[to_stage]}] : outbox[{data, mb, chunk}];
    pool->release(slot);  // a stale one (not expected)
    slot = buffer;
    return buffer;
  }

  Buffer take_input(Data data, int mb, int chunk) {
    auto it = inbox.find({data, mb, chunk});
    if (it == inbox.end()) {
      throw Error(ErrorCategory::kInternal,
                  fmt::format("rank {}: no input for micro-batch {} chunk {}", me(), mb, chunk));
    }
    return it->second;
  }

  void consume(Data data, int mb, int chunk) {
    auto it = inbox.find({data, mb, chunk});
    if (it == inbox.end()) return;
    pool->release(it->second);
    inbox.erase(it);
  }

  void forward(const Action& a, const StepInputs& in) {
    StageCompute& model = *setup.chunks[a.chunk];
    const int v = stage_of(a.chunk);
    const std::size_t row = static_cast<std::size_t>(a.microbatch) * setup.microbatch_size * setup.seq_len;
    const Buffer input = model.has_embedding() ? Buffer() : take_input(Data::kActivation, a.microbatch, a.chunk);
    const Buffer output =
        model.has_head() ? Buffer() : output_slot(Data::kActivation, a.microbatch, a.chunk, v + 1);
    model.forward(a.microbatch, in.tokens + row, input, in.targets + row, output);
    if (model.has_head()) losses_to_read.emplace_back(a.chunk, a.microbatch);
    consume(Data::kActivation, a.microbatch, a.chunk);
  }

  void backward_input(const Action& a, const StepInputs& in) {
    StageCompute& model = *setup.chunks[a.chunk];
    const int v = stage_of(a.chunk);
    const Buffer grad_output = model.has_head() ? Buffer() : take_input(Data::kGradient, a.microbatch, a.chunk);
    const Buffer grad_input =
        model.has_embedding() ? Buffer() : output_slot(Data::kGradient, a.microbatch, a.chunk, v - 1);
    model.backward_input(a.microbatch, grad_output, in.loss_scale, grad_input);
    consume(Data::kGradient, a.microbatch, a.chunk);
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
      case ActionKind::kSendGradient:
        if (setup.pipeline->posts_receives_ahead()) send(a);  // else issued with its group
        break;
      case ActionKind::kRecvActivation:
      case ActionKind::kRecvGradient: receive(a); break;
      case ActionKind::kReduceGradients:
      case ActionKind::kOptimizerStep:
        finish_sends();
        step_end(a.kind);
        break;
    }
  }

  // Gives every buffer still held back to the pool (after an error or at a step's end).
  void release_all() {
    for (auto& [key, buffer] : inbox) pool->release(buffer);
    for (auto& [key, buffer] : outbox) pool->release(buffer);
    inbox.clear();
    outbox.clear();
    pending.clear();
  }
};

Executor::Executor(ExecutorSetup setup) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.setup = std::move(setup);
  s.map = make_stage_map(*s.setup.schedule);
  s.flows = message_flow_ids(*s.setup.schedule)[s.setup.pipeline_rank];
  if (s.setup.chunks.empty()) throw Error(ErrorCategory::kInternal, "executor without a model");
  if (s.setup.buffers == nullptr) throw Error(ErrorCategory::kInternal, "executor without buffers");
  s.pool = s.setup.buffers;
  if (s.pool->buffer_floats() != s.setup.chunks.front()->activation_floats()) {
    throw Error(ErrorCategory::kInternal, "the executor's buffers do not hold one activation");
  }
}

Executor::~Executor() = default;

StepRecord Executor::run_step(const StepInputs& inputs,
                              const std::function<void(ActionKind)>& step_end) {
  State& s = *state_;
  s.record = {};
  s.release_all();
  s.next_recv = s.posted = s.completed = 0;
  s.start = std::chrono::steady_clock::now();
  const auto& actions = s.list();
  const bool in_order = !s.setup.pipeline->posts_receives_ahead();
  s.issued.assign(actions.size(), false);
  s.losses_to_read.clear();
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const Action& a = actions[i];
    s.post_receives();
    if (in_order && is_comm(a.kind) && !s.issued[i]) s.issue_group(i);
    const double begin = s.now_ms();
    s.run(a, inputs, step_end);
    const double end = s.now_ms();
    s.record.events.push_back({s.me(), is_comm(a.kind) ? Lane::kComm : Lane::kCompute, a.kind,
                               a.microbatch, a.chunk, a.peer, begin, end, s.flows[i]});
  }
  s.finish_sends();
  s.release_all();
  // Read after the last action: on a GPU each read waits for the device.
  if (s.setup.drain && !s.losses_to_read.empty()) s.setup.drain();
  for (const auto& [chunk, mb] : s.losses_to_read) s.record.loss_sum += s.setup.chunks[chunk]->loss_sum(mb);
  s.losses_to_read.clear();
  return std::move(s.record);
}

}  // namespace pp
