#pragma once
// AdamW on the GPU: every tensor of a stage updated by ONE launch (multi-tensor), bit for bit the
// float arithmetic of pp::AdamW::update (runtime/src/adamw.cpp; its header states the formulas):
// the kernel uses only correctly rounded single operations (__fmul_rn, __fadd_rn, __fdiv_rn,
// __fsqrt_rn: no FMA contraction) in the same order as the host code.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "pp/runtime/adamw.h"

namespace pp::cuda {

// One tensor to update: four arrays of `count` floats in device memory. The launcher reads an
// array of these from device memory (the caller uploads it once; the pointers stay valid).
struct AdamWTensor {
  float* param = nullptr;       // (count) updated in place
  const float* grad = nullptr;  // (count) read only
  float* exp_avg = nullptr;     // (count) first moment, updated in place
  float* exp_avg_sq = nullptr;  // (count) second moment, updated in place
  std::size_t count = 0;
  int decays = 0;  // nonzero: weight decay applies (Tensor::decays(): 2-D only)
};

// The per-step constants of AdamW::update for step t (1-based), computed on the host in double
// and cast to float exactly as it does.
struct AdamWScalars {
  float step_size = 0;        // lr / (1 - beta1^t)
  float decay = 1;            // 1 - lr * weight_decay
  float one_minus_beta1 = 0;  // the lerp weight
  float beta2 = 0;
  float one_minus_beta2 = 0;
  float eps = 0;
  float correction2_sqrt = 1;  // sqrt(1 - beta2^t)
  int weight_decay_on = 0;     // weight_decay != 0
};
AdamWScalars adamw_scalars(const AdamWOptions& options, std::int64_t step);

// For each tensor d of tensors (num_tensors, device) and k < d.count, with g = grad * grad_scale:
//   param = param * decay (if d.decays), exp_avg = lerp(exp_avg, g, 1 - beta1),
//   exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g,
//   param += -step_size * exp_avg / (sqrt(exp_avg_sq) / correction2_sqrt + eps).
// max_count >= every d.count (sizes the grid: (chunks of max_count, num_tensors); num_tensors
// <= 65535). Elementwise, so deterministic; the tensors must not overlap.
void launch_adamw(const AdamWTensor* tensors, int num_tensors, std::size_t max_count,
                  const AdamWScalars& scalars, float grad_scale, cudaStream_t stream);

}  // namespace pp::cuda
