#include "cpu/layernorm.h"
#include "cuda/cuda_check.h"
#include "cuda/layernorm.cuh"
#include "cuda/reduce.cuh"

namespace pp::cuda {
namespace {

constexpr int kRowThreads = 256;  // one warp per row: 8 rows per block
constexpr int kRowsPerBlock = kRowThreads / kWarpSize;
constexpr int kColumnThreads = 256;
constexpr int kRowsPerChunk = 32;  // rows one thread sums in backward_weight's first pass

unsigned row_blocks(int n) {
  return static_cast<unsigned>((n + kRowsPerBlock - 1) / kRowsPerBlock);
}
unsigned column_blocks(int c) {
  return static_cast<unsigned>((c + kColumnThreads - 1) / kColumnThreads);
}
int row_chunks(int n) { return (n + kRowsPerChunk - 1) / kRowsPerChunk; }

// The warp's row, or -1 past the last row (the whole warp then returns together).
__device__ int warp_row(int n) {
  const int row =
      static_cast<int>(blockIdx.x) * kRowsPerBlock + static_cast<int>(threadIdx.x) / kWarpSize;
  return row < n ? row : -1;
}

// LayerNorm of one row x (c) into y (c) by one warp; lane 0 writes *mean and *rstd. Each lane
// reads and writes only the indices lane + 32k, so y may be x, and x may be what this lane wrote
// just before the call.
__device__ void layernorm_row(float* y, float* mean, float* rstd, const float* x,
                              const float* weight, const float* bias, int c, double eps) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  double sum = 0.0;
  for (int j = lane; j < c; j += kWarpSize) sum += x[j];
  const double m = warp_sum(sum) / c;
  double var = 0.0;
  for (int j = lane; j < c; j += kWarpSize) var += (x[j] - m) * (x[j] - m);
  var = warp_sum(var);
  const float row_mean = static_cast<float>(m);
  const float row_rstd = static_cast<float>(1.0 / sqrt(var / c + eps));
  for (int j = lane; j < c; j += kWarpSize) {
    y[j] = (x[j] - row_mean) * row_rstd * weight[j] + bias[j];
  }
  if (lane == 0) {
    *mean = row_mean;
    *rstd = row_rstd;
  }
}

__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* in,
                                         const float* weight, const float* bias, int n, int c,
                                         double eps) {
  const int row = warp_row(n);
  if (row < 0) return;
  const std::size_t offset = static_cast<std::size_t>(row) * c;
  layernorm_row(out + offset, mean + row, rstd + row, in + offset, weight, bias, c, eps);
}

__global__ void residual_layernorm_forward_kernel(float* residual_out, float* ln_out, float* mean,
                                                  float* rstd, const float* a, const float* b,
                                                  const float* weight, const float* bias, int n,
                                                  int c, double eps) {
  const int row = warp_row(n);
  if (row < 0) return;
  const std::size_t offset = static_cast<std::size_t>(row) * c;
  float* r = residual_out + offset;
  for (int j = static_cast<int>(threadIdx.x) % kWarpSize; j < c; j += kWarpSize) {
    r[j] = a[offset + j] + b[offset + j];
  }
  layernorm_row(ln_out + offset, mean + row, rstd + row, r, weight, bias, c, eps);
}

__global__ void layernorm_backward_input_kernel(float* d_in, const float* d_out, const float* in,
                                                const float* mean, const float* rstd,
                                                const float* weight, int n, int c) {
  const int row = warp_row(n);
  if (row < 0) return;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::size_t offset = static_cast<std::size_t>(row) * c;
  const float* x = in + offset;
  const float* dy = d_out + offset;
  const float row_mean = mean[row];
  const float row_rstd = rstd[row];
  float dnorm_mean = 0.0f;
  float dnorm_xhat_mean = 0.0f;
  for (int j = lane; j < c; j += kWarpSize) {
    const float xhat = (x[j] - row_mean) * row_rstd;
    const float dnorm = weight[j] * dy[j];
    dnorm_mean += dnorm;
    dnorm_xhat_mean += dnorm * xhat;
  }
  dnorm_mean = warp_sum(dnorm_mean) / static_cast<float>(c);
  dnorm_xhat_mean = warp_sum(dnorm_xhat_mean) / static_cast<float>(c);
  float* dx = d_in + offset;
  for (int j = lane; j < c; j += kWarpSize) {
    const float xhat = (x[j] - row_mean) * row_rstd;
    const float dnorm = weight[j] * dy[j];
    dx[j] += (dnorm - dnorm_mean - xhat * dnorm_xhat_mean) * row_rstd;
  }
}

// Pass 1: block (chunk, column block); thread j sums column j over the chunk's rows in order.
// scratch (chunks, 2, c): [chunk][0][j] the d_weight partial, [chunk][1][j] the d_bias partial.
__global__ void layernorm_weight_partials_kernel(float* scratch, const float* d_out,
                                                 const float* in, const float* mean,
                                                 const float* rstd, int n, int c) {
  const int j = static_cast<int>(blockIdx.y) * kColumnThreads + static_cast<int>(threadIdx.x);
  const int chunk = static_cast<int>(blockIdx.x);
  if (j >= c) return;
  const int first = chunk * kRowsPerChunk;
  const int last = min(n, first + kRowsPerChunk);
  float dw = 0.0f;
  float db = 0.0f;
  for (int i = first; i < last; ++i) {
    const std::size_t k = static_cast<std::size_t>(i) * c + j;
    dw += d_out[k] * ((in[k] - mean[i]) * rstd[i]);
    db += d_out[k];
  }
  float* partial = scratch + static_cast<std::size_t>(chunk) * 2 * c;
  partial[j] = dw;
  partial[c + j] = db;
}

// Pass 2: thread j adds the chunk partials of column j in chunk order, then accumulates once.
__global__ void layernorm_weight_sum_kernel(float* d_weight, float* d_bias, const float* scratch,
                                            int chunks, int c) {
  const int j = static_cast<int>(blockIdx.x) * kColumnThreads + static_cast<int>(threadIdx.x);
  if (j >= c) return;
  float dw = 0.0f;
  float db = 0.0f;
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const float* partial = scratch + static_cast<std::size_t>(chunk) * 2 * c;
    dw += partial[j];
    db += partial[c + j];
  }
  d_weight[j] += dw;
  d_bias[j] += db;
}

}  // namespace

void launch_layernorm_forward(float* out, float* mean, float* rstd, const float* in,
                              const float* weight, const float* bias, int n, int c,
                              cudaStream_t stream) {
  if (n <= 0 || c <= 0) return;
  layernorm_forward_kernel<<<row_blocks(n), kRowThreads, 0, stream>>>(
      out, mean, rstd, in, weight, bias, n, c, static_cast<double>(cpu::kLayerNormEps));
  PP_CUDA_CHECK_LAUNCH();
}

void launch_residual_layernorm_forward(float* residual_out, float* ln_out, float* mean, float* rstd,
                                       const float* a, const float* b, const float* weight,
                                       const float* bias, int n, int c, cudaStream_t stream) {
  if (n <= 0 || c <= 0) return;
  residual_layernorm_forward_kernel<<<row_blocks(n), kRowThreads, 0, stream>>>(
      residual_out, ln_out, mean, rstd, a, b, weight, bias, n, c,
      static_cast<double>(cpu::kLayerNormEps));
  PP_CUDA_CHECK_LAUNCH();
}

void launch_layernorm_backward_input(float* d_in, const float* d_out, const float* in,
                                     const float* mean, const float* rstd, const float* weight,
                                     int n, int c, cudaStream_t stream) {
  if (n <= 0 || c <= 0) return;
  layernorm_backward_input_kernel<<<row_blocks(n), kRowThreads, 0, stream>>>(d_in, d_out, in, mean,
                                                                             rstd, weight, n, c);
  PP_CUDA_CHECK_LAUNCH();
}

std::size_t layernorm_backward_weight_scratch_floats(int n, int c) {
  if (n <= 0 || c <= 0) return 0;
  return 2 * static_cast<std::size_t>(c) * static_cast<std::size_t>(row_chunks(n));
}

void launch_layernorm_backward_weight(float* d_weight, float* d_bias, const float* d_out,
                                      const float* in, const float* mean, const float* rstd, int n,
                                      int c, float* scratch, cudaStream_t stream) {
  if (n <= 0 || c <= 0) return;
  const int chunks = row_chunks(n);
  const dim3 grid(static_cast<unsigned>(chunks), column_blocks(c));
  layernorm_weight_partials_kernel<<<grid, kColumnThreads, 0, stream>>>(scratch, d_out, in, mean,
                                                                        rstd, n, c);
  PP_CUDA_CHECK_LAUNCH();
  layernorm_weight_sum_kernel<<<column_blocks(c), kColumnThreads, 0, stream>>>(d_weight, d_bias,
                                                                               scratch, chunks, c);
  PP_CUDA_CHECK_LAUNCH();
}

}  // namespace pp::cuda
