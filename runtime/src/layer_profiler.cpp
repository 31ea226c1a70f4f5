#include "pp/runtime/layer_profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <vector>

#include "pp/error.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/stage_model.h"

namespace pp {
namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// One layer as a one-layer stage, and its timed samples (one per timed micro-batch).
struct LayerStage {
  std::unique_ptr<ParameterSet> parameters;  // outlives the model, at a stable address
  std::unique_ptr<StageModel> model;
  std::vector<double> fwd_ms, input_grad_ms, wgrad_ms, activation_bytes;
};

// The micro-batch's data and the activations and gradients handed between the layers:
// activation[l] (b, T, C) is layer l's output, gradient[l] (b, T, C) the gradient with respect to it.
struct ChainBuffers {
  std::vector<std::int32_t> tokens, targets;  // (b, T)
  std::vector<std::vector<float>> activation, gradient;
  float loss_scale = 1;
};

std::vector<LayerStage> make_stages(const ModelConfig& model, const ProfilerOptions& o) {
  std::vector<LayerStage> stages;
  for (int layer = 0; layer <= model.layers + 1; ++layer) {
    LayerStage s;
    s.parameters = std::make_unique<ParameterSet>(gpt2_parameters(model, layer, layer));
    init_gpt2(s.parameters.get(), model.layers, o.seed);
    s.model = std::make_unique<StageModel>(model, layer, layer, o.microbatch_size, o.seq_len, 0,
                                           s.parameters.get());
    stages.push_back(std::move(s));
  }
  return stages;
}

ChainBuffers make_buffers(const ModelConfig& model, const ProfilerOptions& o, std::size_t layers,
                          std::size_t floats) {
  ChainBuffers b;
  const std::size_t tokens = std::size_t(o.microbatch_size) * o.seq_len;
  std::mt19937 rng(static_cast<unsigned>(o.seed));
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.vocab - 1));
  b.tokens.resize(tokens);
  b.targets.resize(tokens);
  for (std::size_t i = 0; i < tokens; ++i) b.tokens[i] = token(rng), b.targets[i] = token(rng);
  b.activation.assign(layers, std::vector<float>(floats));
  b.gradient.assign(layers, std::vector<float>(floats));
  b.loss_scale = 1.0f / static_cast<float>(tokens);
  return b;
}

// One micro-batch through the chain as a run's step takes it through a stage: the forward of
// every layer, then every input gradient (I) from the head down, then every weight gradient (W).
// Each call is timed on its own; `record` keeps the times.
void run_chain(std::vector<LayerStage>& stages, ChainBuffers& b, bool record) {
  const std::size_t n = stages.size();
  const int mb = 0;  // one id, as each step of a run reuses its ids
  for (std::size_t l = 0; l < n; ++l) {
    const float* input = l == 0 ? nullptr : b.activation[l - 1].data();
    float* output = l + 1 == n ? nullptr : b.activation[l].data();
    const double t = now_ms();
    stages[l].model->forward(mb, b.tokens.data(), input, b.targets.data(), output);
    if (!record) continue;
    stages[l].fwd_ms.push_back(now_ms() - t);
    stages[l].activation_bytes.push_back(static_cast<double>(stages[l].model->cached_bytes()));
  }
  for (std::size_t l = n; l-- > 0;) {
    const float* grad_output = l + 1 == n ? nullptr : b.gradient[l].data();
    float* grad_input = l == 0 ? nullptr : b.gradient[l - 1].data();
    const double t = now_ms();
    stages[l].model->backward_input(mb, grad_output, b.loss_scale, grad_input);
    if (record) stages[l].input_grad_ms.push_back(now_ms() - t);
  }
  for (std::size_t l = n; l-- > 0;) {
    const double t = now_ms();
    stages[l].model->backward_weight(mb);
    if (record) stages[l].wgrad_ms.push_back(now_ms() - t);
  }
}

LayerMeasurement summarize(const ModelConfig& model, int layer, const LayerStage& s) {
  LayerMeasurement m;
  m.name = layer == 0 ? "embedding" : layer == model.layers + 1 ? "head" : fmt::format("block {}", layer - 1);
  m.fwd_ms = median(s.fwd_ms);
  m.wgrad_ms = median(s.wgrad_ms);
  m.bwd_ms = median(s.input_grad_ms) + m.wgrad_ms;
  m.param_bytes = 4.0 * s.parameters->parameter_count();
  m.activation_bytes = median(s.activation_bytes);
  m.output_bytes = layer == model.layers + 1 ? 0 : 4.0 * s.model->activation_floats();
  return m;
}

}  // namespace

MeasuredProfile profile_layers(const ModelConfig& model, const ProfilerOptions& o) {
  if (o.seq_len > model.max_positions) {
    throw_invalid(fmt::format("--seq-len {} exceeds the model's {} positions", o.seq_len, model.max_positions));
  }
  if (o.microbatch_size < 1 || o.repeats < 1) throw_invalid("--microbatch-size and --repeats must be at least 1");
  if (o.warmups < 0) throw_invalid("the profiler's warm-up count must be 0 or more");
  std::vector<LayerStage> stages = make_stages(model, o);
  ChainBuffers buffers = make_buffers(model, o, stages.size(), stages.front().model->activation_floats());
  for (int r = 0; r < o.warmups + o.repeats; ++r) run_chain(stages, buffers, r >= o.warmups);
  MeasuredProfile profile;
  profile.microbatch_size = o.microbatch_size;
  profile.seq_len = o.seq_len;
  profile.device = "CPU, OpenBLAS float32, one process";
  for (int layer = 0; layer <= model.layers + 1; ++layer) {
    profile.layers.push_back(summarize(model, layer, stages[static_cast<std::size_t>(layer)]));
  }
  return profile;
}

}  // namespace pp
