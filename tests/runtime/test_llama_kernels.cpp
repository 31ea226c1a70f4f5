// The CPU Llama layer kernels (RMSNorm, rotary embeddings, SwiGLU, grouped-query attention, the
// nn.Linear-layout products): each forward against a direct formula evaluated in double
// (llama_references.h), each backward against central finite differences of a scalar objective
// sum(out * w) (w random, gradient_check.h), rope_backward as rope_forward's transpose, and
// make_rope_table's Llama 3 frequencies against the formula written out independently.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "cpu/gqa_attention.h"
#include "cpu/matmul.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/swiglu.h"
#include "gradient_check.h"
#include "llama_references.h"
#include "pp/model.h"

namespace pp {
namespace {

using namespace llama_test;  // the references and checks
using test::numeric_gradient;
using test::random_floats;

// ---- RMSNorm ----

constexpr int kRows = 6;
constexpr int kWidth = 16;
constexpr float kEps = 1e-5f;

TEST(LlamaRmsNorm, ForwardMatchesTheFormula) {
  const Floats x = random_floats(kRows * kWidth, 1.0f, 1);
  Floats w = random_floats(kWidth, 0.3f, 2);
  for (float& v : w) v += 1.0f;
  Floats out(x.size()), rstd(kRows);
  cpu::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), kRows, kWidth, kEps);
  expect_near_all(out, ref_rmsnorm(to_double(x), to_double(w), kRows, kWidth, kEps), kForwardTolerance, "out");
}

TEST(LlamaRmsNorm, BackwardMatchesFiniteDifferences) {
  Floats x = random_floats(kRows * kWidth, 1.0f, 3);
  Floats w = random_floats(kWidth, 0.3f, 4);
  for (float& v : w) v += 1.0f;
  const Floats g = random_floats(x.size(), 1.0f, 5);
  Floats out(x.size()), rstd(kRows);
  auto objective = [&] {
    cpu::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), kRows, kWidth, kEps);
    return dot(out, g);
  };
  objective();
  const Floats start = random_floats(x.size(), 1.0f, 6);  // both backward calls accumulate
  Floats d_x = start, d_w(kWidth, 0.5f), sums(kWidth);
  cpu::rmsnorm_backward_input(d_x.data(), g.data(), x.data(), rstd.data(), w.data(), kRows, kWidth);
  cpu::rmsnorm_backward_weight(d_w.data(), g.data(), x.data(), rstd.data(), kRows, kWidth, sums.data());
  for (std::size_t i = 0; i < d_x.size(); ++i) d_x[i] -= start[i];
  for (float& v : d_w) v -= 0.5f;
  expect_gradient(d_x, numeric_gradient(objective, &x), "d_in");
  expect_gradient(d_w, numeric_gradient(objective, &w), "d_weight");
}

// ---- rotary embeddings ----

// Head dim 32, theta 10000: wavelengths 2 pi 10000^(i/16) = 6.3, 11, 20, 35, 63, 112, 199, 353, ...
// With original 256, high_freq_factor 4 and low_freq_factor 1 the thresholds are 64 and 256:
// i = 0..4 are kept, i = 5, 6 are interpolated, i >= 7 are divided by the factor.
ModelConfig rope_model() {
  ModelConfig m;
  m.name = "rope-test";
  m.family = ModelFamily::kLlama;
  m.hidden = 64;
  m.heads = 2;
  m.kv_heads = 2;
  m.rope_theta = 10000;
  m.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 256};
  return m;
}

TEST(LlamaRope, Llama3ScaledFrequenciesMatchTheFormula) {
  const ModelConfig m = rope_model();
  const Doubles want = ref_inv_freq(m);
  const Doubles got = cpu::rope_inv_freq(m);
  ASSERT_EQ(got.size(), 16u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * want[i]) << i;
  ModelConfig plain = m;
  plain.rope_scaling = {};
  const Doubles unscaled = cpu::rope_inv_freq(plain);
  int kept = 0, interpolated = 0, divided = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double wavelen = 2 * std::numbers::pi / unscaled[i];
    const double ratio = got[i] / unscaled[i];
    if (wavelen < 64) {
      EXPECT_DOUBLE_EQ(ratio, 1.0) << i;
      ++kept;
    } else if (wavelen > 256) {
      EXPECT_DOUBLE_EQ(ratio, 1.0 / 8) << i;
      ++divided;
    } else {
      EXPECT_GT(ratio, 1.0 / 8) << i;
      EXPECT_LT(ratio, 1.0) << i;
      ++interpolated;
    }
  }
  EXPECT_EQ(kept, 5);
  EXPECT_EQ(interpolated, 2);
  EXPECT_EQ(divided, 9);
}

TEST(LlamaRope, ShippedLlamaFrequenciesMatchTheFormula) {
  for (const char* name : {"llama-tiny", "llama3-405b", "llama3-8b", "llama2-7b"}) {
    const ModelConfig m = load_model(name);
    const Doubles want = ref_inv_freq(m);
    const Doubles got = cpu::rope_inv_freq(m);
    ASSERT_EQ(got.size(), std::size_t(m.head_dim() / 2)) << name;
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * want[i]) << name << i;
  }
  // llama-tiny's scaling changes some of its frequencies and keeps others.
  const ModelConfig tiny = load_model("llama-tiny");
  ModelConfig plain = tiny;
  plain.rope_scaling = {};
  EXPECT_EQ(cpu::rope_inv_freq(tiny)[0], cpu::rope_inv_freq(plain)[0]);
  EXPECT_LT(cpu::rope_inv_freq(tiny)[3], cpu::rope_inv_freq(plain)[3]);
}

TEST(LlamaRope, TableHoldsCosAndSinOfPositionTimesFrequency) {
  const ModelConfig m = rope_model();
  const cpu::RopeTable t = cpu::make_rope_table(m, 40);
  ASSERT_EQ(t.seq, 40);
  ASSERT_EQ(t.half, 16);
  const Doubles inv = ref_inv_freq(m);
  for (int p = 0; p < 40; ++p) {
    for (int i = 0; i < 16; ++i) {
      EXPECT_NEAR(t.cos[p * 16 + i], std::cos(p * inv[i]), 1e-7) << p << " " << i;
      EXPECT_NEAR(t.sin[p * 16 + i], std::sin(p * inv[i]), 1e-7) << p << " " << i;
    }
  }
}

// Rows of (b = 2, T = 7), 3 heads of head dim 8, llama3 scaling that changes some frequencies.
struct RopeCase {
  ModelConfig model;
  int seq = 7, rows = 14, heads = 3, hd = 8;
  cpu::RopeTable table;
  RopeCase() {
    model.family = ModelFamily::kLlama;
    model.hidden = 24;
    model.heads = 3;
    model.kv_heads = 3;
    model.rope_theta = 50;
    model.rope_scaling = {"llama3", 4.0, 1.0, 4.0, 16};
    table = cpu::make_rope_table(model, 9);  // more positions than used
  }
  std::size_t size() const { return std::size_t(rows) * heads * hd; }
};

TEST(LlamaRope, ForwardMatchesHuggingFacesRotateHalf) {
  const RopeCase c;
  const Floats x = random_floats(c.size(), 1.0f, 7);
  Floats y = x;
  cpu::rope_forward(y.data(), c.rows, c.seq, c.heads, c.hd, c.table);
  expect_near_all(y, ref_rope(to_double(x), c.rows, c.seq, c.heads, c.hd, ref_inv_freq(c.model)),
                  kForwardTolerance, "rope");
  // Position 0 (rows 0 and T) is not rotated.
  for (int j = 0; j < c.heads * c.hd; ++j) {
    EXPECT_EQ(y[j], x[j]);
    EXPECT_EQ(y[c.seq * c.heads * c.hd + j], x[c.seq * c.heads * c.hd + j]);
  }
}

TEST(LlamaRope, BackwardIsTheTranspose) {
  const RopeCase c;
  const Floats x = random_floats(c.size(), 1.0f, 8);
  const Floats y = random_floats(c.size(), 1.0f, 9);
  Floats rx = x, rty = y;
  cpu::rope_forward(rx.data(), c.rows, c.seq, c.heads, c.hd, c.table);
  cpu::rope_backward(rty.data(), c.rows, c.seq, c.heads, c.hd, c.table);
  EXPECT_NEAR(dot(rx, y), dot(x, rty), 1e-5 * std::sqrt(dot(x, x) * dot(y, y)));
}

TEST(LlamaRope, BackwardMatchesFiniteDifferences) {
  const RopeCase c;
  Floats x = random_floats(c.size(), 1.0f, 10);
  const Floats g = random_floats(c.size(), 1.0f, 11);
  auto objective = [&] {
    Floats y = x;
    cpu::rope_forward(y.data(), c.rows, c.seq, c.heads, c.hd, c.table);
    return dot(y, g);
  };
  Floats d = g;
  cpu::rope_backward(d.data(), c.rows, c.seq, c.heads, c.hd, c.table);
  expect_gradient(d, numeric_gradient(objective, &x), "rope d_x");
}

// ---- SwiGLU ----

TEST(LlamaSwiglu, ForwardMatchesTheFormula) {
  const Floats gate = random_floats(200, 4.0f, 12);
  const Floats up = random_floats(200, 2.0f, 13);
  Floats out(200);
  cpu::swiglu_forward(out.data(), gate.data(), up.data(), out.size());
  expect_near_all(out, ref_swiglu(to_double(gate), to_double(up)), kForwardTolerance, "swiglu");
}

TEST(LlamaSwiglu, BackwardMatchesFiniteDifferences) {
  Floats gate = random_floats(200, 4.0f, 14);
  Floats up = random_floats(200, 2.0f, 15);
  const Floats g = random_floats(200, 1.0f, 16);
  auto objective = [&] {
    Floats out(200);
    cpu::swiglu_forward(out.data(), gate.data(), up.data(), out.size());
    return dot(out, g);
  };
  Floats d_gate(200, 7.0f), d_up(200, 7.0f);  // overwritten
  cpu::swiglu_backward(d_gate.data(), d_up.data(), g.data(), gate.data(), up.data(), 200);
  // In place (d_gate over gate, d_up over up) gives the same bits.
  Floats in_place_gate = gate, in_place_up = up;
  cpu::swiglu_backward(in_place_gate.data(), in_place_up.data(), g.data(), in_place_gate.data(),
                       in_place_up.data(), 200);
  EXPECT_EQ(in_place_gate, d_gate);
  EXPECT_EQ(in_place_up, d_up);
  expect_gradient(d_gate, numeric_gradient(objective, &gate), "d_gate");
  expect_gradient(d_up, numeric_gradient(objective, &up), "d_up");
}

// ---- grouped-query attention ----

struct AttentionCase {
  cpu::GqaShape shape;
  Floats q, k, v;
  explicit AttentionCase(int kv_heads) : shape{2, 5, 4, kv_heads, 4} {
    q = random_floats(rows() * shape.heads * shape.head_dim, 1.0f, 20 + kv_heads);
    k = random_floats(rows() * shape.kv_heads * shape.head_dim, 1.0f, 30 + kv_heads);
    v = random_floats(rows() * shape.kv_heads * shape.head_dim, 1.0f, 40 + kv_heads);
  }
  std::size_t rows() const { return std::size_t(shape.batch) * shape.seq; }
  Floats forward(Floats* att) const {
    Floats out(q.size());
    att->resize(std::size_t(shape.batch) * shape.heads * shape.seq * shape.seq);
    cpu::gqa_attention_forward(out.data(), att->data(), q.data(), k.data(), v.data(), shape);
    return out;
  }
};

TEST(LlamaGqaAttention, ForwardMatchesTheFormula) {
  for (int kv_heads : {2, 4}) {
    const AttentionCase c(kv_heads);
    Floats att;
    const Floats out = c.forward(&att);
    expect_near_all(out, ref_attention(to_double(c.q), to_double(c.k), to_double(c.v), c.shape),
                    kForwardTolerance, "kv heads " + std::to_string(kv_heads));
  }
}

TEST(LlamaGqaAttention, BackwardMatchesFiniteDifferences) {
  for (int kv_heads : {2, 4}) {
    AttentionCase c(kv_heads);
    const Floats g = random_floats(c.q.size(), 1.0f, 50);
    Floats att;
    auto objective = [&] { return dot(c.forward(&att), g); };
    objective();
    Floats d_q(c.q.size(), 9.0f), d_k(c.k.size(), 9.0f), d_v(c.v.size(), 9.0f);  // overwritten
    Floats d_att(std::size_t(c.shape.seq) * c.shape.seq);
    cpu::gqa_attention_backward(d_q.data(), d_k.data(), d_v.data(), g.data(), c.q.data(), c.k.data(),
                                c.v.data(), att.data(), c.shape, d_att.data());
    const std::string what = " (kv heads " + std::to_string(kv_heads) + ")";
    expect_gradient(d_q, numeric_gradient(objective, &c.q), "d_q" + what);
    expect_gradient(d_k, numeric_gradient(objective, &c.k), "d_k" + what);
    expect_gradient(d_v, numeric_gradient(objective, &c.v), "d_v" + what);
  }
}

// ---- linear layers, nn.Linear layout ----

TEST(LlamaLinearT, ForwardMatchesTheFormula) {
  const int n = 7, in = 12, out = 5;
  const Floats x = random_floats(std::size_t(n) * in, 1.0f, 60);
  const Floats w = random_floats(std::size_t(out) * in, 1.0f, 61);
  Floats y(std::size_t(n) * out, 3.0f);
  cpu::linear_t_forward(y.data(), x.data(), w.data(), n, in, out);
  expect_near_all(y, ref_linear_t(to_double(x), to_double(w), n, in, out), kForwardTolerance, "linear_t");
}

TEST(LlamaLinearT, BackwardMatchesFiniteDifferences) {
  const int n = 7, in = 12, out = 5;
  Floats x = random_floats(std::size_t(n) * in, 1.0f, 62);
  Floats w = random_floats(std::size_t(out) * in, 1.0f, 63);
  const Floats g = random_floats(std::size_t(n) * out, 1.0f, 64);
  auto objective = [&] {
    Floats y(std::size_t(n) * out);
    cpu::linear_t_forward(y.data(), x.data(), w.data(), n, in, out);
    return dot(y, g);
  };
  Floats d_x(x.size(), 5.0f);  // overwritten
  cpu::linear_t_backward_input(d_x.data(), g.data(), w.data(), n, in, out);
  Floats d_w(w.size(), 0.25f);  // accumulated into
  cpu::linear_t_backward_weight(d_w.data(), x.data(), g.data(), n, in, out);
  for (float& v : d_w) v -= 0.25f;
  expect_gradient(d_x, numeric_gradient(objective, &x), "d_in");
  expect_gradient(d_w, numeric_gradient(objective, &w), "d_weight");
  Floats d_x_twice = d_x;  // the accumulating variant adds the same product once more
  cpu::linear_t_backward_input_add(d_x_twice.data(), g.data(), w.data(), n, in, out);
  for (std::size_t i = 0; i < d_x.size(); ++i) EXPECT_NEAR(d_x_twice[i], 2 * d_x[i], 1e-5) << i;
}

}  // namespace
}  // namespace pp
