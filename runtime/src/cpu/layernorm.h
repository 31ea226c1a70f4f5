#pragma once
// LayerNorm over the last dimension (GPT-2: eps 1e-5, biased variance). n rows of c features.

namespace pp::cpu {

inline constexpr float kLayerNormEps = 1e-5f;

// out (n, c) = (in - mean) * rstd * weight + bias; saves mean (n) and rstd (n) = 1/sqrt(var + eps).
void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                       const float* bias, int n, int c);

// d_in (n, c) += the gradient through the normalisation of d_out (n, c). Accumulates.
void layernorm_backward_input(float* d_in, const float* d_out, const float* in, const float* mean,
                              const float* rstd, const float* weight, int n, int c);

// d_weight (c) += sum over rows of d_out * xhat; d_bias (c) += sum over rows of d_out. Accumulates
// (each element once per call). sums (2c): the caller's scratch for the two sums, overwritten.
void layernorm_backward_weight(float* d_weight, float* d_bias, const float* d_out, const float* in,
                               const float* mean, const float* rstd, int n, int c, float* sums);

}  // namespace pp::cpu
