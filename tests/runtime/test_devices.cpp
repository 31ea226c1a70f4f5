// The device probe and a kernel run: with CUDA built and a GPU present, the fill kernel must
// produce the right values; without a GPU the test reports skipped (exit 77).
#include <fmt/format.h>

#include <string>

#include "pp/runtime/devices.h"

int main() {
  const pp::DeviceReport report = pp::probe_devices();
  fmt::print("cuda built: {}, devices: {} ({})\n", report.cuda_built, report.cuda_devices,
             report.detail);
  if (report.detail.empty()) return 1;
  if (!report.cuda_built || report.cuda_devices == 0) return 77;
  std::string detail;
  const bool ok = pp::device_self_test(&detail);
  fmt::print("self test: {} ({})\n", ok ? "passed" : "FAILED", detail);
  return ok ? 0 : 1;
}
