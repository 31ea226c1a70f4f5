#pragma once
// The squared L2 norm of many tensors (e.g. a stage's gradients) in one pass, accumulated in
// double, deterministic: the same bits for the same inputs (a fixed partition and fixed
// reduction trees, no atomics). The GPU counterpart of pp::squared_grad_norm.
#include <cuda_runtime.h>

#include <cstddef>

namespace pp::cuda {

// One tensor: `count` floats of device memory.
struct NormTensor {
  const float* data = nullptr;  // (count)
  std::size_t count = 0;
};

// Doubles of scratch launch_squared_norm needs: 64 per tensor (one partial per block).
std::size_t squared_norm_scratch_doubles(int num_tensors);

// *total (one double, device) = sum over tensors (num_tensors, device array) of sum(data^2),
// each square formed exactly in double. Pass 1: block (chunk, tensor), 64 chunks per tensor,
// each block sums a fixed stride of its tensor into scratch[tensor * 64 + chunk]; pass 2: one
// block adds the partials in a fixed order. Overwrites *total and scratch
// (squared_norm_scratch_doubles(num_tensors) doubles, device). num_tensors <= 65535.
void launch_squared_norm(double* total, const NormTensor* tensors, int num_tensors, double* scratch,
                         cudaStream_t stream);

}  // namespace pp::cuda
