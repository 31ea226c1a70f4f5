#pragma once
// Shared pieces of the CUDA kernel tests that compare a launcher with its CPU function: a
// move-only device array (device_buffer.h), fixed-seed random inputs, and
// element-by-element comparisons that report the first mismatches. Host code only (g++).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"
#include "runtime/cuda/device_buffer.h"

namespace pp::cuda::kernel_test {

// float32's unit round-off, 2^-24: one correctly rounded operation errs by at most u * |result|.
inline constexpr double kFloatRoundoff = 1.0 / 16777216.0;

// n elements of device memory (tests/runtime/cuda/device_buffer.h).
template <class T>
using DeviceArray = test::DeviceBuffer<T>;

// n floats uniform in [lo, hi), the same for the same seed.
inline std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// n ints uniform in [lo, hi), the same for the same seed.
inline std::vector<std::int32_t> random_ints(std::size_t n, std::int32_t lo, std::int32_t hi,
                                             std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> dist(lo, hi - 1);
  std::vector<std::int32_t> v(n);
  for (std::int32_t& x : v) x = dist(rng);
  return v;
}

// Expects |gpu[i] - cpu[i]| <= abs_tol + rel_tol * |cpu[i]| for every i (NaN fails); reports
// the first five mismatches and the count.
inline void expect_close(const std::vector<float>& gpu, const std::vector<float>& cpu,
                         double abs_tol, double rel_tol, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(gpu[i]) - cpu[i]);
    if (!(diff <= abs_tol + rel_tol * std::fabs(static_cast<double>(cpu[i])))) {
      if (++bad <= 5) {
        ADD_FAILURE() << what << "[" << i << "]: gpu " << gpu[i] << " cpu " << cpu[i] << " diff "
                      << diff;
      }
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": elements outside |d| <= " << abs_tol << " + " << rel_tol
                     << " |cpu|";
}

// Expects the same bits in every element (determinism, or exact arithmetic).
inline void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b,
                             const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && ++bad <= 5) {
      ADD_FAILURE() << what << "[" << i << "]: " << a[i] << " vs " << b[i] << " (bits differ)";
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": elements whose bits differ";
}

}  // namespace pp::cuda::kernel_test
