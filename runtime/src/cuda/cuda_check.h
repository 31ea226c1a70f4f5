#pragma once
// Every CUDA runtime, cuBLAS/cuBLASLt and NCCL call goes through one of these macros; a failure
// throws pp::Error(kInternal) naming the call, the file and line, the MPI rank (-1 outside MPI)
// and the library's own error text. Kernel launches are followed by PP_CUDA_CHECK_LAUNCH().
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace pp::cuda {

// Throws pp::Error: "<call> failed at <file>:<line> on rank <r>: <what>".
[[noreturn]] void fail_call(const char* call, const char* file, int line, const char* what);
const char* cublas_status_text(cublasStatus_t status);

}  // namespace pp::cuda

#define PP_CUDA_CHECK(call)                                                                  \
  do {                                                                                       \
    const cudaError_t pp_cuda_status_ = (call);                                              \
    if (pp_cuda_status_ != cudaSuccess) {                                                    \
      ::pp::cuda::fail_call(#call, __FILE__, __LINE__, cudaGetErrorString(pp_cuda_status_)); \
    }                                                                                        \
  } while (0)

// After a <<<...>>> launch: reports a bad configuration (not the kernel's later faults, which
// surface at the next synchronising call).
#define PP_CUDA_CHECK_LAUNCH() PP_CUDA_CHECK(cudaGetLastError())

#define PP_CUBLAS_CHECK(call)                                                               \
  do {                                                                                      \
    const cublasStatus_t pp_cublas_status_ = (call);                                        \
    if (pp_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                       \
      ::pp::cuda::fail_call(#call, __FILE__, __LINE__,                                      \
                            ::pp::cuda::cublas_status_text(pp_cublas_status_));             \
    }                                                                                       \
  } while (0)
