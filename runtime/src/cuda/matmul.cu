#include "matmul.cuh"

#include <cstddef>

#include "cuda/cublaslt_api.h"
#include "cuda_check.h"
#include "gelu.cuh"
#include "matmul_epilogue.cuh"
#include "matmul_gemm.cuh"
#include "pp/error.h"

namespace pp::cuda {

// Row-major tensors, column-major cuBLASLt. A row-major (r, c) matrix with leading dimension c
// is, byte for byte, the column-major (c, r) matrix (its transpose) with the same leading
// dimension. So each row-major product below is computed as its transpose, column-major:
//
// Forward Y = X W; Y (n, out), X (n, in), W (in, out)  <=>  Y^T (out, n) = W^T X^T:
//   m = out, n = n, k = in; A = W's buffer read as (out, in), lda = out, not transposed;
//   B = X's buffer read as (in, n), ldb = in, not transposed; D = Y's buffer as (out, n),
//   ldd = out.
//   The bias (out) runs along D's rows, which is how CUBLASLT_EPILOGUE_BIAS broadcasts it.
// Backward input dX = dY W^T; dX (n, in)  <=>  dX^T (in, n) = W (in, out) dY^T (out, n):
//   m = in, n = n, k = out; A = W's buffer stored as (out, in), lda = out, TRANSPOSED (op(A) is
//   (in, out)); B = dY's buffer as (out, n), ldb = out; D = dX's buffer as (in, n), ldd = in.
// Backward weight dW += X^T dY; dW (in, out)  <=>  dW^T (out, in) += dY^T (out, n) X (n, in):
//   m = out, n = in, k = n; A = dY's buffer as (out, n), lda = out, not transposed; B = X's buffer
//   stored as (in, n), ldb = in, TRANSPOSED (op(B) is (n, in)); D = dW's buffer as (out, in),
//   ldd = out; beta = 1 (C = D, in place).
// The GELU epilogues' aux matrix (pre_gelu) has D's shape and leading dimension.

namespace {

// The three products of a linear layer, as derived at the top of this file.
LtGemm forward_gemm(float* out, const float* in, const float* weight, int n, int in_dim,
                    int out_dim) {
  LtGemm g;
  g.m = out_dim, g.n = n, g.k = in_dim;
  g.a = weight, g.lda = out_dim;
  g.b = in, g.ldb = in_dim;
  g.d = out, g.ldd = out_dim;
  return g;
}

LtGemm backward_input_gemm(float* d_in, const float* d_out, const float* weight, int n,
                           int in_dim, int out_dim, float alpha) {
  LtGemm g;
  g.transpose_a = true;
  g.m = in_dim, g.n = n, g.k = out_dim;
  g.a = weight, g.lda = out_dim;
  g.b = d_out, g.ldb = out_dim;
  g.d = d_in, g.ldd = in_dim;
  g.alpha = alpha;
  return g;
}

LtGemm backward_weight_gemm(float* d_weight, const float* in, const float* d_out, int n,
                            int in_dim, int out_dim, float alpha) {
  LtGemm g;
  g.transpose_b = true;
  g.m = out_dim, g.n = in_dim, g.k = n;
  g.a = d_out, g.lda = out_dim;
  g.b = in, g.ldb = in_dim;
  g.d = d_weight, g.ldd = out_dim;
  g.alpha = alpha;
  g.beta = 1.0f;  // accumulate into d_weight
  return g;
}

// cuBLASLt's GELU aux matrix needs a leading dimension divisible by 8; we also ask for a
// 16-byte aligned aux pointer before trying the fused epilogue.
bool aux_usable(const void* aux, int ld) { return ld % 8 == 0 && alignment_of(aux) >= 16; }

void check_dims(int n, int in_dim, int out_dim) {
  if (n < 0 || in_dim <= 0 || out_dim <= 0) {
    throw Error(ErrorCategory::kInternal, "LtMatmul: dimensions must be positive (n >= 0)");
  }
}

}  // namespace

LtMatmul::LtMatmul(const LtMatmulOptions& options) : options_(options) {
  PP_CUBLAS_CHECK(cublaslt().Create(&handle_));
  if (options_.workspace_bytes > 0) {
    const cudaError_t status = cudaMalloc(&workspace_, options_.workspace_bytes);
    if (status != cudaSuccess) {
      cublaslt().Destroy(handle_);
      fail_call("cudaMalloc(&workspace_, options_.workspace_bytes)", __FILE__, __LINE__,
                cudaGetErrorString(status));
    }
  }
}

LtMatmul::~LtMatmul() {
  if (workspace_ != nullptr) cudaFree(workspace_);  // no throw from a destructor
  if (handle_ != nullptr) cublaslt().Destroy(handle_);
}

bool LtMatmul::try_gemm(const LtGemm& gemm, cudaStream_t stream) {
  const LtContext context{handle_, workspace_, options_.workspace_bytes, options_.allow_tf32};
  return try_lt_gemm(context, gemm, stream);
}

void LtMatmul::linear_forward(float* out, const float* in, const float* weight, const float* bias,
                              int n, int in_dim, int out_dim, cudaStream_t stream) {
  check_dims(n, in_dim, out_dim);
  if (n == 0) return;
  LtGemm g = forward_gemm(out, in, weight, n, in_dim, out_dim);
  if (bias != nullptr) {
    g.epilogue = CUBLASLT_EPILOGUE_BIAS;
    g.bias = bias;
  }
  if (!try_gemm(g, stream)) {
    throw Error(ErrorCategory::kInternal, "cuBLASLt offers no algorithm for linear_forward");
  }
}

void LtMatmul::linear_forward_gelu(float* out, float* pre_gelu, const float* in,
                                   const float* weight, const float* bias, int n, int in_dim,
                                   int out_dim, cudaStream_t stream) {
  check_dims(n, in_dim, out_dim);
  if (n == 0) return;
  if (options_.fuse_gelu) {
    LtGemm g = forward_gemm(out, in, weight, n, in_dim, out_dim);
    g.epilogue = bias != nullptr ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
    g.bias = bias;
    g.aux = pre_gelu;
    if (aux_usable(pre_gelu, out_dim) && try_gemm(g, stream)) return;
    ++gelu_fallbacks_;
  }
  // Unfused: the product (and bias) into pre_gelu, then out = gelu(pre_gelu).
  linear_forward(pre_gelu, in, weight, bias, n, in_dim, out_dim, stream);
  launch_gelu_forward(out, pre_gelu, static_cast<std::size_t>(n) * out_dim, stream);
}

void LtMatmul::linear_backward_input(float* d_in, const float* d_out, const float* weight, int n,
                                     int in_dim, int out_dim, cudaStream_t stream, float alpha) {
  check_dims(n, in_dim, out_dim);
  if (n == 0) return;
  if (!try_gemm(backward_input_gemm(d_in, d_out, weight, n, in_dim, out_dim, alpha), stream)) {
    throw Error(ErrorCategory::kInternal, "cuBLASLt offers no algorithm for linear_backward_input");
  }
}

void LtMatmul::linear_backward_input_gelu(float* d_in, const float* d_out, const float* weight,
                                          const float* pre_gelu, int n, int in_dim, int out_dim,
                                          cudaStream_t stream, float alpha) {
  check_dims(n, in_dim, out_dim);
  if (n == 0) return;
  if (options_.fuse_gelu) {
    LtGemm g = backward_input_gemm(d_in, d_out, weight, n, in_dim, out_dim, alpha);
    g.epilogue = CUBLASLT_EPILOGUE_DGELU;
    g.aux = const_cast<float*>(pre_gelu);  // read, not written, by DGELU
    if (aux_usable(pre_gelu, in_dim) && try_gemm(g, stream)) return;
    ++gelu_fallbacks_;
  }
  // Unfused: the product into d_in, then d_in *= gelu'(pre_gelu).
  linear_backward_input(d_in, d_out, weight, n, in_dim, out_dim, stream, alpha);
  launch_gelu_backward(d_in, pre_gelu, d_in, static_cast<std::size_t>(n) * in_dim, stream);
}

void LtMatmul::linear_backward_weight(float* d_weight, float* d_bias, const float* in,
                                      const float* d_out, int n, int in_dim, int out_dim,
                                      float* bias_sums, cudaStream_t stream, float alpha) {
  check_dims(n, in_dim, out_dim);
  if (n > 0 &&
      !try_gemm(backward_weight_gemm(d_weight, in, d_out, n, in_dim, out_dim, alpha), stream)) {
    throw Error(ErrorCategory::kInternal,
                "cuBLASLt offers no algorithm for linear_backward_weight");
  }
  if (d_bias != nullptr) launch_bias_grad(d_bias, bias_sums, d_out, n, out_dim, alpha, stream);
}

}  // namespace pp::cuda
