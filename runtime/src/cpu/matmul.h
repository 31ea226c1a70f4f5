#pragma once
// Matrix products of the CPU backend, all through OpenBLAS's cblas_sgemm. Row-major float32.
// Linear layers follow GPT-2's Conv1D: weights are (in, out) and y = x W + b. `n` is the number
// of rows (b * T tokens).

namespace pp::cpu {

// c (m, n) = alpha * op(a) op(b) + beta * c, row-major with leading dimensions; op(a) (m, k),
// op(b) (k, n). A thin wrapper of cblas_sgemm.
void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);

// out (n, out) = in (n, in) @ weight (in, out) + bias (out); bias may be null. Overwrites out.
void linear_forward(float* out, const float* in, const float* weight, const float* bias, int n, int in_dim,
                    int out_dim);

// d_in (n, in) = d_out (n, out) @ weight^T. Overwrites d_in.
void linear_backward_input(float* d_in, const float* d_out, const float* weight, int n, int in_dim,
                           int out_dim);

// d_weight (in, out) += in^T (in, n) @ d_out (n, out); d_bias (out) += column sums of d_out
// (skipped when null). Accumulates. bias_sums (out): the caller's scratch for the sums (each sum
// is formed on its own and added once), overwritten; unused when d_bias is null.
void linear_backward_weight(float* d_weight, float* d_bias, const float* in, const float* d_out, int n,
                            int in_dim, int out_dim, float* bias_sums);

// d_bias (out) += column sums of d_out (n, out); sums (out): the caller's scratch, overwritten.
void bias_backward(float* d_bias, const float* d_out, int n, int out_dim, float* sums);

// Linear layers as Hugging Face's nn.Linear stores them (Llama): weight (out, in), y = x W^T, no
// bias.

// out (n, out) = in (n, in) @ weight^T, weight (out, in). Overwrites out.
void linear_t_forward(float* out, const float* in, const float* weight, int n, int in_dim, int out_dim);

// d_in (n, in) = d_out (n, out) @ weight (out, in). Overwrites d_in.
void linear_t_backward_input(float* d_in, const float* d_out, const float* weight, int n, int in_dim,
                             int out_dim);

// d_in (n, in) += d_out (n, out) @ weight (out, in). Accumulates (the input gradient of a tensor
// read by several linears: Llama's q/k/v and gate/up projections).
void linear_t_backward_input_add(float* d_in, const float* d_out, const float* weight, int n, int in_dim,
                                 int out_dim);

// d_weight (out, in) += d_out^T (out, n) @ in (n, in). Accumulates.
void linear_t_backward_weight(float* d_weight, const float* in, const float* d_out, int n, int in_dim,
                              int out_dim);

}  // namespace pp::cpu
