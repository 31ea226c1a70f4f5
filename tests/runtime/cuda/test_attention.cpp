// Causal attention on the GPU (attention.cuh) against the CPU backend's cpu/attention.h.
//
// Tolerances. out and d_qkv: every element within 1e-5 * max|reference| + 1e-6 + 1e-4 *
// |reference|. Both sides are fp32 sums of at most T + hd terms whose magnitudes are below
// max|reference| for these inputs (in [-1, 1): scores of order 1, probabilities <= 1); the GPU's
// online softmax and its probabilities recomputed as exp(s - lse) differ from the CPU's
// exp(s - max) / sum by a few ulp of lse (~1e-6 relative for lse <= 5 at T <= 130), so errors
// stay near 1e-6 of the terms, well inside the bound, while a wrong index, mask or missing
// rescale is off by O(max|ref|). The 1e-6 is for gradients the CPU finds exactly 0 (query 0's
// dq; dq and dk at T = 1): there the GPU's D_i = d_out_i . out_i and dP_ii = d_out_i . v_i
// differ by an ulp of numbers of order 1, times scale <= 0.25, ~1e-7.
// lse: within 1e-5 * (1 + |lse|) of a double-precision log-sum-exp of the scores (its fp32
// rounding and the scores' hd-term fp32 dot products are ~1e-7 of that).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <vector>

#include "cpu/attention.h"
#include "cuda/attention.cuh"
#include "pp/error.h"
#include "runtime/cuda/device_buffer.h"
#include "runtime/cuda/kernel_test_util.h"

namespace pp::cuda::test {
namespace {

constexpr double kAbsOfMax = 1e-5;
constexpr double kRel = 1e-4;
constexpr double kAbs = 1e-6;

// A test case's shape, printed by GoogleTest as "b=2 T=37 C=64 H=4".
struct Case {
  AttentionShape shape;
};
void PrintTo(const Case& c, std::ostream* os) {
  const AttentionShape& s = c.shape;
  *os << "b=" << s.batch << " T=" << s.seq << " C=" << s.channels << " H=" << s.heads;
}

cpu::AttentionShape to_cpu(const AttentionShape& s) {
  return cpu::AttentionShape{s.batch, s.seq, s.channels, s.heads};
}

std::size_t size_of(const AttentionShape& s, int columns) {
  return static_cast<std::size_t>(s.batch) * s.seq * columns;
}

std::vector<float> nans(std::size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}

// lse (b, H, T): log sum_{j<=i} exp(q_i . k_j / sqrt(hd)), in double.
std::vector<float> reference_lse(const std::vector<float>& qkv, const AttentionShape& s) {
  const int c = s.channels;
  const int hd = c / s.heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<float> lse(static_cast<std::size_t>(s.batch) * s.heads * s.seq);
  std::vector<double> scores(static_cast<std::size_t>(s.seq));
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      for (int i = 0; i < s.seq; ++i) {
        const float* q = qkv.data() + (static_cast<std::size_t>(b) * s.seq + i) * 3 * c + h * hd;
        double max = -INFINITY;
        for (int j = 0; j <= i; ++j) {
          const float* k =
              qkv.data() + (static_cast<std::size_t>(b) * s.seq + j) * 3 * c + c + h * hd;
          double dot = 0.0;
          for (int d = 0; d < hd; ++d) dot += static_cast<double>(q[d]) * k[d];
          scores[j] = dot * scale;
          max = std::max(max, scores[j]);
        }
        double sum = 0.0;
        for (int j = 0; j <= i; ++j) sum += std::exp(scores[j] - max);
        lse[(static_cast<std::size_t>(b) * s.heads + h) * s.seq + i] =
            static_cast<float>(max + std::log(sum));
      }
    }
  }
  return lse;
}

class AttentionTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const AttentionShape& s = GetParam().shape;
    qkv_ = random_vector(size_of(s, 3 * s.channels), 21);
    d_out_ = random_vector(size_of(s, s.channels), 22);
    const std::size_t tt = static_cast<std::size_t>(s.seq) * s.seq;
    std::vector<float> att(static_cast<std::size_t>(s.batch) * s.heads * tt);
    std::vector<float> d_att(tt);
    out_ref_.resize(size_of(s, s.channels));
    d_qkv_ref_.resize(qkv_.size());
    cpu::attention_forward(out_ref_.data(), att.data(), qkv_.data(), to_cpu(s));
    cpu::attention_backward(d_qkv_ref_.data(), d_out_.data(), qkv_.data(), att.data(), to_cpu(s),
                            d_att.data());
  }

  std::vector<float> qkv_, d_out_, out_ref_, d_qkv_ref_;
  TestStream stream_;
};

TEST_P(AttentionTest, ForwardMatchesCpuAndLogSumExp) {
  const AttentionShape& s = GetParam().shape;
  const DeviceBuffer<float> qkv(qkv_);
  // NaN-filled outputs: an element the kernel does not write fails the comparison.
  DeviceBuffer<float> out(nans(out_ref_.size()));
  DeviceBuffer<float> lse(nans(static_cast<std::size_t>(s.batch) * s.heads * s.seq));
  launch_attention_forward(out.data(), lse.data(), qkv.data(), s, stream_.get());
  const std::vector<float> got_out = out.download();
  const std::vector<float> got_lse = lse.download();
  expect_all_near(got_out, out_ref_, kAbsOfMax * max_abs(out_ref_) + kAbs, kRel, "out");
  expect_all_near(got_lse, reference_lse(qkv_, s), 1e-5, 1e-5, "lse");

  launch_attention_forward(out.data(), lse.data(), qkv.data(), s, stream_.get());
  expect_bitwise_equal(out.download(), got_out, "out");
  expect_bitwise_equal(lse.download(), got_lse, "lse");
}

TEST_P(AttentionTest, BackwardMatchesCpu) {
  const AttentionShape& s = GetParam().shape;
  const DeviceBuffer<float> qkv(qkv_), d_out(d_out_);
  DeviceBuffer<float> out(out_ref_.size());
  DeviceBuffer<float> lse(static_cast<std::size_t>(s.batch) * s.heads * s.seq);
  launch_attention_forward(out.data(), lse.data(), qkv.data(), s, stream_.get());
  DeviceBuffer<float> d_qkv(nans(qkv_.size()));
  DeviceBuffer<float> scratch(attention_backward_scratch_floats(s));
  launch_attention_backward(d_qkv.data(), d_out.data(), qkv.data(), out.data(), lse.data(), s,
                            scratch.data(), stream_.get());
  const std::vector<float> got = d_qkv.download();
  // q, k and v parts have different scales: compare each part with its own max.
  const int c = s.channels;
  for (int part = 0; part < 3; ++part) {
    std::vector<float> got_part, ref_part;
    for (std::size_t row = 0; row < size_of(s, 1); ++row) {
      const std::size_t begin = row * 3 * c + static_cast<std::size_t>(part) * c;
      got_part.insert(got_part.end(), got.begin() + begin, got.begin() + begin + c);
      ref_part.insert(ref_part.end(), d_qkv_ref_.begin() + begin, d_qkv_ref_.begin() + begin + c);
    }
    const char* names[] = {"dq", "dk", "dv"};
    expect_all_near(got_part, ref_part, kAbsOfMax * max_abs(ref_part) + kAbs, kRel,
                    names[part]);
  }

  // Overwrites (not accumulates): a second run from other contents gives the same bits.
  DeviceBuffer<float> again(random_vector(qkv_.size(), 23));
  launch_attention_backward(again.data(), d_out.data(), qkv.data(), out.data(), lse.data(), s,
                            scratch.data(), stream_.get());
  expect_bitwise_equal(again.download(), got, "d_qkv");
}

// hd = 16, 64, 32, 128, 32 with T = 1, and GPT-2's 64 with 12 heads; T mostly not a multiple
// of the 32-row tiles.
INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(Case{{2, 37, 64, 4}}, Case{{1, 130, 128, 2}},
                                           Case{{1, 33, 96, 3}}, Case{{2, 70, 256, 2}},
                                           Case{{3, 1, 64, 2}}, Case{{1, 64, 768, 12}}));

TEST(AttentionShapes, UnsupportedHeadDimensionThrows) {
  TestStream stream;
  DeviceBuffer<float> buffer(4096);
  // hd = 20 and C not a multiple of H.
  for (const AttentionShape s : {AttentionShape{1, 8, 40, 2}, AttentionShape{1, 8, 64, 3}}) {
    EXPECT_THROW(launch_attention_forward(buffer.data(), buffer.data(), buffer.data(), s,
                                          stream.get()),
                 pp::Error);
    EXPECT_THROW(launch_attention_backward(buffer.data(), buffer.data(), buffer.data(),
                                           buffer.data(), buffer.data(), s, buffer.data(),
                                           stream.get()),
                 pp::Error);
  }
}

}  // namespace
}  // namespace pp::cuda::test
