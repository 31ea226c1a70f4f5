// The CUDA elementwise sums against the host's float additions: one IEEE addition per element,
// so the results must be bitwise equal; sizes not multiples of the block size; aliasing.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "cuda/add.cuh"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda {
namespace {

using kernel_test::DeviceArray;
using kernel_test::expect_same_bits;
using kernel_test::random_floats;

const std::size_t kSizes[] = {1, 255, 257, 100003};

std::vector<float> host_sum(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

TEST(CudaAdd, AddIsExact) {
  for (std::size_t n : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> a = random_floats(n, -10.0f, 10.0f, 1);
    const std::vector<float> b = random_floats(n, -1e-3f, 1e-3f, 2);
    DeviceArray<float> d_a(a), d_b(b), d_out(std::vector<float>(n, 7.0f));
    launch_add(d_out.data(), d_a.data(), d_b.data(), n, nullptr);
    expect_same_bits(d_out.download(), host_sum(a, b), "out");
    launch_add(d_a.data(), d_a.data(), d_b.data(), n, nullptr);  // out aliases a
    expect_same_bits(d_a.download(), host_sum(a, b), "out = a + b in place");
  }
}

TEST(CudaAdd, AccumulateIsExact) {
  for (std::size_t n : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> y = random_floats(n, -10.0f, 10.0f, 3);
    const std::vector<float> x = random_floats(n, -1.0f, 1.0f, 4);
    DeviceArray<float> d_y(y), d_x(x);
    launch_accumulate(d_y.data(), d_x.data(), n, nullptr);
    launch_accumulate(d_y.data(), d_x.data(), n, nullptr);
    expect_same_bits(d_y.download(), host_sum(host_sum(y, x), x), "y += x twice");
  }
}

}  // namespace
}  // namespace pp::cuda
