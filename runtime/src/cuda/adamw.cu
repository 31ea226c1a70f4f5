#include <algorithm>
#include <cmath>

#include "cuda/adamw.cuh"
#include "cuda/cuda_check.h"

namespace pp::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr std::size_t kMaxChunks = 1024;  // blocks per tensor; each block strides over the rest

// torch.lerp's float kernel as the host computes it, each operation rounded once.
__device__ float lerp_rn(float self, float end, float weight) {
  return weight < 0.5f ? __fadd_rn(self, __fmul_rn(weight, __fsub_rn(end, self)))
                       : __fsub_rn(end, __fmul_rn(__fsub_rn(end, self), __fsub_rn(1.0f, weight)));
}

// Block (chunk, tensor): a grid-stride loop over the tensor's elements.
__global__ void adamw_kernel(const AdamWTensor* tensors, AdamWScalars s, float grad_scale) {
  const AdamWTensor d = tensors[blockIdx.y];
  const bool decays = d.decays != 0 && s.weight_decay_on != 0;
  for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < d.count;
       k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float g = __fmul_rn(d.grad[k], grad_scale);
    float x = d.param[k];
    if (decays) x = __fmul_rn(x, s.decay);
    const float m = lerp_rn(d.exp_avg[k], g, s.one_minus_beta1);
    float v = __fmul_rn(d.exp_avg_sq[k], s.beta2);
    v = __fadd_rn(v, __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), s.correction2_sqrt), s.eps);
    x = __fadd_rn(x, __fdiv_rn(__fmul_rn(-s.step_size, m), denom));
    d.exp_avg[k] = m;
    d.exp_avg_sq[k] = v;
    d.param[k] = x;
  }
}

}  // namespace

AdamWScalars adamw_scalars(const AdamWOptions& options, std::int64_t step) {
  // The same expressions as AdamW::update.
  const double t = static_cast<double>(step);
  const double correction1 = 1.0 - std::pow(options.beta1, t);
  AdamWScalars s;
  s.correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(options.beta2, t)));
  s.step_size = static_cast<float>(options.lr / correction1);
  s.decay = static_cast<float>(1.0 - options.lr * options.weight_decay);
  s.one_minus_beta1 = static_cast<float>(1.0 - options.beta1);
  s.beta2 = static_cast<float>(options.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - options.beta2);
  s.eps = static_cast<float>(options.eps);
  s.weight_decay_on = options.weight_decay != 0.0 ? 1 : 0;
  return s;
}

void launch_adamw(const AdamWTensor* tensors, int num_tensors, std::size_t max_count,
                  const AdamWScalars& scalars, float grad_scale, cudaStream_t stream) {
  if (num_tensors <= 0 || max_count == 0) return;
  const std::size_t chunks = std::min((max_count + kThreads - 1) / kThreads, kMaxChunks);
  const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(num_tensors));
  adamw_kernel<<<grid, kThreads, 0, stream>>>(tensors, scalars, grad_scale);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
