// probe_devices() for builds with CUDA: asks the driver, which may be absent.
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/fill.cuh"
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
      std::string id;
      for (char byte : props.uuid.bytes) id += fmt::format("{:02x}", static_cast<unsigned char>(byte));
      report.ids.push_back(id);
    }
  }
  if (count == 0) report.detail = "no CUDA device";
  return report;
}

bool device_self_test(std::string* detail) {
  const DeviceReport report = probe_devices();
  if (report.cuda_devices == 0) {
    *detail = report.detail;
    return false;
  }
  constexpr std::size_t kCount = 1 << 20;
  float* buffer = nullptr;
  PP_CUDA_CHECK(cudaSetDevice(0));
  PP_CUDA_CHECK(cudaMalloc(&buffer, kCount * sizeof(float)));
  cudaStream_t stream = nullptr;
  PP_CUDA_CHECK(cudaStreamCreate(&stream));
  cuda::launch_fill(buffer, kCount, 1.5f, stream);
  PP_CUDA_CHECK(cudaGetLastError());
  std::vector<float> host(kCount);
  PP_CUDA_CHECK(cudaMemcpyAsync(host.data(), buffer, kCount * sizeof(float),
                                cudaMemcpyDeviceToHost, stream));
  PP_CUDA_CHECK(cudaStreamSynchronize(stream));
  PP_CUDA_CHECK(cudaStreamDestroy(stream));
  PP_CUDA_CHECK(cudaFree(buffer));
  for (std::size_t i = 0; i < kCount; ++i) {
    if (host[i] != 1.5f) {
      *detail = fmt::format("element {} is {} after filling with 1.5", i, host[i]);
      return false;
    }
  }
  *detail = fmt::format("filled and checked {} floats on {}", kCount, report.detail);
  return true;
}

}  // namespace pp
