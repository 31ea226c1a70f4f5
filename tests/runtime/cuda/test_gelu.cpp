// The CUDA GELU kernels against cpu/gelu.h: forward and backward, out of place and in place,
// on sizes that are not multiples of the block size; run-to-run bits.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "cpu/gelu.h"
#include "cuda/gelu.cuh"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda {
namespace {

using kernel_test::DeviceArray;
using kernel_test::expect_close;
using kernel_test::expect_same_bits;
using kernel_test::random_floats;

const std::size_t kSizes[] = {1, 255, 257, 100003};

// CUDA's tanhf errs by at most 2 ulp and glibc's by at most 2, so t = tanh(...) may differ by
// dt <= 4 * 2^-24 = 2.4e-7 (|t| < 1); the FMA contractions of the argument change it by a few
// ulp, damped by sech^2 <= 1 (<= ~2e-7 in t). Forward: 0.5 |x| (1 + t) with |x| < 4 errs by
// <= 2 * 4.4e-7 ~ 9e-7 absolute; allowed 2e-6 absolute plus 1e-6 relative (~8 ulp).
constexpr double kForwardAbs = 2e-6;
// Backward: sech^2 = 1 - t*t cancels, erring by 2 dt + u ~ 5.4e-7 absolute, and is multiplied by
// 0.5 |x| sqrt(2/pi) (1 + 3 * 0.044715 x^2) <= 5.0 at |x| = 4: <= 2.7e-6 (times |dy| < 1), plus
// 0.5 dt; allowed 6e-6 absolute plus 1e-6 relative.
constexpr double kBackwardAbs = 6e-6;
constexpr double kRel = 1e-6;

TEST(CudaGelu, ForwardMatchesCpu) {
  for (std::size_t n : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> x = random_floats(n, -4.0f, 4.0f, 3);
    std::vector<float> out(n);
    cpu::gelu_forward(out.data(), x.data(), n);
    DeviceArray<float> d_x(x), d_out(n);
    launch_gelu_forward(d_out.data(), d_x.data(), n, nullptr);
    const std::vector<float> first = d_out.download();
    expect_close(first, out, kForwardAbs, kRel, "out");
    launch_gelu_forward(d_x.data(), d_x.data(), n, nullptr);  // in place
    expect_same_bits(d_x.download(), first, "out, in place");
  }
}

TEST(CudaGelu, BackwardMatchesCpu) {
  for (std::size_t n : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> x = random_floats(n, -4.0f, 4.0f, 5);
    const std::vector<float> dy = random_floats(n, -1.0f, 1.0f, 7);
    std::vector<float> d_in(n, 123.0f);  // overwritten, not accumulated
    cpu::gelu_backward(d_in.data(), x.data(), dy.data(), n);
    DeviceArray<float> dev_x(x), dev_dy(dy), dev_d_in(std::vector<float>(n, 123.0f));
    launch_gelu_backward(dev_d_in.data(), dev_x.data(), dev_dy.data(), n, nullptr);
    const std::vector<float> first = dev_d_in.download();
    expect_close(first, d_in, kBackwardAbs, kRel, "d_in");
    launch_gelu_backward(dev_x.data(), dev_x.data(), dev_dy.data(), n, nullptr);  // d_in is in
    expect_same_bits(dev_x.download(), first, "d_in, in place over in");
    dev_x.upload(x);
    launch_gelu_backward(dev_dy.data(), dev_x.data(), dev_dy.data(), n, nullptr);  // d_in is d_out
    expect_same_bits(dev_dy.download(), first, "d_in, in place over d_out");
  }
}

}  // namespace
}  // namespace pp::cuda
