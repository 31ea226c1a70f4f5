// The executor over a transport that issues operations in the lowered list's order (as NCCL
// does: no receive posted ahead, each run of consecutive sends and receives one group) gives the
// same step, to the bit, as over MPI with receives posted ahead: the same loss sums and the same
// gradients on every rank, for GPipe, 1F1B, interleaved 1F1B and ZB-H1 on 4 ranks. The wrapper
// refuses any operation outside a group and any wait inside one, so a loop that broke NCCL's
// rules would fail here, on the CPU. Run under mpirun -np 4.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "pp/error.h"
#include "pp/lowering.h"
#include "pp/runtime/executor.h"
#include "pp/runtime/forwarding_transport.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/stage_model.h"
#include "pp/schedule_generators.h"
#include "small_gpt2.h"

namespace {

// MPI underneath, NCCL's discipline on top.
class InOrderTransport : public pp::ForwardingTransport {
 public:
  explicit InOrderTransport(pp::Transport* inner) : ForwardingTransport(nullptr, inner) {}
  bool posts_receives_ahead() const override { return false; }
  void group_begin() override {
    if (in_group_) fail("a group inside a group");
    in_group_ = true;
    ++groups;
  }
  void group_end() override {
    if (!in_group_) fail("group_end outside a group");
    in_group_ = false;
  }
  Request isend(int peer, const pp::Buffer& data) override {
    if (!in_group_) fail("a send outside a group");
    return inner().isend(peer, data);
  }
  Request irecv(int peer, const pp::Buffer& data) override {
    if (!in_group_) fail("a receive outside a group");
    return inner().irecv(peer, data);
  }
  void wait(Request r) override {
    if (in_group_) fail("a wait inside a group");
    inner().wait(r);
  }

  int groups = 0;

 private:
  [[noreturn]] static void fail(const char* what) { throw pp::Error(pp::ErrorCategory::kInternal, what); }
  bool in_group_ = false;
};

// 8 layers with the embedding and the head: one per stage at 4 ranks x 2 chunks.
pp::ModelConfig tiny_model() { return pp::test::small_gpt2(16, 6, 2, 32, 8); }

struct StepResult {
  double loss_sum = 0;
  std::vector<std::vector<float>> grads;  // per tensor of every local chunk
};

constexpr int kMicrobatches = 8;
constexpr int kBatch = 2;
constexpr int kSeq = 4;

StepResult one_step(const std::string& schedule_name, int chunks, pp::Transport* pipeline) {
  const pp::ModelConfig model = tiny_model();
  const int ranks = pipeline->size();
  const pp::Schedule schedule =
      pp::lower_communication(pp::generate_schedule(schedule_name, {ranks, kMicrobatches, chunks}));
  const int stages = ranks * chunks;
  const int layers = model.layers + 2;
  std::vector<pp::ParameterSet> parameters(chunks);
  std::vector<std::unique_ptr<pp::StageModel>> models;
  pp::ExecutorSetup setup;
  setup.schedule = &schedule;
  setup.pipeline_rank = pipeline->rank();
  for (int c = 0; c < chunks; ++c) {
    const int stage = schedule.placement[pipeline->rank()][c];
    const int first = stage * layers / stages;
    const int last = (stage + 1) * layers / stages - 1;
    parameters[c] = pp::gpt2_parameters(model, first, last);
    pp::init_gpt2(&parameters[c], model.layers, 7);
    models.push_back(std::make_unique<pp::StageModel>(model, first, last, kBatch, kSeq, 0, &parameters[c]));
    setup.chunks.push_back(models.back().get());
  }
  const auto buffers = pp::make_host_buffer_pool(models.front()->activation_floats());
  setup.buffers = buffers.get();
  setup.pipeline = pipeline;
  setup.microbatch_size = kBatch;
  setup.seq_len = kSeq;
  pp::Executor executor(std::move(setup));
  std::vector<std::int32_t> tokens(kMicrobatches * kBatch * kSeq), targets(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<std::int32_t>((i * 7 + 3) % model.vocab);
    targets[i] = static_cast<std::int32_t>((i * 5 + 1) % model.vocab);
  }
  const pp::StepInputs in{tokens.data(), targets.data(), 1.0f / float(tokens.size())};
  StepResult result;
  result.loss_sum = executor.run_step(in, [](pp::ActionKind) {}).loss_sum;
  for (const pp::ParameterSet& p : parameters) {
    for (const pp::Tensor& t : p.tensors) result.grads.push_back(t.grad);
  }
  return result;
}

class InOrder : public ::testing::TestWithParam<std::pair<std::string, int>> {};

TEST_P(InOrder, SameStepAsReceivesPostedAhead) {
  auto world = pp::mpi_world();
  ASSERT_EQ(world->size(), 4) << "run under mpirun -np 4";
  const auto& [name, chunks] = GetParam();
  const StepResult ahead = one_step(name, chunks, world.get());
  InOrderTransport in_order(world.get());
  const StepResult grouped = one_step(name, chunks, &in_order);
  EXPECT_GT(in_order.groups, 0);
  EXPECT_EQ(ahead.loss_sum, grouped.loss_sum);
  ASSERT_EQ(ahead.grads.size(), grouped.grads.size());
  for (std::size_t t = 0; t < ahead.grads.size(); ++t) {
    ASSERT_EQ(ahead.grads[t], grouped.grads[t]) << "tensor " << t << " on rank " << world->rank();
  }
  double loss = ahead.loss_sum;
  world->allreduce_sum(&loss, 1);
  EXPECT_GT(loss, 0.0);  // the head's rank computed a loss
}

INSTANTIATE_TEST_SUITE_P(Schedules, InOrder,
                         ::testing::Values(std::make_pair(std::string("gpipe"), 1),
                                           std::make_pair(std::string("1f1b"), 1),
                                           std::make_pair(std::string("interleaved"), 2),
                                           std::make_pair(std::string("zb-h1"), 1)),
                         [](const auto& param_info) {
                           std::string n = param_info.param.first;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

}  // namespace
