#pragma once
// How long one GPU kernel or collective takes on a cluster's hardware, from its shape or its bytes
// and the GPU's KernelEfficiency (docs/cost-model.md, "Time"). Milliseconds throughout; bf16
// operands (2 bytes per element).

#include "pp/cluster.h"

namespace pp {

// `batch` independent products of an (m x k) by a (k x n) matrix (batch 1: one GEMM).
struct GemmShape {
  double m = 0, n = 0, k = 0;
  double batch = 1;
  double flops() const { return 2 * m * n * k * batch; }
  double bytes() const { return 2 * (m * k + k * n + m * n) * batch; }
};

// What a GEMM's operands are: bf16, or FP8 (Transformer Engine's recipe: FP8 inputs, bf16 output,
// fp32 accumulation) at the GPU's fp8 peak and fp8_fraction.
enum class GemmPrecision { kBf16, kFp8 };

// The fraction of the bf16 peak a GEMM of this shape attains: achievable_fraction, times the wave
// quantisation of its output tiles over the SMs (the better of the file's tile and its transpose,
// or half-height tiles at 0.9 of their rate, as cuBLAS picks among kernels), times
// k / (k + gemm_k_overhead). In (0, achievable_fraction].
double gemm_efficiency(const GemmShape& shape, const GpuSpec& gpu,
                       GemmPrecision precision = GemmPrecision::kBf16);

// A GEMM: the slower of its arithmetic at gemm_efficiency and its operands' traffic at the
// attained HBM bandwidth, plus one launch gap.
// FP8 needs the GPU's "fp8" peak (pp::Error kInvalidInput naming the GPU when it has none).
double gemm_ms(const GemmShape& shape, const GpuSpec& gpu, GemmPrecision precision = GemmPrecision::kBf16);

// An elementwise or reduction kernel moving `bytes` through HBM (reads plus writes), plus one
// launch gap.
double memory_bound_ms(double bytes, const GpuSpec& gpu);

// A fused (flash) attention kernel doing `flops` at attention_fraction of the bf16 peak (half of
// achievable_fraction when the file does not say), plus one launch gap.
double fused_attention_ms(double flops, const GpuSpec& gpu);

// NCCL-style ring collectives over n GPUs on `link`, at its bus bandwidth: an all-reduce of
// `bytes` moves 2(n-1)/n of them through each GPU in 2(n-1) steps; an all-gather whose result is
// `bytes` (or a reduce-scatter whose input is) moves (n-1)/n of them in n-1 steps. 0 for n <= 1.
double all_reduce_ms(double bytes, int n, const LinkSpec& link);
double all_gather_ms(double bytes, int n, const LinkSpec& link);

// The HBM bandwidth elementwise kernels attain: memory_bandwidth x memory_fraction (bytes/s).
double attained_memory_bandwidth(const GpuSpec& gpu);

// The link's bus bandwidth, or its bandwidth where none is stated (bytes/s).
double collective_bandwidth(const LinkSpec& link);

}  // namespace pp
