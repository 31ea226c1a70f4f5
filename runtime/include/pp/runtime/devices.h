#pragma once
// What accelerators this build of pp can use here. The runtime is the only module that talks to
// CUDA; everything else asks through this header.

#include <string>
#include <vector>

namespace pp {

struct DeviceReport {
  bool cuda_built = false;  // compiled with PP_ENABLE_CUDA
  int cuda_devices = 0;     // usable CUDA devices now (0 when none or no driver)
  std::string detail;       // one line: device names, or why there are none
  std::vector<std::string> ids;  // each usable device's UUID (hex), to count distinct GPUs per node
};

DeviceReport probe_devices();

// Runs a kernel on device 0 (fills a buffer, copies it back, checks every value).
// Returns false with the reason in *detail when there is no device or the check fails.
bool device_self_test(std::string* detail);

}  // namespace pp
