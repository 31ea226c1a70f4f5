#pragma once
// One cuBLASLt product, column-major float32, for LtMatmul (matmul.cu, which derives each linear
// layer's products from row-major tensors). Host code only.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace pp::cuda {

// D (m, n) = alpha op(A) op(B) + beta D, then the epilogue. op(A) is (m, k), op(B) is (k, n);
// the stored A is (m, k), or (k, m) when transposed, with leading dimension lda (B likewise).
struct LtGemm {
  bool transpose_a = false;
  bool transpose_b = false;
  std::int64_t m = 0, n = 0, k = 0;  // op(A) (m, k), op(B) (k, n), D (m, n); column-major
  const float* a = nullptr;
  std::int64_t lda = 0;
  const float* b = nullptr;
  std::int64_t ldb = 0;
  float* d = nullptr;  // also C (in place)
  std::int64_t ldd = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const float* bias = nullptr;  // (m), with the *BIAS epilogues
  void* aux = nullptr;          // (m, n) with leading dimension ldd: GELU_AUX* writes, DGELU reads
};

// What a product runs with: LtMatmul's handle, workspace and compute type.
struct LtContext {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  bool allow_tf32 = false;  // CUBLAS_COMPUTE_32F_FAST_TF32, else CUBLAS_COMPUTE_32F
};

// Runs `gemm` on `stream`; false when cuBLASLt has no algorithm for it (e.g. an epilogue it does
// not offer for these shapes), in which case nothing was launched. Throws pp::Error on other
// failures. The algorithm is cuBLASLt's first heuristic choice for the shapes and the pointers'
// actual alignments: the same inputs give the same algorithm, hence the same bits.
bool try_lt_gemm(const LtContext& context, const LtGemm& gemm, cudaStream_t stream);

// The largest power of two, at most 256, dividing the address.
std::uint32_t alignment_of(const void* p);

}  // namespace pp::cuda
