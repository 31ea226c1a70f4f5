#pragma once
// Device-only reduction helpers (include from .cu files only). Every reduction here adds in a
// fixed tree order that depends only on blockDim, never on timing, so results are bitwise
// reproducible for a fixed launch configuration.
#include <cuda_runtime.h>

namespace pp::cuda {

inline constexpr unsigned kFullMask = 0xffffffffu;
inline constexpr int kWarpSize = 32;

// The sum over the 32 lanes of a warp (butterfly: every lane gets the same bits).
template <class T>
__device__ inline T warp_sum(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(kFullMask, value, offset);
  }
  return value;
}

__device__ inline float warp_max(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(kFullMask, value, offset));
  }
  return value;
}

// The sum over the whole block, returned to every thread. blockDim.x must be a multiple of 32
// and at most 1024; every thread of the block must call it (it synchronises). `shared` holds 32
// values of T. Safe to call again right after it returns (it synchronises before returning).
template <class T>
__device__ inline T block_sum(T value, T* shared) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  value = warp_sum(value);
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  T total = lane < warps ? shared[lane] : T(0);
  total = warp_sum(total);  // every warp reduces the same partials the same way
  __syncthreads();          // `shared` may be reused by the caller after this
  return total;
}

// The maximum over the whole block, returned to every thread (same rules as block_sum).
__device__ inline float block_max(float value, float* shared) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  value = warp_max(value);
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  float total = lane < warps ? shared[lane] : -INFINITY;
  total = warp_max(total);
  __syncthreads();
  return total;
}

}  // namespace pp::cuda
