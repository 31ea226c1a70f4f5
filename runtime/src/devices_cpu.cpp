// probe_devices() for builds without CUDA.
#include "pp/runtime/devices.h"

namespace pp {

DeviceReport probe_devices() { return {false, 0, "built without CUDA (PP_ENABLE_CUDA=OFF)"}; }

bool device_self_test(std::string* detail) {
  *detail = "built without CUDA";
  return false;
}

}  // namespace pp
