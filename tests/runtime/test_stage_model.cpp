// The CPU GPT-2 stage model: gradients against finite differences per layer kind and for the whole
// model, split backward (I then W) against full backward, a pipeline of stages against one stage,
// checkpointing, cache release, determinism, buffer reuse (a repeated step gives the same bits and
// allocates nothing) and a known loss value.

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "pp/error.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/stage_model.h"
#include "gradient_check.h"

// Every operator new of this test binary is counted, so a test can say that a stretch of code
// allocates nothing on the heap (std::vector, std::map nodes, strings: all come through here).
namespace {
std::atomic<long long> g_heap_allocations{0};
}  // namespace

// Not inlined: the compiler would otherwise see free() meet a pointer from operator new.
[[gnu::noinline]] void* operator new(std::size_t bytes) {
  g_heap_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace pp {
namespace {

using test::random_floats;

constexpr int kBatch = 2;
constexpr int kSeq = 5;
constexpr int kHidden = 16;
constexpr int kVocab = 37;
constexpr int kLayers = 2;
constexpr int kHead = kLayers + 1;
constexpr std::size_t kActivation = std::size_t{kBatch} * kSeq * kHidden;
constexpr std::size_t kTokens = std::size_t{kBatch} * kSeq;

ModelConfig tiny_gpt2() {
  ModelConfig m;
  m.name = "tiny-gpt2";
  m.family = ModelFamily::kGpt2;
  m.hidden = kHidden;
  m.layers = kLayers;
  m.heads = 2;
  m.kv_heads = 2;
  m.ffn_hidden = 4 * kHidden;
  m.vocab = kVocab;
  m.max_positions = 16;
  m.tied_embeddings = true;
  return m;
}

std::vector<std::int32_t> random_ids(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int32_t> u(0, kVocab - 1);
  std::vector<std::int32_t> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// Weights away from GPT-2's special initial point (zero biases, unit norms) so every term of the
// gradient is exercised; the same values for a tensor name in every stage.
void randomize(ParameterSet* set) {
  for (Tensor& t : set->tensors) {
    const std::uint64_t seed = std::hash<std::string>{}(t.name);
    if (t.shape.size() == 2) {
      const bool embedding = t.name == "wte.weight" || t.name == "wpe.weight";
      t.data = random_floats(t.size(), embedding ? 0.5f : 1.0f / std::sqrt(float(t.shape[0])), seed);
    } else {
      const bool norm = t.name.ends_with("weight");
      t.data = random_floats(t.size(), norm ? 0.2f : 0.1f, seed);
      if (norm) {
        for (float& x : t.data) x += 1.0f;
      }
    }
  }
}

// A stage with its own parameters (heap-held so the model's pointers stay valid).
struct Stage {
  std::unique_ptr<ParameterSet> params;
  std::unique_ptr<StageModel> model;
};

Stage make_stage(int first, int last, int checkpoint_interval = 0) {
  Stage s;
  s.params = std::make_unique<ParameterSet>(gpt2_parameters(tiny_gpt2(), first, last));
  randomize(s.params.get());
  s.model = std::make_unique<StageModel>(tiny_gpt2(), first, last, kBatch, kSeq, checkpoint_interval,
                                         s.params.get());
  return s;
}

// One micro-batch's data: tokens and targets, an input activation, the output-gradient weights.
struct Batch {
  std::vector<std::int32_t> tokens, targets;
  std::vector<float> input, grad_output;
};

Batch make_batch(std::uint64_t seed) {
  return {random_ids(kTokens, seed), random_ids(kTokens, seed + 1), random_floats(kActivation, 1.0f, seed + 2),
          random_floats(kActivation, 1.0f, seed + 3)};
}

constexpr float kLossScale = 0.5f;

// Forward of `mb`; returns the objective: loss_scale * loss_sum for a head stage, else
// sum(output * grad_output).
double forward(Stage& s, int mb, const Batch& b) {
  std::vector<float> out(kActivation);
  s.model->forward(mb, b.tokens.data(), b.input.data(), b.targets.data(), out.data());
  if (s.model->has_head()) return kLossScale * s.model->loss_sum(mb);
  double sum = 0.0;
  for (std::size_t i = 0; i < kActivation; ++i) sum += double(out[i]) * b.grad_output[i];
  return sum;
}

std::vector<float> backward_input(Stage& s, int mb, const Batch& b) {
  std::vector<float> grad_input(kActivation);
  s.model->backward_input(mb, b.grad_output.data(), kLossScale, grad_input.data());
  return grad_input;
}

// F, I, W of one micro-batch; returns the input gradient.
std::vector<float> step(Stage& s, int mb, const Batch& b) {
  forward(s, mb, b);
  std::vector<float> grad_input = backward_input(s, mb, b);
  s.model->backward_weight(mb);
  return grad_input;
}

double objective(Stage& s, const Batch& b) {
  const double value = forward(s, 0, b);
  backward_input(s, 0, b);
  s.model->backward_weight(0);  // frees the cache; the gradients it adds are not looked at
  return value;
}

// Central differences of the objective with respect to each entry of `values`.
std::vector<double> numeric_gradient(Stage& s, Batch& b, std::vector<float>* values) {
  return test::numeric_gradient([&] { return objective(s, b); }, values);
}

// The gradient check of gradient_check.h; a gradient may be zero (the key bias's is) only where
// the analytic one is too.
void expect_close(const std::vector<float>& analytic, const std::vector<double>& numeric, const std::string& what) {
  test::expect_gradient_close(analytic, numeric, what);
  EXPECT_GT(test::norm(numeric) + test::difference_norm(analytic, numeric), 0.0) << what << " has no gradient at all";
}

// Checks every parameter gradient and (without the embedding) the input gradient of a stage.
void gradient_check(int first, int last) {
  Stage s = make_stage(first, last);
  Batch b = make_batch(11);
  s.params->zero_grad();
  const std::vector<float> grad_input = step(s, 0, b);
  std::map<std::string, std::vector<float>> analytic;
  for (const Tensor& t : s.params->tensors) analytic[t.name] = t.grad;
  for (Tensor& t : s.params->tensors) expect_close(analytic[t.name], numeric_gradient(s, b, &t.data), t.name);
  if (!s.model->has_embedding()) expect_close(grad_input, numeric_gradient(s, b, &b.input), "input");
}

TEST(StageModelGradients, EmbeddingOnly) { gradient_check(0, 0); }
TEST(StageModelGradients, OneBlock) { gradient_check(1, 1); }
TEST(StageModelGradients, HeadOnly) { gradient_check(kHead, kHead); }
TEST(StageModelGradients, WholeModel) { gradient_check(0, kHead); }
TEST(StageModelGradients, BlocksAndHead) { gradient_check(1, kHead); }

std::map<std::string, std::vector<float>> grads(const Stage& s) {
  std::map<std::string, std::vector<float>> g;
  for (const Tensor& t : s.params->tensors) g[t.name] = t.grad;
  return g;
}

// Plain order F I W per micro-batch; returns the losses (or objectives) in order.
std::vector<double> run_plain(Stage& s, const std::vector<Batch>& batches) {
  std::vector<double> values;
  for (std::size_t mb = 0; mb < batches.size(); ++mb) {
    values.push_back(forward(s, int(mb), batches[mb]));
    backward_input(s, int(mb), batches[mb]);
    s.model->backward_weight(int(mb));
  }
  return values;
}

std::vector<Batch> three_batches() { return {make_batch(100), make_batch(200), make_batch(300)}; }

void expect_grads_near(const std::map<std::string, std::vector<float>>& a,
                       const std::map<std::string, std::vector<float>>& b, double relative) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, va] : a) {
    const std::vector<float>& vb = b.at(name);
    ASSERT_EQ(va.size(), vb.size()) << name;
    double diff = 0, ref = 0;
    for (std::size_t i = 0; i < va.size(); ++i) {
      diff += double(va[i] - vb[i]) * (va[i] - vb[i]);
      ref += double(vb[i]) * vb[i];
    }
    EXPECT_LE(std::sqrt(diff), relative * std::sqrt(ref)) << name;
  }
}

// Bitwise equal, except the embedding tables: their scatter-adds (and the tied head's term) add
// several times into a row per micro-batch, so another micro-batch order rounds differently.
void expect_grads_match(const std::map<std::string, std::vector<float>>& a,
                        const std::map<std::string, std::vector<float>>& b) {
  std::map<std::string, std::vector<float>> a_tables, b_tables;
  for (const auto& [name, g] : a) {
    if (name == "wte.weight" || name == "wpe.weight") {
      a_tables[name] = g;
      b_tables[name] = b.at(name);
    } else {
      EXPECT_EQ(g, b.at(name)) << name;
    }
  }
  expect_grads_near(a_tables, b_tables, 1e-6);
}

TEST(StageModel, SplitBackwardMatchesFullBackward) {
  for (auto [first, last] : {std::pair{0, kHead}, std::pair{1, 2}}) {
    const std::vector<Batch> batches = three_batches();
    Stage plain = make_stage(first, last);
    run_plain(plain, batches);
    Stage split = make_stage(first, last);
    for (int mb : {0, 1, 2}) forward(split, mb, batches[mb]);
    backward_input(split, 1, batches[1]);
    split.model->backward_weight(1);
    backward_input(split, 0, batches[0]);
    backward_input(split, 2, batches[2]);
    split.model->backward_weight(0);
    split.model->backward_weight(2);
    expect_grads_match(grads(split), grads(plain));
  }
}

TEST(StageModel, PipelineOfStagesEqualsOneStage) {
  const std::vector<Batch> batches = three_batches();
  Stage whole = make_stage(0, kHead);
  const std::vector<double> losses = run_plain(whole, batches);
  Stage a = make_stage(0, 1);
  Stage b = make_stage(2, kHead);
  for (int mb = 0; mb < 3; ++mb) {
    std::vector<float> activation(kActivation);
    a.model->forward(mb, batches[mb].tokens.data(), nullptr, nullptr, activation.data());
    b.model->forward(mb, nullptr, activation.data(), batches[mb].targets.data(), nullptr);
    EXPECT_EQ(kLossScale * b.model->loss_sum(mb), losses[mb]);
  }
  for (int mb = 0; mb < 3; ++mb) {
    std::vector<float> grad(kActivation);
    b.model->backward_input(mb, nullptr, kLossScale, grad.data());
    b.model->backward_weight(mb);
    a.model->backward_input(mb, grad.data(), kLossScale, nullptr);
    a.model->backward_weight(mb);
  }
  std::map<std::string, std::vector<float>> pipeline = grads(a);  // the tied wte: both copies summed
  for (const auto& [name, g] : grads(b)) {
    if (name != "wte.weight") pipeline[name] = g;
  }
  const std::vector<float>& head_wte = b.params->at("wte.weight").grad;
  for (std::size_t i = 0; i < head_wte.size(); ++i) pipeline["wte.weight"][i] += head_wte[i];
  expect_grads_match(pipeline, grads(whole));
}

TEST(StageModel, CheckpointingChangesNothing) {
  const std::vector<Batch> batches = three_batches();
  for (auto [first, last] : {std::pair{0, kHead}, std::pair{2, 2}}) {
    Stage reference = make_stage(first, last, 0);
    const std::vector<double> values = run_plain(reference, batches);
    for (int k : {1, 2}) {
      Stage checkpointed = make_stage(first, last, k);
      EXPECT_EQ(run_plain(checkpointed, batches), values) << "k = " << k;
      EXPECT_EQ(grads(checkpointed), grads(reference)) << "k = " << k;  // bitwise
    }
  }
}

TEST(StageModel, InputGradientsDoNotDependOnInterleaving) {
  const std::vector<Batch> batches = three_batches();
  Stage plain = make_stage(1, kHead, 2);
  std::vector<std::vector<float>> expected;
  for (int mb = 0; mb < 3; ++mb) expected.push_back(step(plain, mb, batches[mb]));
  Stage other = make_stage(1, kHead, 2);
  for (int mb : {2, 0, 1}) forward(other, 10 + mb, batches[mb]);  // other ids, other order
  for (int mb : {1, 2, 0}) EXPECT_EQ(backward_input(other, 10 + mb, batches[mb]), expected[mb]) << mb;
}

TEST(StageModel, DeterministicAcrossRuns) {
  const std::vector<Batch> batches = three_batches();
  Stage one = make_stage(0, kHead, 1);
  Stage two = make_stage(0, kHead, 1);
  EXPECT_EQ(run_plain(one, batches), run_plain(two, batches));
  EXPECT_EQ(grads(one), grads(two));
}

TEST(StageModel, GradientsAccumulateAcrossMicrobatches) {
  const Batch batch = make_batch(5);
  Stage once = make_stage(1, 1);
  step(once, 0, batch);
  Stage twice = make_stage(1, 1);
  step(twice, 0, batch);
  step(twice, 1, batch);
  for (const auto& [name, g] : grads(once)) {
    const std::vector<float>& g2 = twice.params->at(name).grad;
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g2[i], g[i] + g[i]) << name << "[" << i << "]";
  }
}

TEST(StageModel, CachesAreReleasedAfterBackwardWeight) {
  const std::vector<Batch> batches = three_batches();
  Stage s = make_stage(0, kHead, 2);
  EXPECT_EQ(s.model->activation_floats(), kActivation);
  for (int mb = 0; mb < 3; ++mb) forward(s, mb, batches[mb]);
  EXPECT_EQ(s.model->cached_microbatches(), 3u);
  for (int mb = 0; mb < 3; ++mb) backward_input(s, mb, batches[mb]);
  EXPECT_EQ(s.model->cached_microbatches(), 3u);
  s.model->backward_weight(1);
  EXPECT_EQ(s.model->cached_microbatches(), 2u);
  s.model->backward_weight(0);
  s.model->backward_weight(2);
  EXPECT_EQ(s.model->cached_microbatches(), 0u);
}

// One step as a split-backward schedule runs it: F of every micro-batch, then I and W out of order.
// The activations and gradients a pipeline would hand over, and the losses, land in `io`, which
// allocates only on its first use.
struct StepBuffers {
  std::vector<std::vector<float>> output, grad_input;
  std::vector<double> losses;
};

void split_step(Stage& s, const std::vector<Batch>& batches, StepBuffers* io) {
  const std::size_t m = batches.size();
  if (io->output.size() != m) {
    io->output.assign(m, std::vector<float>(kActivation));
    io->grad_input.assign(m, std::vector<float>(kActivation));
    io->losses.assign(m, 0.0);
  }
  for (std::size_t mb = 0; mb < m; ++mb) {
    const Batch& b = batches[mb];
    s.model->forward(int(mb), b.tokens.data(), b.input.data(), b.targets.data(), io->output[mb].data());
    if (s.model->has_head()) io->losses[mb] = s.model->loss_sum(int(mb));
  }
  for (std::size_t k = m; k-- > 0;) {
    s.model->backward_input(int(k), batches[k].grad_output.data(), kLossScale, io->grad_input[k].data());
  }
  for (std::size_t mb = 0; mb < m; ++mb) s.model->backward_weight(int(mb));
}

// A second step reuses the first one's buffers (stale values in them) and must give the same bits.
TEST(StageModel, RepeatedStepGivesIdenticalBits) {
  const std::vector<Batch> batches = three_batches();
  for (auto [first, last, k] : {std::tuple{0, kHead, 0}, std::tuple{0, kHead, 2}, std::tuple{1, 2, 1}}) {
    Stage s = make_stage(first, last, k);
    StepBuffers io;
    split_step(s, batches, &io);
    const auto gradients = grads(s);
    const StepBuffers first_io = io;
    s.params->zero_grad();
    split_step(s, batches, &io);
    EXPECT_EQ(io.losses, first_io.losses) << first << ".." << last << " k " << k;
    EXPECT_EQ(grads(s), gradients) << first << ".." << last << " k " << k;  // bitwise
    EXPECT_EQ(io.output, first_io.output) << first << ".." << last << " k " << k;
    EXPECT_EQ(io.grad_input, first_io.grad_input) << first << ".." << last << " k " << k;
  }
}

// The steady state of a run: once one step has run, a step of the same schedule makes no heap
// allocation at all (the issue: a fresh mmap per large buffer per micro-batch).
TEST(StageModel, SecondStepAllocatesNothing) {
  const std::vector<Batch> batches = three_batches();
  for (auto [first, last, k] : {std::tuple{0, kHead, 0}, std::tuple{0, kHead, 2}, std::tuple{1, 2, 1}}) {
    Stage s = make_stage(first, last, k);
    StepBuffers io;
    split_step(s, batches, &io);
    const std::size_t buffers = s.model->buffer_allocations();
    const long long before = g_heap_allocations.load();
    split_step(s, batches, &io);
    const long long during = g_heap_allocations.load() - before;
    EXPECT_EQ(during, 0) << first << ".." << last << " k " << k;
    EXPECT_EQ(s.model->buffer_allocations(), buffers) << first << ".." << last << " k " << k;
  }
}

// Pooling must not cost checkpointing its saving: a recomputed block holds only its input
// between F and B, and nothing stays held for a micro-batch after its W.
TEST(StageModel, CachedBytesCountWhatMicrobatchesHold) {
  const Batch b = make_batch(7);
  Stage checkpointed = make_stage(1, 2, 1);  // both blocks recomputed
  Stage plain = make_stage(1, 2, 0);
  for (int step = 0; step < 2; ++step) {
    EXPECT_EQ(checkpointed.model->cached_bytes(), 0u);
    forward(checkpointed, 0, b);
    forward(plain, 0, b);
    EXPECT_EQ(checkpointed.model->cached_bytes(), 2 * kActivation * sizeof(float)) << "step " << step;
    EXPECT_GT(plain.model->cached_bytes(), 10 * kActivation * sizeof(float)) << "step " << step;
    backward_input(checkpointed, 0, b);
    backward_input(plain, 0, b);
    checkpointed.model->backward_weight(0);
    plain.model->backward_weight(0);
    EXPECT_EQ(checkpointed.model->cached_bytes(), 0u);
    EXPECT_EQ(plain.model->cached_bytes(), 0u);
  }
}

TEST(StageModel, UniformLogitsGiveLogVocabPerToken) {
  ParameterSet params = gpt2_parameters(tiny_gpt2(), 0, kHead);  // all zero
  for (Tensor& t : params.tensors) {
    if (t.shape.size() == 1 && t.name.ends_with("weight")) std::fill(t.data.begin(), t.data.end(), 1.0f);
  }
  StageModel model(tiny_gpt2(), 0, kHead, kBatch, kSeq, 0, &params);
  const Batch b = make_batch(9);
  model.forward(0, b.tokens.data(), nullptr, b.targets.data(), nullptr);
  EXPECT_NEAR(model.loss_sum(0) / kTokens, std::log(double(kVocab)), 1e-6);
}

TEST(StageModel, RejectsMisuse) {
  Stage s = make_stage(0, kHead);
  const Batch b = make_batch(3);
  EXPECT_THROW(s.model->backward_input(0, nullptr, 1.0f, nullptr), Error);
  forward(s, 0, b);
  EXPECT_THROW(forward(s, 0, b), Error);
  EXPECT_THROW(s.model->backward_weight(0), Error);
  Batch bad = b;
  bad.tokens[3] = kVocab;
  EXPECT_THROW(forward(s, 1, bad), Error);
  ParameterSet params = gpt2_parameters(tiny_gpt2(), 0, 1);
  EXPECT_THROW(StageModel(tiny_gpt2(), 0, 1, kBatch, 17, 0, &params), Error);  // T > max_positions
}

}  // namespace
}  // namespace pp
