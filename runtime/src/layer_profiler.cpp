#include "pp/runtime/layer_profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <vector>

#include "pp/error.h"
#include "pp/runtime/backend.h"
#include "pp/runtime/parameters.h"
#ifdef PP_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

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
  std::unique_ptr<TrainableChunk> chunk;
  double parameter_count = 0;
  std::vector<double> fwd_ms, input_grad_ms, wgrad_ms, activation_bytes;
};

// The micro-batch's data and the activations and gradients handed between the layers, in the
// backend's memory: activation[l] (b, T, C) is layer l's output, gradient[l] (b, T, C) the
// gradient with respect to it.
struct ChainBuffers {
  std::vector<std::int32_t> tokens, targets;  // (b, T)
  std::unique_ptr<BufferPool> pool;
  std::vector<Buffer> activation, gradient;
  float loss_scale = 1;
  ~ChainBuffers() {
    for (const Buffer& b : activation) pool->release(b);
    for (const Buffer& b : gradient) pool->release(b);
  }
};

std::vector<LayerStage> make_stages(const ModelConfig& model, const ProfilerOptions& o, Backend& backend) {
  std::vector<LayerStage> stages;
  for (int layer = 0; layer <= model.layers + 1; ++layer) {
    LayerStage s;
    s.chunk = backend.make_chunk({&model, layer, layer, o.microbatch_size, o.seq_len, 0, AdamWOptions{}, o.seed});
    for (std::size_t i = 0; i < s.chunk->tensor_count(); ++i) {
      s.parameter_count += static_cast<double>(s.chunk->gradient(i).count());
    }
    stages.push_back(std::move(s));
  }
  return stages;
}

std::unique_ptr<ChainBuffers> make_buffers(const ModelConfig& model, const ProfilerOptions& o, std::size_t layers,
                                           std::size_t floats, Backend& backend) {
  auto b = std::make_unique<ChainBuffers>();
  const std::size_t tokens = std::size_t(o.microbatch_size) * o.seq_len;
  std::mt19937 rng(static_cast<unsigned>(o.seed));
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.vocab - 1));
  b->tokens.resize(tokens);
  b->targets.resize(tokens);
  for (std::size_t i = 0; i < tokens; ++i) b->tokens[i] = token(rng), b->targets[i] = token(rng);
  b->pool = backend.activation_pool(floats);
  for (std::size_t l = 0; l < layers; ++l) {
    b->activation.push_back(b->pool->acquire());
    b->gradient.push_back(b->pool->acquire());
  }
  b->loss_scale = 1.0f / static_cast<float>(tokens);
  return b;
}

// One micro-batch through the chain as a run's step takes it through a stage: the forward of
// every layer, then every input gradient (I) from the head down, then every weight gradient (W).
// Each call is timed on its own, from an idle device to an idle device; `record` keeps the times.
void run_chain(std::vector<LayerStage>& stages, ChainBuffers& b, Backend& backend, bool record) {
  const std::size_t n = stages.size();
  const int mb = 0;  // one id, as each step of a run reuses its ids
  const auto timed = [&backend](const auto& call) {
    backend.synchronize();
    const double t = now_ms();
    call();
    backend.synchronize();
    return now_ms() - t;
  };
  for (std::size_t l = 0; l < n; ++l) {
    StageCompute& stage = stages[l].chunk->compute();
    const Buffer input = l == 0 ? Buffer() : b.activation[l - 1];
    const Buffer output = l + 1 == n ? Buffer() : b.activation[l];
    const double ms = timed([&] { stage.forward(mb, b.tokens.data(), input, b.targets.data(), output); });
    if (!record) continue;
    stages[l].fwd_ms.push_back(ms);
    stages[l].activation_bytes.push_back(static_cast<double>(stage.cached_bytes()));
  }
  for (std::size_t l = n; l-- > 0;) {
    StageCompute& stage = stages[l].chunk->compute();
    const Buffer grad_output = l + 1 == n ? Buffer() : b.gradient[l];
    const Buffer grad_input = l == 0 ? Buffer() : b.gradient[l - 1];
    const double ms = timed([&] { stage.backward_input(mb, grad_output, b.loss_scale, grad_input); });
    if (record) stages[l].input_grad_ms.push_back(ms);
  }
  for (std::size_t l = n; l-- > 0;) {
    const double ms = timed([&] { stages[l].chunk->compute().backward_weight(mb); });
    if (record) stages[l].wgrad_ms.push_back(ms);
  }
}

std::unique_ptr<Backend> profiling_backend(const ProfilerOptions& o) {
  if (o.device == "cpu") return make_cpu_backend();
  if (o.device != "cuda") throw_invalid(fmt::format("--device {}: expected cpu or cuda", o.device));
#ifdef PP_WITH_CUDA
  return cuda::make_cuda_backend(0, o.allow_tf32);
#else
  throw_invalid("--device cuda: this pp was built without CUDA");
#endif
}

LayerMeasurement summarize(const ModelConfig& model, int layer, const LayerStage& s) {
  LayerMeasurement m;
  m.name = layer == 0 ? "embedding" : layer == model.layers + 1 ? "head" : fmt::format("block {}", layer - 1);
  m.fwd_ms = median(s.fwd_ms);
  m.wgrad_ms = median(s.wgrad_ms);
  m.bwd_ms = median(s.input_grad_ms) + m.wgrad_ms;
  m.param_bytes = 4.0 * s.parameter_count;
  m.activation_bytes = median(s.activation_bytes);
  m.output_bytes = layer == model.layers + 1 ? 0 : 4.0 * s.chunk->compute().activation_floats();
  return m;
}

}  // namespace

MeasuredProfile profile_layers(const ModelConfig& model, const ProfilerOptions& o) {
  if (o.seq_len > model.max_positions) {
    throw_invalid(fmt::format("--seq-len {} exceeds the model's {} positions", o.seq_len, model.max_positions));
  }
  if (o.microbatch_size < 1 || o.repeats < 1) throw_invalid("--microbatch-size and --repeats must be at least 1");
  if (o.warmups < 0) throw_invalid("the profiler's warm-up count must be 0 or more");
  std::unique_ptr<Backend> backend = profiling_backend(o);
  std::vector<LayerStage> stages = make_stages(model, o, *backend);
  std::unique_ptr<ChainBuffers> buffers =
      make_buffers(model, o, stages.size(), stages.front().chunk->compute().activation_floats(), *backend);
  for (int r = 0; r < o.warmups + o.repeats; ++r) run_chain(stages, *buffers, *backend, r >= o.warmups);
  MeasuredProfile profile;
  profile.microbatch_size = o.microbatch_size;
  profile.seq_len = o.seq_len;
  profile.device = backend->describe();
  for (int layer = 0; layer <= model.layers + 1; ++layer) {
    profile.layers.push_back(summarize(model, layer, stages[static_cast<std::size_t>(layer)]));
  }
  return profile;
}

}  // namespace pp
