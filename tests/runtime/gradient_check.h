#pragma once
// Gradient checks for the CPU layer tests: random inputs, central finite differences of a scalar
// objective, and the comparison of an analytic gradient with them.
//
// Tolerance (test_stage_model.cpp and the Llama tests): central differences with step
// h = 1e-2 max(1, |v|) have a truncation error O(h^2) ~ 1e-4 relative for smooth functions of O(1)
// inputs, and a float32 objective adds noise of ~ 1e-7 |objective| / h ~ 1e-5; so
// |analytic - numeric| <= 2e-3 |numeric| + 1e-5 (2-norms) leaves a margin of ten over both and
// still catches any wrong term, which is O(1) relative.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace pp::test {

inline constexpr double kGradientTolerance = 2e-3;

// n values uniform in [-scale, scale], the same for the same seed.
inline std::vector<float> random_floats(std::size_t n, float scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

inline double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// Central differences of `objective` with respect to each entry of *values (restored after).
inline std::vector<double> numeric_gradient(const std::function<double()>& objective, std::vector<float>* values) {
  std::vector<double> g(values->size());
  for (std::size_t i = 0; i < values->size(); ++i) {
    const float original = (*values)[i];
    const float h = 1e-2f * std::fmax(1.0f, std::fabs(original));
    (*values)[i] = original + h;
    const float up = (*values)[i];
    const double f_up = objective();
    (*values)[i] = original - h;
    const float down = (*values)[i];
    const double f_down = objective();
    (*values)[i] = original;
    g[i] = (f_up - f_down) / (double(up) - double(down));
  }
  return g;
}

// |analytic - numeric| (2-norm); analytic and numeric have the same length.
inline double difference_norm(const std::vector<float>& analytic, const std::vector<double>& numeric) {
  std::vector<double> diff(numeric.size());
  for (std::size_t i = 0; i < numeric.size(); ++i) diff[i] = analytic[i] - numeric[i];
  return norm(diff);
}

// |analytic - numeric| <= kGradientTolerance |numeric| + 1e-5. PP_GRADCHECK_VERBOSE=1 prints each
// relative error.
inline void expect_gradient_close(const std::vector<float>& analytic, const std::vector<double>& numeric,
                                  const std::string& what) {
  ASSERT_EQ(analytic.size(), numeric.size()) << what;
  const double diff = difference_norm(analytic, numeric);
  const double reference = norm(numeric);
  EXPECT_LE(diff, kGradientTolerance * reference + 1e-5)
      << what << ": |analytic - numeric| " << diff << ", |numeric| " << reference;
  if (std::getenv("PP_GRADCHECK_VERBOSE") != nullptr) {
    std::printf("%-44s relative error %.2e, |numeric| %.3e\n", what.c_str(), diff / (reference + 1e-30), reference);
  }
}

}  // namespace pp::test
