#pragma once
// GPT-2's learned token and position embeddings on the GPU; the same contracts as
// runtime/src/cpu/embedding.h. float32 device memory, all work queued on `stream`. Both
// directions give the CPU's bits exactly (each output is the same float additions in the same
// order) and are deterministic: no atomics.
#include <cuda_runtime.h>

#include <cstdint>

namespace pp::cuda {

// out (b, T, C) = wte[tokens[b, t]] (V, C) + wpe[t] (P >= T, C). Overwrites out. tokens (b, T)
// int32 device must lie in [0, V) (checked by the caller; not checked here).
void launch_embedding_forward(float* out, const std::int32_t* tokens, const float* wte,
                              const float* wpe, int b, int t, int c, cudaStream_t stream);

// d_wte (V, C) and d_wpe (P, C) += the scatter of d_out (b, T, C) to the rows used. Accumulates.
// Each element of d_wte / d_wpe receives its terms in position order, as on the CPU:
//  - d_wpe: one thread per (t, channel) adds d_out[0, t], d_out[1, t], ... (b terms).
//  - d_wte: one thread per (channel, bucket of 64) walks all b*T positions in order and adds
//    d_out[p] into row tokens[p] when tokens[p] % 64 is its bucket: a thread owns its column of
//    the rows in its bucket, so no two threads touch one element. Cost: every thread reads all
//    b*T tokens (a broadcast load per warp) and does ~b*T/64 dependent read-add-writes, so the
//    kernel takes O(b*T) serial steps (~8192 for b*T = 8192) on C*64 threads; slower than an
//    atomic scatter, but exact and reproducible.
void launch_embedding_backward(float* d_wte, float* d_wpe, const float* d_out,
                               const std::int32_t* tokens, int b, int t, int c,
                               cudaStream_t stream);

}  // namespace pp::cuda
