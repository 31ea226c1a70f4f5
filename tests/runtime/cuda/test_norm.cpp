// The CUDA multi-tensor squared norm against pp::squared_grad_norm, and its run-to-run bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "cuda/norm.cuh"
#include "pp/runtime/adamw.h"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda {
namespace {

using kernel_test::DeviceArray;
using kernel_test::random_floats;

// Every square g * g of a float is exact in double (48 significant bits), and all terms are
// positive, so any order of adding N of them errs by at most (N - 1) 2^-53 relative (first
// order); the CPU's order and the GPU's differ by at most twice that.
double tolerance(std::size_t terms, double sum) {
  return 2.0 * static_cast<double>(terms) * std::ldexp(1.0, -53) * sum;
}

TEST(CudaSquaredNorm, MatchesCpuAndRepeatsBitForBit) {
  // Sizes: one element, odd, empty, and more than 64 blocks x 256 threads (strided); values
  // over several magnitudes.
  const std::size_t sizes[] = {1, 1001, 0, 100003, 77};
  const float scales[] = {1.0f, 1e-3f, 1.0f, 30.0f, 1e-6f};
  ParameterSet set;
  std::vector<DeviceArray<float>> device;
  std::vector<NormTensor> descriptors;
  std::size_t terms = 0;
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    std::vector<float> grad = random_floats(sizes[i], -scales[i], scales[i], 7 + static_cast<unsigned>(i));
    set.tensors.push_back({"t" + std::to_string(i), {static_cast<std::int64_t>(sizes[i])}, grad, grad});
    DeviceArray<float>& d = device.emplace_back(grad);
    descriptors.push_back({d.data(), sizes[i]});
    terms += sizes[i];
  }
  const double cpu = squared_grad_norm(set);
  DeviceArray<NormTensor> d_descriptors(descriptors);
  const int count = static_cast<int>(descriptors.size());
  DeviceArray<double> scratch(squared_norm_scratch_doubles(count)), total(1);
  launch_squared_norm(total.data(), d_descriptors.data(), count, scratch.data(), nullptr);
  const double gpu = total.download()[0];
  EXPECT_NEAR(gpu, cpu, tolerance(terms, cpu));
  launch_squared_norm(total.data(), d_descriptors.data(), count, scratch.data(), nullptr);
  EXPECT_EQ(total.download()[0], gpu) << "second run";
}

TEST(CudaSquaredNorm, NoTensorsGiveZero) {
  DeviceArray<double> total(std::vector<double>{42.0});
  launch_squared_norm(total.data(), nullptr, 0, nullptr, nullptr);
  EXPECT_EQ(total.download()[0], 0.0);
}

}  // namespace
}  // namespace pp::cuda
