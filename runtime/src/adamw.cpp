#include "pp/runtime/adamw.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pp/error.h"

namespace pp {
namespace {

// torch.lerp's float kernel: exact at both ends, as PyTorch computes it.
float lerp(float self, float end, float weight) {
  return weight < 0.5f ? self + weight * (end - self) : end - (end - self) * (1.0f - weight);
}

const Tensor& state_tensor(const ParameterSet& state, const std::string& name, std::size_t size) {
  const Tensor* t = state.find(name);
  if (t == nullptr) throw_invalid(fmt::format("optimizer state has no tensor '{}'", name));
  if (t->data.size() != size) {
    throw_invalid(fmt::format("optimizer state tensor '{}' has {} values, expected {}", name,
                              t->data.size(), size));
  }
  return *t;
}

}  // namespace

AdamW::AdamW(const ParameterSet& parameters, AdamWOptions options) : options_(options) {
  for (const Tensor& t : parameters.tensors) {
    slots_.push_back(
        {t.name, t.shape, t.shard, t.whole_shape, std::vector<float>(t.size(), 0.0f),
         std::vector<float>(t.size(), 0.0f)});
  }
}

void AdamW::check_matches(const ParameterSet& parameters) const {
  bool same = parameters.tensors.size() == slots_.size();
  for (std::size_t i = 0; same && i < slots_.size(); ++i) {
    const Tensor& t = parameters.tensors[i];
    same = t.name == slots_[i].name && t.size() == slots_[i].exp_avg.size() &&
           t.grad.size() == t.size();
  }
  if (!same)
    throw Error(ErrorCategory::kInternal, "AdamW::step given other tensors than it was built for");
}

void AdamW::step(ParameterSet* parameters, float grad_scale) {
  check_matches(*parameters);
  ++steps_;
  for (std::size_t i = 0; i < slots_.size(); ++i)
    update(&parameters->tensors[i], &slots_[i], grad_scale);
}

void AdamW::update(Tensor* p, Slot* s, float grad_scale) const {
  const double t = static_cast<double>(steps_);
  const double correction1 = 1.0 - std::pow(options_.beta1, t);
  const float correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(options_.beta2, t)));
  const float step_size = static_cast<float>(options_.lr / correction1);
  const float decay = static_cast<float>(1.0 - options_.lr * options_.weight_decay);
  const float one_minus_beta1 = static_cast<float>(1.0 - options_.beta1);
  const float beta2 = static_cast<float>(options_.beta2);
  const float one_minus_beta2 = static_cast<float>(1.0 - options_.beta2);
  const float eps = static_cast<float>(options_.eps);
  const bool decays = p->decays() && options_.weight_decay != 0.0;
  for (std::size_t k = 0; k < p->data.size(); ++k) {
    const float g = p->grad[k] * grad_scale;
    float& x = p->data[k];
    if (decays) x = x * decay;
    float& m = s->exp_avg[k];
    float& v = s->exp_avg_sq[k];
    m = lerp(m, g, one_minus_beta1);
    v = v * beta2;
    v = v + one_minus_beta2 * g * g;
    const float denom = std::sqrt(v) / correction2_sqrt + eps;
    x = x + (-step_size) * m / denom;
  }
}

std::vector<Tensor> AdamW::state_tensors() const {
  std::vector<Tensor> state;
  for (const Slot& s : slots_) {
    state.push_back({s.name + ".exp_avg", s.shape, s.exp_avg, {}, s.shard, s.whole_shape});
    state.push_back({s.name + ".exp_avg_sq", s.shape, s.exp_avg_sq, {}, s.shard, s.whole_shape});
  }
  state.push_back({"adamw.step", {1}, {static_cast<float>(steps_)}, {}});
  return state;
}

std::vector<TensorRef> AdamW::state_refs() const {
  std::vector<TensorRef> state;
  for (const Slot& s : slots_) {
    state.push_back({s.name + ".exp_avg", s.shape, s.exp_avg.data(), s.exp_avg.size(), s.shard, s.whole_shape});
    state.push_back(
        {s.name + ".exp_avg_sq", s.shape, s.exp_avg_sq.data(), s.exp_avg_sq.size(), s.shard, s.whole_shape});
  }
  steps_as_float_ = static_cast<float>(steps_);
  state.push_back({"adamw.step", {1}, &steps_as_float_, 1});
  return state;
}

void AdamW::load_state(const ParameterSet& state) {
  const float step = state_tensor(state, "adamw.step", 1).data[0];
  if (!(step >= 0.0f) || step != std::floor(step) || step > 16777216.0f) {
    throw_invalid(fmt::format("optimizer state 'adamw.step' is {}, not a step count", step));
  }
  std::vector<Slot> slots = slots_;
  for (Slot& s : slots) {
    s.exp_avg = state_tensor(state, s.name + ".exp_avg", s.exp_avg.size()).data;
    s.exp_avg_sq = state_tensor(state, s.name + ".exp_avg_sq", s.exp_avg_sq.size()).data;
  }
  slots_ = std::move(slots);
  steps_ = static_cast<std::int64_t>(step);
}

double squared_grad_norm(const ParameterSet& parameters, const std::string& skip, bool count_replicated) {
  double sum = 0.0;
  for (const Tensor& t : parameters.tensors) {
    if (t.name == skip || (!count_replicated && t.shard.replicated())) continue;
    for (float g : t.grad) sum += static_cast<double>(g) * g;
  }
  return sum;
}

float clip_scale(double total_squared_norm, double max_norm) {
  if (max_norm <= 0.0) return 1.0f;
  const double factor = max_norm / (std::sqrt(total_squared_norm) + 1e-6);
  return static_cast<float>(std::isnan(factor) ? factor : std::min(1.0, factor));
}

}  // namespace pp
