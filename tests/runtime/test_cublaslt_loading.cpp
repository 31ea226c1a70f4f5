// cuBLASLt is loaded on first use, not at start-up: pp itself does not link it (so pp plan and pp
// simulate start fast), and the loader finds it and every entry point pp calls. Needs no GPU.
#include <gtest/gtest.h>

#ifdef PP_WITH_CUDA
#include "cuda/cublaslt_api.h"

TEST(CublasLt, LoadsOnFirstUseWithEveryEntryPoint) {
  const pp::cuda::CublasLtApi& api = pp::cuda::cublaslt();
  EXPECT_NE(api.Create, nullptr);
  EXPECT_NE(api.Matmul, nullptr);
  EXPECT_NE(api.MatrixLayoutDestroy, nullptr);
  EXPECT_EQ(&pp::cuda::cublaslt(), &api);  // once
}
#endif
