#pragma once
// cuBLASLt, loaded when the first matrix product needs it (dlopen of libcublasLt.so.<major>)
// rather than linked: its ~0.5 GB library registers its kernels at load, which cost every pp
// command half a second of start-up (pp plan and pp simulate never use it). Call the API as
// cublaslt().Matmul(...). Throws pp::Error(kInvalidInput) naming the library when it cannot be
// loaded.
#include <cublasLt.h>

namespace pp::cuda {

struct CublasLtApi {
  decltype(&cublasLtCreate) Create;
  decltype(&cublasLtDestroy) Destroy;
  decltype(&cublasLtMatmul) Matmul;
  decltype(&cublasLtMatmulAlgoGetHeuristic) MatmulAlgoGetHeuristic;
  decltype(&cublasLtMatmulDescCreate) MatmulDescCreate;
  decltype(&cublasLtMatmulDescDestroy) MatmulDescDestroy;
  decltype(&cublasLtMatmulDescSetAttribute) MatmulDescSetAttribute;
  decltype(&cublasLtMatmulPreferenceCreate) MatmulPreferenceCreate;
  decltype(&cublasLtMatmulPreferenceDestroy) MatmulPreferenceDestroy;
  decltype(&cublasLtMatmulPreferenceSetAttribute) MatmulPreferenceSetAttribute;
  decltype(&cublasLtMatrixLayoutCreate) MatrixLayoutCreate;
  decltype(&cublasLtMatrixLayoutDestroy) MatrixLayoutDestroy;
};

// Loads the library once (thread-safe) and returns its entry points.
const CublasLtApi& cublaslt();

}  // namespace pp::cuda
