#include "pp/runtime/layer_profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>

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

struct Sample {
  double fwd_ms, input_grad_ms, wgrad_ms, activation_bytes;
};

LayerMeasurement measure_layer(const ModelConfig& model, int layer, const ProfilerOptions& o) {
  ParameterSet parameters = gpt2_parameters(model, layer, layer);
  init_gpt2(&parameters, model.layers, o.seed);
  StageModel stage(model, layer, layer, o.microbatch_size, o.seq_len, 0, &parameters);
  const std::size_t tokens = std::size_t(o.microbatch_size) * o.seq_len;
  std::mt19937 rng(static_cast<unsigned>(o.seed));
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.vocab - 1));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::int32_t> ids(tokens), targets(tokens);
  for (std::size_t i = 0; i < tokens; ++i) ids[i] = token(rng), targets[i] = token(rng);
  std::vector<float> input(stage.activation_floats()), output(stage.activation_floats()),
      grad_output(stage.activation_floats()), grad_input(stage.activation_floats());
  for (float& x : input) x = normal(rng);
  for (float& x : grad_output) x = normal(rng) * 1e-3f;
  std::vector<Sample> samples;
  for (int r = 0; r < o.warmups + o.repeats; ++r) {
    const int mb = 0;  // one id, as each step of a run reuses its ids
    Sample s{};
    double t = now_ms();
    stage.forward(mb, ids.data(), input.data(), targets.data(), output.data());
    s.fwd_ms = now_ms() - t;
    s.activation_bytes = static_cast<double>(stage.cached_bytes());
    t = now_ms();
    stage.backward_input(mb, grad_output.data(), 1.0f / tokens, grad_input.data());
    s.input_grad_ms = now_ms() - t;
    t = now_ms();
    stage.backward_weight(mb);
    s.wgrad_ms = now_ms() - t;
    if (r >= o.warmups) samples.push_back(s);
  }
  auto pick = [&](double Sample::*field) {
    std::vector<double> v;
    for (const Sample& s : samples) v.push_back(s.*field);
    return median(v);
  };
  LayerMeasurement m;
  m.name = layer == 0 ? "embedding" : layer == model.layers + 1 ? "head" : fmt::format("block {}", layer - 1);
  m.fwd_ms = pick(&Sample::fwd_ms);
  m.wgrad_ms = pick(&Sample::wgrad_ms);
  m.bwd_ms = pick(&Sample::input_grad_ms) + m.wgrad_ms;
  m.param_bytes = 4.0 * parameters.parameter_count();
  m.activation_bytes = pick(&Sample::activation_bytes);
  m.output_bytes = layer == model.layers + 1 ? 0 : 4.0 * stage.activation_floats();
  return m;
}

}  // namespace

MeasuredProfile profile_layers(const ModelConfig& model, const ProfilerOptions& o) {
  if (o.seq_len > model.max_positions) {
    throw_invalid(fmt::format("--seq-len {} exceeds the model's {} positions", o.seq_len, model.max_positions));
  }
  if (o.microbatch_size < 1 || o.repeats < 1) throw_invalid("--microbatch-size and --repeats must be at least 1");
  if (o.warmups < 0) throw_invalid("the profiler's warm-up count must be 0 or more");
  MeasuredProfile profile;
  profile.microbatch_size = o.microbatch_size;
  profile.seq_len = o.seq_len;
  profile.device = "CPU, OpenBLAS float32, one process";
  for (int layer = 0; layer <= model.layers + 1; ++layer) profile.layers.push_back(measure_layer(model, layer, o));
  return profile;
}

}  // namespace pp
