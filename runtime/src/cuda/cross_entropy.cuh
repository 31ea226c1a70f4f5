#pragma once
// The classifier's softmax cross-entropy on the GPU, forward and backward fused: the logits are
// turned into their gradient in place, and the normalised probabilities are never stored apart.
// float32 device memory, all work queued on `stream`. Deterministic (fixed reduction orders).
#include <cuda_runtime.h>

#include <cstdint>

namespace pp::cuda {

// One block per row i of logits (n, V), in place:
//   losses[i]    = logsumexp(logits[i]) - logits[i, targets[i]]     (float, from a double sum)
//   logits[i, j] = softmax(logits[i])[j] - (j == targets[i])         (NOT scaled)
// i.e. cpu::softmax_cross_entropy_forward's per-row terms and cpu::softmax_cross_entropy_backward
// with scale 1; the caller applies its loss scale (e.g. 1 / (b*T)) as the next GEMM's alpha.
// Overwrites logits and losses (n). targets (n) int32 device should lie in [0, V); a row whose
// target does not gets loss NaN and the plain softmax as its gradient (nothing out of bounds).
void launch_cross_entropy_fused(float* logits, float* losses, const std::int32_t* targets, int n,
                                int v, cudaStream_t stream);

// *total (one double, device) = the sum of losses (n), added in double in a fixed order (one block
// of 1024 threads, each summing a fixed stride, then a fixed tree). Overwrites *total.
void launch_loss_sum(double* total, const float* losses, int n, cudaStream_t stream);

}  // namespace pp::cuda
