#pragma once
// PP_CUDA_CHECK: every CUDA runtime call goes through it; a failure throws pp::Error naming the
// call, the file and line, and the error string.
#include <cuda_runtime.h>
#include <fmt/format.h>

#include "pp/error.h"

#define PP_CUDA_CHECK(call)                                                                  \
  do {                                                                                       \
    const cudaError_t pp_cuda_status_ = (call);                                              \
    if (pp_cuda_status_ != cudaSuccess) {                                                    \
      throw ::pp::Error(::pp::ErrorCategory::kInternal,                                      \
                        fmt::format("{} failed at {}:{}: {}", #call, __FILE__, __LINE__,     \
                                    cudaGetErrorString(pp_cuda_status_)));                   \
    }                                                                                        \
  } while (0)
