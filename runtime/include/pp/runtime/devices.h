#pragma once
// What accelerators this build of pp can use here. The runtime is the only module that talks to
// CUDA; everything else asks through this header.

#include <string>

namespace pp {

struct DeviceReport {
  bool cuda_built = false;  // compiled with PP_ENABLE_CUDA
  int cuda_devices = 0;     // usable CUDA devices now (0 when none or no driver)
  std::string detail;       // one line: device names, or why there are none
};

DeviceReport probe_devices();

}  // namespace pp
