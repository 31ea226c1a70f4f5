// probe_devices() for builds without CUDA.
#include "pp/runtime/devices.h"

namespace pp {

DeviceReport probe_devices() { return {false, 0, "built without CUDA (PP_ENABLE_CUDA=OFF)"}; }

}  // namespace pp
