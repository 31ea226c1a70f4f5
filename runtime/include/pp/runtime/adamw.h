#pragma once
// AdamW with torch.optim.AdamW's semantics (amsgrad=False, maximize=False, the single-tensor
// path), in float32 as PyTorch computes it (double only for the bias corrections and the step
// size), so updates match PyTorch to float round-off. For each tensor at step t (1-based):
//   p -= lr * weight_decay * p               (2-D tensors only: Tensor::decays())
//   m  = lerp(m, g, 1 - beta1)               (= beta1 m + (1 - beta1) g)
//   v  = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with g = grad * grad_scale.

#include <cstdint>
#include <string>
#include <vector>

#include "pp/runtime/parameters.h"

namespace pp {

struct AdamWOptions {
  double lr = 6e-4;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
};

class AdamW {
 public:
  // State (zeros) for each tensor of `parameters`, which step() must be given again: the same
  // tensors (names and sizes) in the same order.
  AdamW(const ParameterSet& parameters, AdamWOptions options);

  // One update of every tensor from its grad times grad_scale (e.g. clip_scale(...), or a loss
  // scale's inverse); grads are read, not changed. Throws pp::Error(kInternal) when `parameters`
  // is not the set the optimizer was built for.
  void step(ParameterSet* parameters, float grad_scale = 1.0f);

  std::int64_t steps() const { return steps_; }  // updates done (PyTorch's "step")
  const AdamWOptions& options() const { return options_; }
  void set_lr(double lr) { options_.lr = lr; }  // for a learning-rate schedule

  // The state as tensors for a checkpoint: "<name>.exp_avg" and "<name>.exp_avg_sq" (the
  // parameter's shape, no grad) per parameter, and "adamw.step" (shape (1), the step count as a
  // float: exact up to 2^24 steps). The tensors of a fresh optimizer serve as a template to load
  // into.
  std::vector<Tensor> state_tensors() const;
  // The same state as views of the optimizer's own memory (no copy), in the same order and with
  // the same names; valid until the next step() or load_state().
  std::vector<TensorRef> state_refs() const;

  // Restores the state from tensors named as state_tensors() names them (other tensors are
  // ignored). Throws pp::Error(kInvalidInput) naming a missing or mis-sized tensor, or a bad step.
  void load_state(const ParameterSet& state);

 private:
  struct Slot {
    std::string name;
    std::vector<std::int64_t> shape;
    Shard shard;                            // the parameter's
    std::vector<std::int64_t> whole_shape;  // the parameter's
    std::vector<float> exp_avg;
    std::vector<float> exp_avg_sq;
  };
  void check_matches(const ParameterSet& parameters) const;
  void update(Tensor* parameter, Slot* slot, float grad_scale) const;

  AdamWOptions options_;
  std::vector<Slot> slots_;
  std::int64_t steps_ = 0;
  mutable float steps_as_float_ = 0;  // what state_refs() shows as "adamw.step"
};

// The sum over tensors of sum(grad^2), in double, leaving out the tensor named `skip` (a tied copy
// counted where the other copy is), and the replicated tensors unless `count_replicated` (a
// tensor-parallel rank other than the first: the first counts them). Across pipeline stages and
// tensor-parallel ranks, add the sums before taking clip_scale.
double squared_grad_norm(const ParameterSet& parameters, const std::string& skip = "", bool count_replicated = true);

// torch.nn.utils.clip_grad_norm_'s factor: min(1, max_norm / (sqrt(total_squared_norm) + 1e-6)).
// max_norm <= 0 disables clipping (returns 1). A non-finite norm gives a non-finite factor.
float clip_scale(double total_squared_norm, double max_norm);

}  // namespace pp
