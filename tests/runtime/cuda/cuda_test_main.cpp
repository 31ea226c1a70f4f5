// The CUDA tests' main: exit 77 (ctest: skipped) where this build has no usable GPU, else every
// test. Tests compare a CUDA kernel with the CPU backend's function on the same inputs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pp/runtime/devices.h"

int main(int argc, char** argv) {
  const pp::DeviceReport report = pp::probe_devices();
  if (!report.cuda_built || report.cuda_devices == 0) {
    fmt::print("skipped: {}\n", report.detail);
    return 77;
  }
  fmt::print("devices: {}\n", report.detail);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
