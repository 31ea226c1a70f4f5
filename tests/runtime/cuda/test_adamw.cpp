// The multi-tensor CUDA AdamW against pp::AdamW::step: the same float operations in the same
// order, each correctly rounded on both sides (no FMA on the device; the host builds with
// -std=c++20, which turns GCC's FMA contraction off), so parameters and both moments must be
// bitwise equal after every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/adamw.cuh"
#include "pp/runtime/adamw.h"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda {
namespace {

using kernel_test::DeviceArray;
using kernel_test::expect_same_bits;
using kernel_test::random_floats;

// Odd sizes; 2-D tensors decay, the 1-D and 3-D ones do not; the last one is larger than the
// 1024 blocks x 256 threads the launcher uses per tensor, so its grid-stride loop wraps.
ParameterSet odd_parameters() {
  ParameterSet set;
  const std::vector<std::vector<std::int64_t>> shapes = {{37, 11}, {101}, {3, 5, 7}, {601, 500}};
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    std::size_t size = 1;
    for (std::int64_t d : shapes[i]) size *= static_cast<std::size_t>(d);
    set.tensors.push_back({"t" + std::to_string(i), shapes[i],
                           random_floats(size, -1.0f, 1.0f, 100 + static_cast<unsigned>(i)),
                           std::vector<float>(size, 0.0f)});
  }
  return set;
}

// The gradients of step `step`: uniform in (-1, 1), every 17th element zero.
void set_grads(ParameterSet* set, int step) {
  for (std::size_t i = 0; i < set->tensors.size(); ++i) {
    Tensor& t = set->tensors[i];
    t.grad = random_floats(t.size(), -1.0f, 1.0f, static_cast<unsigned>(1000 * step + i));
    for (std::size_t k = 0; k < t.grad.size(); k += 17) t.grad[k] = 0.0f;
  }
}

// One tensor's four device arrays.
struct DeviceTensor {
  explicit DeviceTensor(const Tensor& t)
      : param(t.data),
        grad(t.size()),
        exp_avg(std::vector<float>(t.size(), 0.0f)),
        exp_avg_sq(std::vector<float>(t.size(), 0.0f)) {}
  DeviceArray<float> param, grad, exp_avg, exp_avg_sq;
};

void check_optimizer(const AdamWOptions& options, float grad_scale) {
  ParameterSet set = odd_parameters();
  AdamW optimizer(set, options);
  std::vector<DeviceTensor> device;
  std::vector<AdamWTensor> descriptors;
  std::size_t max_count = 0;
  device.reserve(set.tensors.size());
  for (const Tensor& t : set.tensors) {
    DeviceTensor& d = device.emplace_back(t);
    descriptors.push_back({d.param.data(), d.grad.data(), d.exp_avg.data(), d.exp_avg_sq.data(),
                           t.size(), t.decays() ? 1 : 0});
    max_count = std::max(max_count, t.size());
  }
  DeviceArray<AdamWTensor> d_descriptors(descriptors);
  const int count = static_cast<int>(descriptors.size());
  for (int step = 1; step <= 3; ++step) {
    set_grads(&set, step);
    for (std::size_t i = 0; i < set.tensors.size(); ++i) device[i].grad.upload(set.tensors[i].grad);
    optimizer.step(&set, grad_scale);
    launch_adamw(d_descriptors.data(), count, max_count, adamw_scalars(options, step), grad_scale,
                 nullptr);
    const std::vector<Tensor> state = optimizer.state_tensors();  // exp_avg, exp_avg_sq per tensor
    for (std::size_t i = 0; i < set.tensors.size(); ++i) {
      const std::string what = "step " + std::to_string(step) + " " + set.tensors[i].name;
      expect_same_bits(device[i].param.download(), set.tensors[i].data, what + " param");
      expect_same_bits(device[i].exp_avg.download(), state[2 * i].data, what + " exp_avg");
      expect_same_bits(device[i].exp_avg_sq.download(), state[2 * i + 1].data,
                       what + " exp_avg_sq");
    }
  }
}

TEST(CudaAdamW, BitwiseAsCpuWithDecayAndGradScale) {
  check_optimizer(AdamWOptions{1e-2, 0.9, 0.95, 1e-8, 0.1}, 0.37f);
}

TEST(CudaAdamW, BitwiseAsCpuWithoutDecay) {
  check_optimizer(AdamWOptions{6e-4, 0.9, 0.999, 1e-8, 0.0}, 1.0f);
}

TEST(CudaAdamW, ScalarsAreTheHostsStepConstants) {
  const AdamWOptions o{1e-2, 0.9, 0.95, 1e-8, 0.1};
  const AdamWScalars s = adamw_scalars(o, 2);
  EXPECT_EQ(s.step_size, static_cast<float>(1e-2 / (1.0 - std::pow(0.9, 2.0))));
  EXPECT_EQ(s.decay, static_cast<float>(1.0 - 1e-2 * 0.1));
  EXPECT_EQ(s.one_minus_beta1, static_cast<float>(1.0 - 0.9));
  EXPECT_EQ(s.weight_decay_on, 1);
}

}  // namespace
}  // namespace pp::cuda
