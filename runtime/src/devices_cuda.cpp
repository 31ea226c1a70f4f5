// probe_devices() for builds with CUDA: asks the driver, which may be absent.
#include <cuda_runtime.h>
#include <fmt/format.h>

#include "pp/runtime/devices.h"

namespace pp {

DeviceReport probe_devices() {
  DeviceReport report{true, 0, ""};
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    report.detail = fmt::format("no usable CUDA device: {}", cudaGetErrorString(status));
    return report;
  }
  report.cuda_devices = count;
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp props{};
    if (cudaGetDeviceProperties(&props, d) == cudaSuccess) {
      report.detail += fmt::format("{}{}: {} ({:.0f} GiB)", d ? ", " : "", d, props.name,
                                   props.totalGlobalMem / double(1 << 30));
    }
  }
  if (count == 0) report.detail = "no CUDA device";
  return report;
}

}  // namespace pp
