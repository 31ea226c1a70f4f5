#pragma once
// GPT-2's linear layers on cuBLASLt: the CUDA twins of cpu/matmul.h. Row-major float32 device
// memory; weights are (in, out) and y = x W + b (GPT-2's Conv1D); `n` is the number of rows
// (b * T tokens). Every call is asynchronous on the `stream` it is given.
//
// One LtMatmul owns a cuBLASLt handle and one workspace (allocated once, in the constructor):
// calls on one LtMatmul must not run concurrently on different streams (they share the
// workspace); use one LtMatmul per stream.
//
// Determinism: cuBLASLt picks the same algorithm for the same shapes, pointer alignments and
// options, and its algorithms give the same bits on every run on one GPU model; the bias
// gradient is a fixed-order column sum of our own (no atomics).
//
// GELU is GPT-2's tanh approximation, as in cpu/gelu.h. The fused variants use cuBLASLt's GELU
// epilogues where cuBLASLt offers them for the shape (its GELU is the tanh form); otherwise, or
// with fuse_gelu = false, the GEMM is followed by an elementwise kernel with the CPU's formula.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

struct LtGemm;  // one cuBLASLt product in column-major terms (matmul_gemm.cuh)

struct LtMatmulOptions {
  // false: CUBLAS_COMPUTE_32F (fp32 products and sums, comparable with the CPU backend);
  // true: CUBLAS_COMPUTE_32F_FAST_TF32 (tensor cores, inputs rounded to 10-bit mantissas).
  bool allow_tf32 = false;
  // Use cuBLASLt's GELU epilogues (GELU_AUX_BIAS, DGELU) where available.
  bool fuse_gelu = true;
  std::size_t workspace_bytes = std::size_t{32} << 20;
};

class LtMatmul {
 public:
  explicit LtMatmul(const LtMatmulOptions& options = {});
  ~LtMatmul();
  LtMatmul(const LtMatmul&) = delete;
  LtMatmul& operator=(const LtMatmul&) = delete;

  const LtMatmulOptions& options() const { return options_; }
  // How many GELU-fused calls, with fuse_gelu on, found no cuBLASLt epilogue for their shape and
  // ran unfused (same results, one more kernel).
  std::size_t gelu_fallbacks() const { return gelu_fallbacks_; }

  // out (n, out) = in (n, in) @ weight (in, out) + bias (out); bias may be null. Overwrites out.
  void linear_forward(float* out, const float* in, const float* weight, const float* bias, int n,
                      int in_dim, int out_dim, cudaStream_t stream);

  // pre_gelu (n, out) = in @ weight + bias (bias may be null), saved for the backward;
  // out (n, out) = gelu(pre_gelu). Overwrites both; out and pre_gelu must not overlap.
  void linear_forward_gelu(float* out, float* pre_gelu, const float* in, const float* weight,
                           const float* bias, int n, int in_dim, int out_dim, cudaStream_t stream);

  // d_in (n, in) = alpha * d_out (n, out) @ weight^T. Overwrites d_in.
  void linear_backward_input(float* d_in, const float* d_out, const float* weight, int n,
                             int in_dim, int out_dim, cudaStream_t stream, float alpha = 1.0f);

  // d_in (n, in) = (alpha * d_out (n, out) @ weight^T) * gelu'(pre_gelu (n, in)): the input
  // gradient of a linear whose input was gelu(pre_gelu), through the GELU. Overwrites d_in;
  // d_in and pre_gelu must not overlap.
  void linear_backward_input_gelu(float* d_in, const float* d_out, const float* weight,
                                  const float* pre_gelu, int n, int in_dim, int out_dim,
                                  cudaStream_t stream, float alpha = 1.0f);

  // d_weight (in, out) += alpha * in^T (in, n) @ d_out (n, out). Accumulates.
  // d_bias (out) += alpha * column sums of d_out (skipped when d_bias is null); the sums are
  // formed in bias_sums (out) (the caller's scratch, overwritten with the unscaled sums; unused
  // when d_bias is null), each in a fixed order, then added once.
  void linear_backward_weight(float* d_weight, float* d_bias, const float* in, const float* d_out,
                              int n, int in_dim, int out_dim, float* bias_sums,
                              cudaStream_t stream, float alpha = 1.0f);

 private:
  // Runs `gemm`; false when cuBLASLt has no algorithm for it (e.g. an epilogue it does not
  // offer for these shapes), in which case nothing was launched. Throws on other failures.
  bool try_gemm(const LtGemm& gemm, cudaStream_t stream);

  LtMatmulOptions options_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;  // options_.workspace_bytes of device memory
  std::size_t gelu_fallbacks_ = 0;
};

}  // namespace pp::cuda
