// The CUDA LayerNorm kernels against cpu/layernorm.h: forward, the fused residual + forward,
// backward input and backward weight, on odd shapes; accumulation and run-to-run bits.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "cpu/layernorm.h"
#include "cuda/layernorm.cuh"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda {
namespace {

using kernel_test::DeviceArray;
using kernel_test::expect_close;
using kernel_test::expect_same_bits;
using kernel_test::kFloatRoundoff;
using kernel_test::random_floats;

struct Shape {
  int n;
  int c;
};
// Rows not a multiple of 8 (rows per block) or 32 (rows per chunk); c below, at and above the
// warp and block widths, 768 as GPT-2 small.
const Shape kShapes[] = {{1, 1}, {5, 77}, {130, 768}, {67, 1000}};

std::string name(const Shape& s) {
  return "n=" + std::to_string(s.n) + " c=" + std::to_string(s.c);
}

// Forward tolerance: mean and rstd come from double sums on both sides, so they agree to a
// possible 1-ulp flip of the float cast (6e-8 relative); the output (x - mean) * rstd * w + b
// may differ by the FMA contraction of one product of size <= 4 (|xhat| < 3, w < 1.5): 2.4e-7.
constexpr double kForwardAbs = 1e-6;
constexpr double kForwardRel = 1e-6;

struct Inputs {
  Inputs(const Shape& s, unsigned seed)
      : x(random_floats(static_cast<std::size_t>(s.n) * s.c, -1.5f, 2.5f, seed)),
        weight(random_floats(s.c, 0.5f, 1.5f, seed + 1)),
        bias(random_floats(s.c, -0.5f, 0.5f, seed + 2)),
        d_out(random_floats(x.size(), -1.0f, 1.0f, seed + 3)) {}
  std::vector<float> x, weight, bias, d_out;
};

TEST(CudaLayerNorm, ForwardMatchesCpu) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const Inputs in(s, 11);
    std::vector<float> out(in.x.size()), mean(s.n), rstd(s.n);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), in.x.data(), in.weight.data(),
                           in.bias.data(), s.n, s.c);
    DeviceArray<float> d_x(in.x), d_w(in.weight), d_b(in.bias);
    DeviceArray<float> d_out(out.size()), d_mean(mean.size()), d_rstd(rstd.size());
    launch_layernorm_forward(d_out.data(), d_mean.data(), d_rstd.data(), d_x.data(), d_w.data(),
                             d_b.data(), s.n, s.c, nullptr);
    const std::vector<float> first = d_out.download();
    expect_close(first, out, kForwardAbs, kForwardRel, "out");
    expect_close(d_mean.download(), mean, 0.0, 1.2e-7, "mean");  // a 1-ulp flip at most
    expect_close(d_rstd.download(), rstd, 0.0, 1.2e-7, "rstd");
    launch_layernorm_forward(d_out.data(), d_mean.data(), d_rstd.data(), d_x.data(), d_w.data(),
                             d_b.data(), s.n, s.c, nullptr);
    expect_same_bits(d_out.download(), first, "out, second run");
  }
}

TEST(CudaLayerNorm, ResidualForwardMatchesAddThenCpu) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const Inputs in(s, 21);
    const std::vector<float> b = random_floats(in.x.size(), -1.0f, 1.0f, 29);
    std::vector<float> residual(in.x.size());
    for (std::size_t i = 0; i < residual.size(); ++i) residual[i] = in.x[i] + b[i];
    std::vector<float> out(in.x.size()), mean(s.n), rstd(s.n);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), residual.data(), in.weight.data(),
                           in.bias.data(), s.n, s.c);
    // In place, as the residual stream uses it: residual_out is a.
    DeviceArray<float> d_a(in.x), d_bb(b), d_w(in.weight), d_bias(in.bias);
    DeviceArray<float> d_ln(out.size()), d_mean(mean.size()), d_rstd(rstd.size());
    launch_residual_layernorm_forward(d_a.data(), d_ln.data(), d_mean.data(), d_rstd.data(),
                                      d_a.data(), d_bb.data(), d_w.data(), d_bias.data(), s.n, s.c,
                                      nullptr);
    expect_same_bits(d_a.download(), residual, "residual_out");  // one float add: exact
    const std::vector<float> first = d_ln.download();
    expect_close(first, out, kForwardAbs, kForwardRel, "ln_out");
    expect_close(d_mean.download(), mean, 0.0, 1.2e-7, "mean");
    expect_close(d_rstd.download(), rstd, 0.0, 1.2e-7, "rstd");
    // Out of place, from fresh inputs: the same bits as the in-place run.
    DeviceArray<float> d_a2(in.x), d_res(residual.size());
    launch_residual_layernorm_forward(d_res.data(), d_ln.data(), d_mean.data(), d_rstd.data(),
                                      d_a2.data(), d_bb.data(), d_w.data(), d_bias.data(), s.n, s.c,
                                      nullptr);
    expect_same_bits(d_res.download(), residual, "residual_out, out of place");
    expect_same_bits(d_ln.download(), first, "ln_out, second run");
  }
}

TEST(CudaLayerNorm, BackwardInputAccumulatesAsCpu) {
  // Each row's two means are float sums of c terms of size <= 4.5 (|w dy| < 1.5, |xhat| < 3):
  // rounding errors of a sum grow like a random walk, about u * sqrt(c) * (partial sums of size
  // ~sqrt(c) * 4.5) = c u 4.5, i.e. u 4.5 after the division by c, for either order; dx scales
  // them by (1 + |xhat|) rstd < 4 * 0.9, and its own FMA contractions add ~u |terms|. With a
  // margin of 20: 1e-5 absolute, plus 1e-5 relative for the accumulated start values.
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const Inputs in(s, 31);
    std::vector<float> out(in.x.size()), mean(s.n), rstd(s.n);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), in.x.data(), in.weight.data(),
                           in.bias.data(), s.n, s.c);
    const std::vector<float> start = random_floats(in.x.size(), -1.0f, 1.0f, 37);
    std::vector<float> d_in = start;
    cpu::layernorm_backward_input(d_in.data(), in.d_out.data(), in.x.data(), mean.data(),
                                  rstd.data(), in.weight.data(), s.n, s.c);
    DeviceArray<float> dev_d_in(start), dev_dy(in.d_out), dev_x(in.x), dev_mean(mean),
        dev_rstd(rstd), dev_w(in.weight);
    launch_layernorm_backward_input(dev_d_in.data(), dev_dy.data(), dev_x.data(), dev_mean.data(),
                                    dev_rstd.data(), dev_w.data(), s.n, s.c, nullptr);
    const std::vector<float> first = dev_d_in.download();
    expect_close(first, d_in, 1e-5, 1e-5, "d_in");
    dev_d_in.upload(start);
    launch_layernorm_backward_input(dev_d_in.data(), dev_dy.data(), dev_x.data(), dev_mean.data(),
                                    dev_rstd.data(), dev_w.data(), s.n, s.c, nullptr);
    expect_same_bits(dev_d_in.download(), first, "d_in, second run");
  }
}

TEST(CudaLayerNorm, BackwardWeightAccumulatesAsCpu) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const Inputs in(s, 41);
    std::vector<float> out(in.x.size()), mean(s.n), rstd(s.n);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), in.x.data(), in.weight.data(),
                           in.bias.data(), s.n, s.c);
    const std::vector<float> start_w = random_floats(s.c, -1.0f, 1.0f, 43);
    const std::vector<float> start_b = random_floats(s.c, -1.0f, 1.0f, 47);
    std::vector<float> d_w = start_w, d_b = start_b, sums(2 * static_cast<std::size_t>(s.c));
    cpu::layernorm_backward_weight(d_w.data(), d_b.data(), in.d_out.data(), in.x.data(),
                                   mean.data(), rstd.data(), s.n, s.c, sums.data());
    DeviceArray<float> dev_dw(start_w), dev_db(start_b), dev_dy(in.d_out), dev_x(in.x),
        dev_mean(mean), dev_rstd(rstd);
    DeviceArray<float> scratch(layernorm_backward_weight_scratch_floats(s.n, s.c));
    const auto run = [&] {
      launch_layernorm_backward_weight(dev_dw.data(), dev_db.data(), dev_dy.data(), dev_x.data(),
                                       dev_mean.data(), dev_rstd.data(), s.n, s.c, scratch.data(),
                                       nullptr);
    };
    run();
    // Column sums of n terms of size <= 3 (|dy| < 1, |xhat| < 3) in float, in different orders
    // (CPU: row by row; GPU: chunks of 32, then the chunk sums). Rounding errors of a sum grow
    // like a random walk, about n u * 3 for either order; allowed 8 times that, plus 1e-6 for the
    // start value and the per-term FMA contractions.
    const double tol = 1e-6 + 8.0 * s.n * kFloatRoundoff * 3.0;
    const std::vector<float> first_w = dev_dw.download(), first_b = dev_db.download();
    expect_close(first_w, d_w, tol, 1e-6, "d_weight");
    expect_close(first_b, d_b, tol, 1e-6, "d_bias");
    dev_dw.upload(start_w);
    dev_db.upload(start_b);
    run();
    expect_same_bits(dev_dw.download(), first_w, "d_weight, second run");
    expect_same_bits(dev_db.download(), first_b, "d_bias, second run");
  }
}

}  // namespace
}  // namespace pp::cuda
