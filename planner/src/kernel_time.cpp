#include "pp/planner/kernel_time.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "pp/error.h"

namespace pp {
namespace {

// Useful share of `waves` full waves of tm x tn tiles when covering an m x n output.
double wave_efficiency(double m, double n, double tm, double tn, int sms) {
  const double tiles = std::ceil(m / tm) * std::ceil(n / tn);
  const double waves = std::ceil(tiles / sms);
  return m * n / (waves * sms * tm * tn);
}

double quantisation(const GemmShape& g, const KernelEfficiency& k) {
  if (k.sm_count <= 0) return 1;
  // Batched products share the waves: their rows stack.
  const double m = g.m * g.batch;
  const double tm = k.tile_m, tn = k.tile_n;
  return std::max({wave_efficiency(m, g.n, tm, tn, k.sm_count),
                   wave_efficiency(m, g.n, tn, tm, k.sm_count),
                   0.9 * wave_efficiency(m, g.n, std::max(1.0, tm / 2), tn, k.sm_count)});
}

double launch_ms(const GpuSpec& gpu) { return gpu.kernels.kernel_launch_s * 1e3; }

double hbm_bytes_per_ms(const GpuSpec& gpu) { return attained_memory_bandwidth(gpu) / 1e3; }

// A ring collective of `passes` passes of n-1 steps over `bytes` (1: all-gather or
// reduce-scatter, 2: all-reduce).
double ring_ms(double bytes, int n, const LinkSpec& link, int passes) {
  if (n <= 1) return 0;
  return passes * (1.0 * (n - 1) / n * bytes / collective_bandwidth(link) + (n - 1) * link.latency_s) * 1e3;
}

double bf16_flops_per_ms(const GpuSpec& gpu) { return gpu.peak_flops.at("bf16") / 1e3; }

}  // namespace

double gemm_efficiency(const GemmShape& g, const GpuSpec& gpu, GemmPrecision precision) {
  // The fixed cost per tile is time: at FP8's faster rate it is worth more elements of k.
  const auto fp8 = gpu.peak_flops.find("fp8");
  const double rate = precision == GemmPrecision::kFp8 && fp8 != gpu.peak_flops.end()
                          ? fp8->second / gpu.peak_flops.at("bf16")
                          : 1.0;
  const double k_part = g.k / (g.k + rate * gpu.kernels.gemm_k_overhead);
  const double fraction = precision == GemmPrecision::kFp8 && gpu.kernels.fp8_fraction > 0
                              ? gpu.kernels.fp8_fraction
                              : gpu.achievable_fraction;
  return fraction * quantisation(g, gpu.kernels) * k_part;
}

double gemm_ms(const GemmShape& g, const GpuSpec& gpu, GemmPrecision precision) {
  if (g.flops() <= 0) return 0;
  if (precision == GemmPrecision::kBf16) {
    const double compute = g.flops() / (bf16_flops_per_ms(gpu) * gemm_efficiency(g, gpu));
    return std::max(compute, g.bytes() / hbm_bytes_per_ms(gpu)) + launch_ms(gpu);
  }
  const auto peak = gpu.peak_flops.find("fp8");
  if (peak == gpu.peak_flops.end()) {
    throw_invalid(fmt::format("--precision fp8: the cluster's GPU ({}) states no fp8 peak (peak_tflops.fp8)",
                              gpu.name));
  }
  const double compute = g.flops() / (peak->second / 1e3 * gemm_efficiency(g, gpu, precision));
  const double bytes = (g.m * g.k + g.k * g.n + 2 * g.m * g.n) * g.batch;  // 1-byte inputs, bf16 output
  return std::max(compute, bytes / hbm_bytes_per_ms(gpu)) + launch_ms(gpu);
}

double memory_bound_ms(double bytes, const GpuSpec& gpu) {
  return bytes <= 0 ? 0 : bytes / hbm_bytes_per_ms(gpu) + launch_ms(gpu);
}

double fused_attention_ms(double flops, const GpuSpec& gpu) {
  const double fraction = gpu.kernels.attention_fraction > 0 ? gpu.kernels.attention_fraction
                                                             : gpu.achievable_fraction / 2;
  return flops <= 0 ? 0 : flops / (bf16_flops_per_ms(gpu) * fraction) + launch_ms(gpu);
}

double collective_bandwidth(const LinkSpec& link) {
  return link.bus_bandwidth_bytes_per_s > 0 ? link.bus_bandwidth_bytes_per_s
                                            : link.bandwidth_bytes_per_s;
}

double attained_memory_bandwidth(const GpuSpec& gpu) {
  return gpu.memory_bandwidth_bytes_per_s * gpu.kernels.memory_fraction;
}

double all_reduce_ms(double bytes, int n, const LinkSpec& link) { return ring_ms(bytes, n, link, 2); }

double all_gather_ms(double bytes, int n, const LinkSpec& link) { return ring_ms(bytes, n, link, 1); }

}  // namespace pp
