#pragma once
// Helpers of the CUDA kernel tests: seeded random inputs, element-wise comparison with a stated
// tolerance, bitwise comparison (determinism), and a CUDA stream that is destroyed on scope exit.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda::test {

// n floats uniform in [lo, hi) from a fixed seed.
inline std::vector<float> random_vector(std::size_t n, std::uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  return kernel_test::random_floats(n, lo, hi, seed);
}

inline double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (const float x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

// Expects |actual[i] - expected[i]| <= atol + rtol * |expected[i]| for every i (NaN fails);
// reports the number of failures, the first and the worst.
inline void expect_all_near(const std::vector<float>& actual, const std::vector<float>& expected,
                            double atol, double rtol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  std::size_t failures = 0;
  std::size_t first = 0;
  std::size_t worst = 0;
  double worst_excess = 0.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double b = expected[i];
    const double diff = std::fabs(static_cast<double>(actual[i]) - b);
    const double tol = atol + rtol * std::fabs(b);
    if (!(diff <= tol)) {
      if (failures == 0) first = i;
      const double excess = std::isnan(diff) ? INFINITY : diff / tol;
      if (failures == 0 || excess > worst_excess) worst = i, worst_excess = excess;
      ++failures;
    }
  }
  if (failures > 0) {
    ADD_FAILURE() << what << ": " << failures << " of " << actual.size()
                  << " elements outside atol " << atol << " + rtol " << rtol << " * |expected|; "
                  << "first [" << first << "] " << actual[first] << " vs " << expected[first]
                  << ", worst [" << worst << "] " << actual[worst] << " vs " << expected[worst];
  }
}

inline void expect_bitwise_equal(const std::vector<float>& a, const std::vector<float>& b,
                                 const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
      << what << ": a second run gave different bits";
}

class TestStream {
 public:
  TestStream() { PP_CUDA_CHECK(cudaStreamCreate(&stream_)); }
  ~TestStream() { cudaStreamDestroy(stream_); }
  TestStream(const TestStream&) = delete;
  TestStream& operator=(const TestStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace pp::cuda::test
