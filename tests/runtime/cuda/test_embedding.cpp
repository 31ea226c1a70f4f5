// The CUDA embedding kernels against cpu/embedding.h. Both directions add the same floats in the
// same order as the CPU (the backward walks positions in order, no atomics), so the results must
// be bitwise equal, which also makes them reproducible run to run.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/embedding.h"
#include "cuda/embedding.cuh"
#include "runtime/cuda/kernel_test_support.h"

namespace pp::cuda {
namespace {

using kernel_test::DeviceArray;
using kernel_test::expect_same_bits;
using kernel_test::random_floats;
using kernel_test::random_ints;

struct Shape {
  int b, t, c, vocab, positions;
};
// Channels below, across and above the 128-thread channel blocks; vocabularies smaller and
// larger than the 64 token buckets, with many repeated tokens; P > T.
const Shape kShapes[] = {
    {1, 1, 1, 1, 1}, {3, 5, 77, 67, 7}, {4, 64, 200, 300, 80}, {2, 128, 768, 1000, 128}};

std::string name(const Shape& s) {
  return "b=" + std::to_string(s.b) + " T=" + std::to_string(s.t) + " C=" + std::to_string(s.c) +
         " V=" + std::to_string(s.vocab);
}

TEST(CudaEmbedding, ForwardIsCpuBitForBit) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const std::size_t positions = static_cast<std::size_t>(s.b) * s.t;
    const std::vector<std::int32_t> tokens = random_ints(positions, 0, s.vocab, 1);
    const std::vector<float> wte = random_floats(static_cast<std::size_t>(s.vocab) * s.c, -1, 1, 2);
    const std::vector<float> wpe =
        random_floats(static_cast<std::size_t>(s.positions) * s.c, -1, 1, 3);
    std::vector<float> out(positions * s.c);
    cpu::token_embedding_forward(out.data(), tokens.data(), wte.data(), {0, s.vocab}, positions, s.c);
    cpu::position_embedding_forward(out.data(), wpe.data(), 0, positions, s.t, s.c);
    DeviceArray<std::int32_t> d_tokens(tokens);
    DeviceArray<float> d_wte(wte), d_wpe(wpe), d_out(out.size());
    launch_embedding_forward(d_out.data(), d_tokens.data(), d_wte.data(), d_wpe.data(), s.b, s.t,
                             s.c, nullptr);
    expect_same_bits(d_out.download(), out, "out");
  }
}

TEST(CudaEmbedding, BackwardAccumulatesAsCpuBitForBit) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const std::size_t positions = static_cast<std::size_t>(s.b) * s.t;
    const std::vector<std::int32_t> tokens = random_ints(positions, 0, s.vocab, 4);
    const std::vector<float> d_out = random_floats(positions * s.c, -1, 1, 5);
    // Non-zero starting gradients: the kernels accumulate.
    const std::vector<float> start_wte =
        random_floats(static_cast<std::size_t>(s.vocab) * s.c, -1, 1, 6);
    const std::vector<float> start_wpe =
        random_floats(static_cast<std::size_t>(s.positions) * s.c, -1, 1, 7);
    std::vector<float> d_wte = start_wte, d_wpe = start_wpe;
    cpu::token_embedding_backward(d_wte.data(), d_out.data(), tokens.data(), {0, s.vocab}, positions, s.c);
    cpu::position_embedding_backward(d_wpe.data(), d_out.data(), 0, positions, s.t, s.c);
    DeviceArray<std::int32_t> dev_tokens(tokens);
    DeviceArray<float> dev_dy(d_out), dev_wte(start_wte), dev_wpe(start_wpe);
    launch_embedding_backward(dev_wte.data(), dev_wpe.data(), dev_dy.data(), dev_tokens.data(), s.b,
                              s.t, s.c, nullptr);
    expect_same_bits(dev_wte.download(), d_wte, "d_wte");
    expect_same_bits(dev_wpe.download(), d_wpe, "d_wpe (rows past T untouched)");
  }
}

}  // namespace
}  // namespace pp::cuda
