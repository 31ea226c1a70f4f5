// LtMatmul (cuBLASLt linear layers) against the CPU backend's cpu/matmul.h and cpu/gelu.h.
//
// Tolerance of a product summed over k terms (fp32, allow_tf32 = false): every element within
// 1e-5 * sqrt(k) * max|reference|. Both sides round each of the k additions (u = 6e-8); the
// error grows like a random walk, ~u * sqrt(k) * (the partial sums, which are below max|ref|
// here), so 1e-5 (~170 u) covers different summation orders (OpenBLAS's blocking, cuBLASLt's
// tiles and split-K, FMA) with a wide margin, while a wrong index or transpose is off by
// O(max|ref|).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <ostream>
#include <vector>

#include "cpu/gelu.h"
#include "cpu/matmul.h"
#include "cuda/matmul.cuh"
#include "runtime/cuda/device_buffer.h"
#include "runtime/cuda/kernel_test_util.h"

namespace pp::cuda::test {
namespace {

struct LinearShape {
  int n;
  int in;
  int out;
};
void PrintTo(const LinearShape& s, std::ostream* os) {
  *os << "n=" << s.n << " in=" << s.in << " out=" << s.out;
}

double gemm_atol(int k, const std::vector<float>& reference) {
  return 1e-5 * std::sqrt(static_cast<double>(k)) * max_abs(reference);
}

// GELU evaluated by the GPU against the CPU's formula on the same pre-GELU values: our kernel
// uses tanhf as the CPU does (a few ulp apart: 4e-6 absolute covers 0.5 |x| ulp(1) for |x| < 8);
// cuBLASLt's epilogue may use a faster tanh, so 5e-5, still 10x below the largest difference
// between the tanh form and the erf form of GELU (4.7e-4 at x = -2.7): the fused path must be
// the tanh form GPT-2 uses.
double gelu_atol(bool fused) { return fused ? 5e-5 : 4e-6; }

std::size_t count(const LinearShape& s, int cols) { return static_cast<std::size_t>(s.n) * cols; }

class LinearTest : public ::testing::TestWithParam<LinearShape> {
 protected:
  // Weights scaled by 2/sqrt(in) so that pre-activations stay within a few units (where GELU
  // bends), inputs and biases in [-1, 1).
  void SetUp() override {
    const LinearShape& s = GetParam();
    x_ = random_vector(count(s, s.in), 11);
    w_ = random_vector(static_cast<std::size_t>(s.in) * s.out, 12);
    const float w_scale = 2.0f / std::sqrt(static_cast<float>(s.in));
    for (float& v : w_) v *= w_scale;
    bias_ = random_vector(static_cast<std::size_t>(s.out), 13);
    dy_ = random_vector(count(s, s.out), 14);
  }

  std::vector<float> x_, w_, bias_, dy_;
  TestStream stream_;
};

TEST_P(LinearTest, ForwardMatchesCpuWithAndWithoutBias) {
  const LinearShape& s = GetParam();
  LtMatmul mm;
  const DeviceBuffer<float> x(x_), w(w_), bias(bias_);
  for (const bool with_bias : {true, false}) {
    std::vector<float> ref(count(s, s.out));
    cpu::linear_forward(ref.data(), x_.data(), w_.data(), with_bias ? bias_.data() : nullptr, s.n,
                        s.in, s.out);
    DeviceBuffer<float> y(std::vector<float>(ref.size(), std::numeric_limits<float>::quiet_NaN()));
    mm.linear_forward(y.data(), x.data(), w.data(), with_bias ? bias.data() : nullptr, s.n, s.in,
                      s.out, stream_.get());
    const std::vector<float> got = y.download();
    expect_all_near(got, ref, gemm_atol(s.in, ref), 0.0, with_bias ? "y (bias)" : "y (no bias)");
    mm.linear_forward(y.data(), x.data(), w.data(), with_bias ? bias.data() : nullptr, s.n, s.in,
                      s.out, stream_.get());
    expect_bitwise_equal(y.download(), got, "y");
  }
}

TEST_P(LinearTest, Tf32ForwardIsClose) {
  // TF32 rounds both inputs to 10-bit mantissas: each product is off by up to ~2^-10 relative,
  // a random walk over k terms, ~1e-3 of max|ref| at most here; 4e-3 * max|ref| is the bound.
  const LinearShape& s = GetParam();
  LtMatmul mm(LtMatmulOptions{.allow_tf32 = true});
  std::vector<float> ref(count(s, s.out));
  cpu::linear_forward(ref.data(), x_.data(), w_.data(), bias_.data(), s.n, s.in, s.out);
  const DeviceBuffer<float> x(x_), w(w_), bias(bias_);
  DeviceBuffer<float> y(ref.size());
  mm.linear_forward(y.data(), x.data(), w.data(), bias.data(), s.n, s.in, s.out, stream_.get());
  expect_all_near(y.download(), ref, 4e-3 * max_abs(ref), 0.0, "y (tf32)");
}

TEST_P(LinearTest, ForwardGeluMatchesCpuFusedAndUnfused) {
  const LinearShape& s = GetParam();
  std::vector<float> pre_ref(count(s, s.out));
  cpu::linear_forward(pre_ref.data(), x_.data(), w_.data(), bias_.data(), s.n, s.in, s.out);
  const DeviceBuffer<float> x(x_), w(w_), bias(bias_);
  for (const bool fused : {true, false}) {
    LtMatmul mm(LtMatmulOptions{.fuse_gelu = fused});
    DeviceBuffer<float> y(pre_ref.size()), pre(pre_ref.size());
    mm.linear_forward_gelu(y.data(), pre.data(), x.data(), w.data(), bias.data(), s.n, s.in, s.out,
                           stream_.get());
    const std::vector<float> got_pre = pre.download();
    const std::vector<float> got_y = y.download();
    expect_all_near(got_pre, pre_ref, gemm_atol(s.in, pre_ref), 0.0, "pre_gelu");
    std::vector<float> y_ref(got_pre.size());
    cpu::gelu_forward(y_ref.data(), got_pre.data(), got_pre.size());
    expect_all_near(got_y, y_ref, gelu_atol(fused), 1e-5, fused ? "gelu (fused)" : "gelu");
    mm.linear_forward_gelu(y.data(), pre.data(), x.data(), w.data(), bias.data(), s.n, s.in, s.out,
                           stream_.get());
    expect_bitwise_equal(y.download(), got_y, "gelu output");
    std::printf("[   info   ] n=%d in=%d out=%d fuse_gelu=%d: %zu of 2 calls unfused\n", s.n, s.in,
                s.out, fused ? 1 : 0, mm.gelu_fallbacks());
  }
}

TEST_P(LinearTest, BackwardInputMatchesCpuWithAlpha) {
  const LinearShape& s = GetParam();
  std::vector<float> ref(count(s, s.in));
  cpu::linear_backward_input(ref.data(), dy_.data(), w_.data(), s.n, s.in, s.out);
  LtMatmul mm;
  const DeviceBuffer<float> dy(dy_), w(w_);
  DeviceBuffer<float> dx(std::vector<float>(ref.size(), std::numeric_limits<float>::quiet_NaN()));
  mm.linear_backward_input(dx.data(), dy.data(), w.data(), s.n, s.in, s.out, stream_.get());
  const std::vector<float> got = dx.download();
  expect_all_near(got, ref, gemm_atol(s.out, ref), 0.0, "dx");
  // alpha scales the product: alpha = 2.5 against the CPU's result times 2.5.
  mm.linear_backward_input(dx.data(), dy.data(), w.data(), s.n, s.in, s.out, stream_.get(), 2.5f);
  std::vector<float> scaled = ref;
  for (float& v : scaled) v *= 2.5f;
  expect_all_near(dx.download(), scaled, gemm_atol(s.out, scaled), 0.0, "dx (alpha 2.5)");
  mm.linear_backward_input(dx.data(), dy.data(), w.data(), s.n, s.in, s.out, stream_.get());
  expect_bitwise_equal(dx.download(), got, "dx");
}

TEST_P(LinearTest, BackwardInputGeluMatchesCpuFusedAndUnfused) {
  const LinearShape& s = GetParam();
  // The layer's input was gelu(pre), pre (n, in) in a few units.
  const std::vector<float> pre_host = random_vector(count(s, s.in), 15, -4.0f, 4.0f);
  std::vector<float> linear(count(s, s.in)), ref(count(s, s.in));
  cpu::linear_backward_input(linear.data(), dy_.data(), w_.data(), s.n, s.in, s.out);
  cpu::gelu_backward(ref.data(), pre_host.data(), linear.data(), ref.size());
  const DeviceBuffer<float> dy(dy_), w(w_), pre(pre_host);
  for (const bool fused : {true, false}) {
    LtMatmul mm(LtMatmulOptions{.fuse_gelu = fused});
    DeviceBuffer<float> dx(ref.size());
    mm.linear_backward_input_gelu(dx.data(), dy.data(), w.data(), pre.data(), s.n, s.in, s.out,
                                  stream_.get());
    const std::vector<float> got = dx.download();
    // gelu' <= 1.13 scales the product's error; the GELU derivative's own error scales |linear|.
    const double atol = 1.2 * gemm_atol(s.out, linear) + gelu_atol(fused) * max_abs(linear);
    expect_all_near(got, ref, atol, 0.0, fused ? "dx through gelu (fused)" : "dx through gelu");
    mm.linear_backward_input_gelu(dx.data(), dy.data(), w.data(), pre.data(), s.n, s.in, s.out,
                                  stream_.get());
    expect_bitwise_equal(dx.download(), got, "dx through gelu");
  }
}

TEST_P(LinearTest, BackwardWeightAccumulatesLikeCpu) {
  const LinearShape& s = GetParam();
  // Start from non-zero gradients: the call must add to them.
  const std::vector<float> dw0 = random_vector(static_cast<std::size_t>(s.in) * s.out, 16);
  const std::vector<float> db0 = random_vector(static_cast<std::size_t>(s.out), 17);
  std::vector<float> dw_ref = dw0, db_ref = db0, sums_ref(static_cast<std::size_t>(s.out));
  cpu::linear_backward_weight(dw_ref.data(), db_ref.data(), x_.data(), dy_.data(), s.n, s.in,
                              s.out, sums_ref.data());
  LtMatmul mm;
  const DeviceBuffer<float> x(x_), dy(dy_);
  std::vector<float> first_dw, first_db;
  for (int run = 0; run < 2; ++run) {
    DeviceBuffer<float> dw(dw0), db(db0), sums(sums_ref.size());
    mm.linear_backward_weight(dw.data(), db.data(), x.data(), dy.data(), s.n, s.in, s.out,
                              sums.data(), stream_.get());
    const std::vector<float> got_dw = dw.download(), got_db = db.download();
    if (run == 0) {
      expect_all_near(got_dw, dw_ref, gemm_atol(s.n, dw_ref), 0.0, "d_weight");
      expect_all_near(got_db, db_ref, gemm_atol(s.n, db_ref), 0.0, "d_bias");
      expect_all_near(sums.download(), sums_ref, gemm_atol(s.n, sums_ref), 0.0, "bias_sums");
      first_dw = got_dw, first_db = got_db;
    } else {
      expect_bitwise_equal(got_dw, first_dw, "d_weight");
      expect_bitwise_equal(got_db, first_db, "d_bias");
    }
  }
}

TEST_P(LinearTest, BackwardWeightWithAlphaAndNoBias) {
  const LinearShape& s = GetParam();
  const float alpha = 0.5f;
  const std::vector<float> dw0 = random_vector(static_cast<std::size_t>(s.in) * s.out, 18);
  std::vector<float> dw_ref = dw0;
  cpu::gemm(true, false, s.in, s.out, s.n, alpha, x_.data(), s.in, dy_.data(), s.out, 1.0f,
            dw_ref.data(), s.out);
  LtMatmul mm;
  const DeviceBuffer<float> x(x_), dy(dy_);
  DeviceBuffer<float> dw(dw0);
  mm.linear_backward_weight(dw.data(), nullptr, x.data(), dy.data(), s.n, s.in, s.out, nullptr,
                            stream_.get(), alpha);
  expect_all_near(dw.download(), dw_ref, gemm_atol(s.n, dw_ref), 0.0, "d_weight (alpha 0.5)");

  // d_bias += alpha * column sums, with the sums themselves unscaled in the scratch.
  const std::vector<float> db0 = random_vector(static_cast<std::size_t>(s.out), 19);
  std::vector<float> db_ref = db0, sums_ref(static_cast<std::size_t>(s.out), 0.0f);
  for (int i = 0; i < s.n; ++i) {
    for (int j = 0; j < s.out; ++j) sums_ref[j] += dy_[static_cast<std::size_t>(i) * s.out + j];
  }
  for (int j = 0; j < s.out; ++j) db_ref[j] += alpha * sums_ref[j];
  DeviceBuffer<float> dw2(dw0), db(db0), sums(sums_ref.size());
  mm.linear_backward_weight(dw2.data(), db.data(), x.data(), dy.data(), s.n, s.in, s.out,
                            sums.data(), stream_.get(), alpha);
  expect_all_near(db.download(), db_ref, gemm_atol(s.n, db_ref), 0.0, "d_bias (alpha 0.5)");
  expect_all_near(sums.download(), sums_ref, gemm_atol(s.n, sums_ref), 0.0, "bias_sums");
}

// GPT-2-like and odd shapes; (19, 13, 7) has leading dimensions that cuBLASLt's GELU epilogues
// do not take (not multiples of 8), so the unfused path runs there even with fuse_gelu on.
INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(LinearShape{37, 24, 72}, LinearShape{64, 768, 2304},
                                           LinearShape{19, 13, 7}, LinearShape{1, 16, 8},
                                           LinearShape{130, 96, 40}));

}  // namespace
}  // namespace pp::cuda::test
