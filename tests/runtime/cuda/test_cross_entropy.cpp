// The fused CUDA classifier loss against cpu::softmax_cross_entropy_forward / _backward (scale
// 1): the logit gradient, the per-row losses, their device sum, and run-to-run bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/cross_entropy.h"
#include "cuda/cross_entropy.cuh"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda {
namespace {

using kernel_test::DeviceArray;
using kernel_test::expect_close;
using kernel_test::expect_same_bits;
using kernel_test::random_floats;
using kernel_test::random_ints;

struct Shape {
  int n, v;
};
// Vocabularies below, across and far above the 512-thread block (GPT-2's 50257, odd).
const Shape kShapes[] = {{1, 1}, {3, 37}, {7, 1000}, {5, 50257}};

// One row at a time: the CPU's loss of row i alone, so per-row losses can be compared.
std::vector<float> cpu_row_losses(std::vector<float> logits, const std::vector<std::int32_t>& t,
                                  int n, int v) {
  std::vector<float> losses(n);
  std::vector<double> stats;
  for (int i = 0; i < n; ++i) {
    losses[i] = static_cast<float>(cpu::softmax_cross_entropy_forward(
        logits.data() + static_cast<std::size_t>(i) * v, t.data() + i, {0, v}, 1, cpu::TensorParallel(), &stats));
  }
  return losses;
}

TEST(CudaCrossEntropy, FusedMatchesCpuForwardAndBackward) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE("n=" + std::to_string(s.n) + " V=" + std::to_string(s.v));
    const std::size_t size = static_cast<std::size_t>(s.n) * s.v;
    const std::vector<float> logits = random_floats(size, -8.0f, 8.0f, 1);
    const std::vector<std::int32_t> targets = random_ints(s.n, 0, s.v, 2);
    std::vector<float> grad = logits;
    std::vector<double> stats;
    const double cpu_total =
        cpu::softmax_cross_entropy_forward(grad.data(), targets.data(), {0, s.v}, s.n, cpu::TensorParallel(), &stats);
    cpu::softmax_cross_entropy_backward(grad.data(), targets.data(), {0, s.v}, 1.0f, s.n);
    const std::vector<float> cpu_losses = cpu_row_losses(logits, targets, s.n, s.v);

    DeviceArray<float> d_logits(logits), d_losses(s.n);
    DeviceArray<std::int32_t> d_targets(targets);
    DeviceArray<double> d_total(1);
    launch_cross_entropy_fused(d_logits.data(), d_losses.data(), d_targets.data(), s.n, s.v,
                               nullptr);
    launch_loss_sum(d_total.data(), d_losses.data(), s.n, nullptr);
    const std::vector<float> gpu_grad = d_logits.download();
    const std::vector<float> gpu_losses = d_losses.download();
    // Gradient: exp(x - max) * (float)(1 / sum), then -1 at the target. CUDA's expf errs by <= 2
    // ulp and glibc's by <= 1, so each exp differs by <= 3 ulp (1.8e-7 relative), the double sum
    // of them (and its float reciprocal) by no more, and the product adds one rounding: <= ~4.2e-7
    // relative; 1e-6 relative, and 5e-7 absolute for the target entries p - 1 (which may be
    // small while p's error, 4.2e-7 p, is not).
    expect_close(gpu_grad, grad, 5e-7, 1e-6, "d_logits");
    // Losses: log(sum) - (target - max) in double on both sides (the float difference is the
    // same), then rounded to float; the sums differ by <= 1.8e-7 relative (above), so the logs
    // by <= 1.8e-7 absolute: 1e-6 absolute plus 1e-6 relative.
    expect_close(gpu_losses, cpu_losses, 1e-6, 1e-6, "losses");
    // The total: each float loss carries 1e-6 + 1e-6 |loss|, so n of them together.
    const double total = d_total.download()[0];
    EXPECT_NEAR(total, cpu_total, s.n * (1e-6 + 1e-6 * std::fabs(cpu_total / s.n)) + 1e-12);

    DeviceArray<float> again(logits);
    launch_cross_entropy_fused(again.data(), d_losses.data(), d_targets.data(), s.n, s.v, nullptr);
    launch_loss_sum(d_total.data(), d_losses.data(), s.n, nullptr);
    expect_same_bits(again.download(), gpu_grad, "d_logits, second run");
    expect_same_bits(d_losses.download(), gpu_losses, "losses, second run");
    EXPECT_EQ(d_total.download()[0], total) << "total, second run";
  }
}

TEST(CudaCrossEntropy, LossSumAddsManyLossesInDouble) {
  // More losses than the sum's 1024 threads, not a multiple of them.
  const int n = 5000;
  const std::vector<float> losses = random_floats(n, 0.0f, 11.0f, 3);
  double host = 0.0;
  for (float x : losses) host += x;
  DeviceArray<float> d_losses(losses);
  DeviceArray<double> d_total(1);
  launch_loss_sum(d_total.data(), d_losses.data(), n, nullptr);
  const double total = d_total.download()[0];
  // n positive doubles (exact float values) summed in two orders: each errs by at most
  // (n - 1) 2^-53 relative.
  EXPECT_NEAR(total, host, 2.0 * n * std::ldexp(1.0, -53) * host);
  launch_loss_sum(d_total.data(), d_losses.data(), n, nullptr);
  EXPECT_EQ(d_total.download()[0], total) << "second run";
}

TEST(CudaCrossEntropy, TargetOutOfRangeGivesNaNLossNotAFault) {
  const int v = 9;
  const std::vector<float> logits = random_floats(2 * v, -1.0f, 1.0f, 4);
  DeviceArray<float> d_logits(logits), d_losses(2);
  DeviceArray<std::int32_t> d_targets(std::vector<std::int32_t>{v, 3});
  launch_cross_entropy_fused(d_logits.data(), d_losses.data(), d_targets.data(), 2, v, nullptr);
  const std::vector<float> losses = d_losses.download();
  EXPECT_TRUE(std::isnan(losses[0]));
  EXPECT_TRUE(std::isfinite(losses[1]));
  const std::vector<float> grad = d_logits.download();
  double row_sum = 0.0;  // the plain softmax: sums to 1
  for (int j = 0; j < v; ++j) row_sum += grad[j];
  EXPECT_NEAR(row_sum, 1.0, 1e-6);
}

}  // namespace
}  // namespace pp::cuda
