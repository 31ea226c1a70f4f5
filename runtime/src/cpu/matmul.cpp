#include "matmul.h"

#include <cblas.h>

#include <algorithm>
#include <cstddef>

namespace pp::cpu {

void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void linear_forward(float* out, const float* in, const float* weight, const float* bias, int n, int in_dim,
                    int out_dim) {
  gemm(false, false, n, out_dim, in_dim, 1.0f, in, in_dim, weight, out_dim, 0.0f, out, out_dim);
  if (bias == nullptr) return;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    float* row = out + i * out_dim;
    for (int j = 0; j < out_dim; ++j) row[j] += bias[j];
  }
}

void linear_backward_input(float* d_in, const float* d_out, const float* weight, int n, int in_dim,
                           int out_dim) {
  gemm(false, true, n, in_dim, out_dim, 1.0f, d_out, out_dim, weight, out_dim, 0.0f, d_in, in_dim);
}

void linear_backward_weight(float* d_weight, float* d_bias, const float* in, const float* d_out, int n,
                            int in_dim, int out_dim, float* bias_sums) {
  gemm(true, false, in_dim, out_dim, n, 1.0f, in, in_dim, d_out, out_dim, 1.0f, d_weight, out_dim);
  if (d_bias != nullptr) bias_backward(d_bias, d_out, n, out_dim, bias_sums);
}

void bias_backward(float* d_bias, const float* d_out, int n, int out_dim, float* sums) {
  std::fill(sums, sums + out_dim, 0.0f);  // this call's sum, added once: d_bias += sum
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const float* row = d_out + i * out_dim;
    for (int j = 0; j < out_dim; ++j) sums[j] += row[j];
  }
  for (int j = 0; j < out_dim; ++j) d_bias[j] += sums[j];
}

void linear_t_forward(float* out, const float* in, const float* weight, int n, int in_dim, int out_dim) {
  gemm(false, true, n, out_dim, in_dim, 1.0f, in, in_dim, weight, in_dim, 0.0f, out, out_dim);
}

void linear_t_backward_input(float* d_in, const float* d_out, const float* weight, int n, int in_dim,
                             int out_dim) {
  gemm(false, false, n, in_dim, out_dim, 1.0f, d_out, out_dim, weight, in_dim, 0.0f, d_in, in_dim);
}

void linear_t_backward_input_add(float* d_in, const float* d_out, const float* weight, int n, int in_dim,
                                 int out_dim) {
  gemm(false, false, n, in_dim, out_dim, 1.0f, d_out, out_dim, weight, in_dim, 1.0f, d_in, in_dim);
}

void linear_t_backward_weight(float* d_weight, const float* in, const float* d_out, int n, int in_dim,
                              int out_dim) {
  gemm(true, false, out_dim, in_dim, n, 1.0f, d_out, out_dim, in, in_dim, 1.0f, d_weight, in_dim);
}

}  // namespace pp::cpu
