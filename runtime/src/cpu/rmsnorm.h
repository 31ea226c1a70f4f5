#pragma once
// RMSNorm over the last dimension (Llama; Hugging Face's LlamaRMSNorm): no mean is subtracted and
// there is no bias. n rows of c features.

namespace pp::cpu {

// out (n, c) = in * rstd * weight; saves rstd (n) = 1/sqrt(mean(in^2) + eps), the mean summed in
// double.
void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, int n, int c, float eps);

// d_in (n, c) += the gradient through the normalisation of d_out (n, c). Accumulates.
void rmsnorm_backward_input(float* d_in, const float* d_out, const float* in, const float* rstd,
                            const float* weight, int n, int c);

// d_weight (c) += sum over rows of d_out * in * rstd. Accumulates (each element once per call).
// sums (c): the caller's scratch for the sums, overwritten.
void rmsnorm_backward_weight(float* d_weight, const float* d_out, const float* in, const float* rstd, int n,
                             int c, float* sums);

}  // namespace pp::cpu
