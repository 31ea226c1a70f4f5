// The CPU Llama layers: each kernel's forward against a direct formula evaluated here in double,
// its backward against central finite differences of a scalar objective sum(out * w) (w random),
// rope_backward as rope_forward's transpose, make_rope_table's Llama 3 frequencies against the
// formula written out independently, a whole Llama decoder layer (forward, every gradient,
// recompute from its input only), and the parameter names and shapes of Hugging Face's
// LlamaForCausalLM.
//
// Tolerances. Forward: the kernels compute in float32 (sums of at most a few dozen terms, a few
// products each); each operation rounds by at most 2^-24 ~ 6e-8 relative, so a chain of < 100 of
// them stays within 1e-5 of the largest magnitude involved (kForwardTolerance). The whole layer
// chains two norms, four products, softmax and SwiGLU: 1e-4 (kBlockForwardTolerance).
// Backward: central differences with step h = 1e-2 max(1, |v|) have a truncation error O(h^2)
// ~ 1e-4 relative for these smooth functions of O(1) inputs, and the float32 forward adds noise of
// ~ 1e-7 |objective| / h ~ 1e-5; |analytic - numeric| <= 2e-3 |numeric| + 1e-5 (as
// test_stage_model.cpp) leaves a margin of ten over both and still catches any wrong term, which
// is O(1) relative.

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cpu/buffer_pool.h"
#include "cpu/gqa_attention.h"
#include "cpu/llama_block.h"
#include "cpu/matmul.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/swiglu.h"
#include "cpu/tensor_parallel.h"
#include "pp/error.h"
#include "pp/model.h"
#include "pp/runtime/llama_parameters.h"
#include "pp/runtime/sharding.h"
#include "pp/runtime/transport.h"

namespace pp {
namespace {

constexpr double kForwardTolerance = 1e-5;
constexpr double kBlockForwardTolerance = 1e-4;
constexpr double kGradientTolerance = 2e-3;

using Floats = std::vector<float>;
using Doubles = std::vector<double>;

Floats random_floats(std::size_t n, float scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  Floats v(n);
  for (float& x : v) x = u(rng);
  return v;
}

Doubles to_double(const Floats& v) { return Doubles(v.begin(), v.end()); }

double dot(const Floats& a, const Floats& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

double norm(const Doubles& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// |got - want| <= tolerance * max(1, max |want|), elementwise.
void expect_near_all(const Floats& got, const Doubles& want, double tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tolerance * scale) << what << "[" << i << "]";
  }
}

// Central differences of `objective` with respect to each entry of *values.
Doubles numeric_gradient(const std::function<double()>& objective, Floats* values) {
  Doubles g(values->size());
  for (std::size_t i = 0; i < values->size(); ++i) {
    const float original = (*values)[i];
    const float h = 1e-2f * std::fmax(1.0f, std::fabs(original));
    (*values)[i] = original + h;
    const float up = (*values)[i];
    const double f_up = objective();
    (*values)[i] = original - h;
    const float down = (*values)[i];
    const double f_down = objective();
    (*values)[i] = original;
    g[i] = (f_up - f_down) / (double(up) - double(down));
  }
  return g;
}

void expect_gradient(const Floats& analytic, const Doubles& numeric, const std::string& what) {
  ASSERT_EQ(analytic.size(), numeric.size()) << what;
  Doubles diff(numeric.size());
  for (std::size_t i = 0; i < numeric.size(); ++i) diff[i] = analytic[i] - numeric[i];
  const double reference = norm(numeric);
  EXPECT_LE(norm(diff), kGradientTolerance * reference + 1e-5)
      << what << ": |analytic - numeric| " << norm(diff) << ", |numeric| " << reference;
  EXPECT_GT(reference, 0.0) << what << " has no gradient at all";
  if (std::getenv("PP_GRADCHECK_VERBOSE") != nullptr) {
    std::printf("%-44s relative error %.2e, |numeric| %.3e\n", what.c_str(), norm(diff) / (reference + 1e-30),
                reference);
  }
}

// ---- references, in double ----

Doubles ref_rmsnorm(const Doubles& x, const Doubles& w, int n, int c, double eps) {
  Doubles y(x.size());
  for (int i = 0; i < n; ++i) {
    double ms = 0;
    for (int j = 0; j < c; ++j) ms += x[i * c + j] * x[i * c + j] / c;
    for (int j = 0; j < c; ++j) y[i * c + j] = x[i * c + j] / std::sqrt(ms + eps) * w[j];
  }
  return y;
}

// Hugging Face's _compute_llama3_parameters, written as it is there: every frequency's three
// candidates, then the masks pick one.
Doubles ref_inv_freq(const ModelConfig& m) {
  const int d = static_cast<int>(m.head_dim());
  Doubles inv(d / 2);
  for (int i = 0; i < d / 2; ++i) inv[i] = std::exp(-std::log(m.rope_theta) * (2.0 * i) / d);
  if (m.rope_scaling.type != "llama3") return inv;
  const RopeScaling& s = m.rope_scaling;
  const double old_context = static_cast<double>(s.original_max_positions);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2 * std::numbers::pi / f;
    const double llama = wavelen > low_freq_wavelen ? f / s.factor : f;
    const double smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    const double smoothed = (1 - smooth) * llama / s.factor + smooth * llama;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    f = medium ? smoothed : llama;
  }
  return inv;
}

// q * cos + rotate_half(q) * sin, rotate_half(x) = cat(-x2, x1) per head (apply_rotary_pos_emb).
Doubles ref_rope(const Doubles& x, int rows, int seq, int heads, int hd, const Doubles& inv_freq) {
  Doubles y(x.size());
  for (int r = 0; r < rows; ++r) {
    for (int h = 0; h < heads; ++h) {
      const std::size_t base = (std::size_t(r) * heads + h) * hd;
      for (int j = 0; j < hd; ++j) {
        const double angle = (r % seq) * inv_freq[j % (hd / 2)];
        const double rotated = j < hd / 2 ? -x[base + j + hd / 2] : x[base + j - hd / 2];
        y[base + j] = x[base + j] * std::cos(angle) + rotated * std::sin(angle);
      }
    }
  }
  return y;
}

Doubles ref_attention(const Doubles& q, const Doubles& k, const Doubles& v, const cpu::GqaShape& s) {
  const int qw = s.heads * s.head_dim;
  const int kw = s.kv_heads * s.head_dim;
  Doubles out(q.size(), 0.0);
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const int g = h / (s.heads / s.kv_heads);
      for (int t = 0; t < s.seq; ++t) {
        Doubles p(t + 1);
        double total = 0;
        for (int u = 0; u <= t; ++u) {
          double score = 0;
          for (int j = 0; j < s.head_dim; ++j) {
            score += q[(b * s.seq + t) * qw + h * s.head_dim + j] * k[(b * s.seq + u) * kw + g * s.head_dim + j];
          }
          p[u] = std::exp(score / std::sqrt(double(s.head_dim)));
          total += p[u];
        }
        for (int u = 0; u <= t; ++u) {
          for (int j = 0; j < s.head_dim; ++j) {
            out[(b * s.seq + t) * qw + h * s.head_dim + j] +=
                p[u] / total * v[(b * s.seq + u) * kw + g * s.head_dim + j];
          }
        }
      }
    }
  }
  return out;
}

Doubles ref_swiglu(const Doubles& gate, const Doubles& up) {
  Doubles y(gate.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
  return y;
}

// x (n, in) W^T, W (out, in).
Doubles ref_linear_t(const Doubles& x, const Doubles& w, int n, int in, int out) {
  Doubles y(std::size_t(n) * out, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int o = 0; o < out; ++o) {
      for (int j = 0; j < in; ++j) y[i * out + o] += x[i * in + j] * w[o * in + j];
    }
  }
  return y;
}

Doubles add(const Doubles& a, const Doubles& b) {
  Doubles y(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

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

// ---- one Llama decoder layer at tp 1 ----

constexpr int kBatch = 2;
constexpr int kSeq = 5;
constexpr int kHidden = 16;

// 4 query heads and 2 kv heads of dim 4, MLP width 24, llama3 rope scaling that changes some of
// its two frequencies at this length.
ModelConfig tiny_llama() {
  ModelConfig m;
  m.name = "tiny-llama";
  m.family = ModelFamily::kLlama;
  m.hidden = kHidden;
  m.layers = 1;
  m.heads = 4;
  m.kv_heads = 2;
  m.ffn_hidden = 24;
  m.vocab = 32;
  m.max_positions = 16;
  m.rope_theta = 100;
  m.norm_eps = 1e-5;
  m.rope_scaling = {"llama3", 4.0, 1.0, 4.0, 8};
  return m;
}

struct BlockCase {
  ModelConfig model = tiny_llama();
  ParameterSet params = llama_parameters(model, 1, 1);
  cpu::LlamaBlockParams p{};
  cpu::LlamaShape shape{kBatch, kSeq, kHidden, 4, 2, 4, 24, 1e-5f};
  cpu::RopeTable rope = cpu::make_rope_table(model, kSeq);
  cpu::TensorParallel tp;
  cpu::BufferPool pool;
  Floats x = random_floats(std::size_t(kBatch) * kSeq * kHidden, 1.0f, 70);
  Floats g = random_floats(x.size(), 1.0f, 71);

  BlockCase() {
    for (Tensor& t : params.tensors) {  // away from the initial point: norms near 1, not at 1
      const std::uint64_t seed = std::hash<std::string>{}(t.name);
      if (t.shape.size() == 2) {
        t.data = random_floats(t.size(), 1.0f / std::sqrt(float(t.shape[1])), seed);
      } else {
        t.data = random_floats(t.size(), 0.2f, seed);
        for (float& v : t.data) v += 1.0f;
      }
    }
    p = cpu::llama_block_params(&params, 0);
  }

  Floats forward(cpu::LlamaBlockCache* c) {
    pool.ensure(&c->x, x.size());
    std::copy(x.begin(), x.end(), c->x.begin());
    Floats out(x.size());
    cpu::llama_block_forward(p, shape, rope, tp, c, out.data(), &pool);
    return out;
  }

  double objective() {
    cpu::LlamaBlockCache c;
    const double value = dot(forward(&c), g);
    cpu::llama_block_release(&c, &pool);
    return value;
  }

  // I then W from a forwarded cache; returns the input gradient (the parameters' in their grad).
  Floats backward(cpu::LlamaBlockCache* c) {
    Floats d = g;
    cpu::llama_block_backward_input(p, shape, rope, tp, c, d.data(), &pool);
    cpu::llama_block_backward_weight(p, shape, tp, *c, &pool);
    cpu::llama_block_release(c, &pool);
    return d;
  }
};

Doubles ref_block(BlockCase& b) {
  const auto w = [&](const Tensor* t) { return to_double(t->data); };
  const int n = kBatch * kSeq, q = 16, kv = 8, ffn = 24;
  const double eps = b.shape.eps;
  const Doubles x = to_double(b.x);
  const Doubles inv = ref_inv_freq(b.model);
  const Doubles h = ref_rmsnorm(x, w(b.p.input_layernorm), n, kHidden, eps);
  const Doubles qs = ref_rope(ref_linear_t(h, w(b.p.q_proj), n, kHidden, q), n, kSeq, 4, 4, inv);
  const Doubles ks = ref_rope(ref_linear_t(h, w(b.p.k_proj), n, kHidden, kv), n, kSeq, 2, 4, inv);
  const Doubles vs = ref_linear_t(h, w(b.p.v_proj), n, kHidden, kv);
  const Doubles att = ref_attention(qs, ks, vs, {kBatch, kSeq, 4, 2, 4});
  const Doubles x1 = add(x, ref_linear_t(att, w(b.p.o_proj), n, q, kHidden));
  const Doubles h2 = ref_rmsnorm(x1, w(b.p.post_attention_layernorm), n, kHidden, eps);
  const Doubles act = ref_swiglu(ref_linear_t(h2, w(b.p.gate_proj), n, kHidden, ffn),
                                 ref_linear_t(h2, w(b.p.up_proj), n, kHidden, ffn));
  return add(x1, ref_linear_t(act, w(b.p.down_proj), n, ffn, kHidden));
}

TEST(LlamaBlock, ForwardMatchesTheLayerWrittenOut) {
  BlockCase b;
  cpu::LlamaBlockCache c;
  const Floats out = b.forward(&c);
  expect_near_all(out, ref_block(b), kBlockForwardTolerance, "layer output");
}

TEST(LlamaBlock, GradientsMatchFiniteDifferences) {
  BlockCase b;
  b.params.zero_grad();
  cpu::LlamaBlockCache c;
  b.forward(&c);
  const Floats d_x = b.backward(&c);
  auto objective = [&] { return b.objective(); };
  for (Tensor& t : b.params.tensors) {
    const Floats analytic = t.grad;
    expect_gradient(analytic, numeric_gradient(objective, &t.data), t.name);
  }
  expect_gradient(d_x, numeric_gradient(objective, &b.x), "input");
}

TEST(LlamaBlock, RecomputeFromTheInputGivesTheSameBits) {
  BlockCase plain;
  plain.params.zero_grad();
  cpu::LlamaBlockCache c;
  const Floats out = plain.forward(&c);
  const Floats d_x = plain.backward(&c);
  EXPECT_EQ(cpu::llama_block_cache_bytes(c), 0u);

  BlockCase checkpointed;
  checkpointed.params.zero_grad();
  cpu::LlamaBlockCache k;
  EXPECT_EQ(checkpointed.forward(&k), out);
  cpu::llama_block_keep_input_only(&k, &checkpointed.pool);
  EXPECT_EQ(cpu::llama_block_cache_bytes(k), plain.x.size() * sizeof(float));
  EXPECT_EQ(k.x, plain.x);
  Floats again(out.size());  // recompute from the kept input, as a checkpointed stage does
  cpu::llama_block_forward(checkpointed.p, checkpointed.shape, checkpointed.rope, checkpointed.tp, &k,
                           again.data(), &checkpointed.pool);
  EXPECT_EQ(again, out);
  EXPECT_EQ(checkpointed.backward(&k), d_x);
  for (const Tensor& t : plain.params.tensors) EXPECT_EQ(checkpointed.params.at(t.name).grad, t.grad) << t.name;
}

TEST(LlamaBlock, ARepeatedStepAllocatesNothingAndGivesTheSameBits) {
  BlockCase b;
  cpu::LlamaBlockCache c;
  const Floats out = b.forward(&c);
  const Floats d_x = b.backward(&c);
  const std::size_t allocations = b.pool.allocations();
  EXPECT_EQ(b.forward(&c), out);
  EXPECT_EQ(b.backward(&c), d_x);
  EXPECT_EQ(b.pool.allocations(), allocations);
}

// ---- the same layer split over a tensor-parallel group of 2 ----

// The collectives of a group of threads in one process: each rank publishes its buffer, all wait,
// each reads what it needs (sums in rank order), all wait again. Only what TensorParallel calls.
class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : sync_(size), slots_(std::size_t(size)) {}
  int size() const { return int(slots_.size()); }
  template <class Read>
  void exchange(int rank, float* mine, Read read) {
    slots_[std::size_t(rank)] = mine;
    sync_.arrive_and_wait();
    read(slots_);
    sync_.arrive_and_wait();
  }

 private:
  std::barrier<> sync_;
  std::vector<float*> slots_;
};

class ThreadTransport : public Transport {
 public:
  ThreadTransport(ThreadGroup* group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  bool accepts(MemorySpace space) const override { return space == MemorySpace::kHost; }
  Request isend(int, const Buffer&) override { throw Error(ErrorCategory::kInternal, "isend"); }
  Request irecv(int, const Buffer&) override { throw Error(ErrorCategory::kInternal, "irecv"); }
  void wait(Request) override {}
  void allreduce_sum(const Buffer& data) override {
    Floats sum(data.count(), 0.0f);
    group_->exchange(rank_, data.host_data(), [&](const std::vector<float*>& all) {
      for (const float* part : all) {
        for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
      }
    });
    std::copy(sum.begin(), sum.end(), data.host_data());  // after every rank has read it
  }
  void allreduce_sum(double*, std::size_t) override { throw Error(ErrorCategory::kInternal, "sum"); }
  void allgather(const Buffer& mine, const Buffer& all) override {
    const std::size_t n = mine.count();
    group_->exchange(rank_, mine.host_data(), [&](const std::vector<float*>& parts) {
      for (std::size_t r = 0; r < parts.size(); ++r) std::copy(parts[r], parts[r] + n, all.host_data() + r * n);
    });
  }
  void reduce_scatter_sum(const Buffer& all, const Buffer& mine) override {
    const std::size_t n = mine.count();
    group_->exchange(rank_, all.host_data(), [&](const std::vector<float*>& parts) {
      float* out = mine.host_data();
      std::fill(out, out + n, 0.0f);
      for (const float* part : parts) {
        for (std::size_t i = 0; i < n; ++i) out[i] += part[std::size_t(rank_) * n + i];
      }
    });
  }
  void broadcast(double*, std::size_t, int) override {}
  void barrier() override {}
  std::unique_ptr<Transport> split(int, int) override { return nullptr; }
  std::vector<std::string> gather_bytes(const std::string&) override { return {}; }

 private:
  ThreadGroup* group_;
  int rank_;
};

// Megatron's cut of a Llama layer's tensor: q/k/v/gate/up by output rows, o/down by input
// columns, the norms whole.
Shard llama_shard(const std::string& name, int rank, int parts) {
  const bool column = name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight");
  const bool row = name.ends_with("_proj.weight") && !column;
  return {row ? 0 : column ? 1 : -1, 1, rank, parts};
}

// One rank's run of the whole layer's case: its pieces of the parameters, its rows of x and g.
struct RankResult {
  Floats out, d_x;
  ParameterSet params;
};

RankResult run_rank(const BlockCase& whole, Transport* group, bool sequence_parallel) {
  const int rank = group->rank();
  const int parts = group->size();
  RankResult r;
  for (const Tensor& t : whole.params.tensors) {
    const Shard shard = llama_shard(t.name, rank, parts);
    Tensor piece{t.name, piece_shape(t.shape, shard, t.name), {}, {}, shard, t.shape};
    std::int64_t n = 1;
    for (std::int64_t d : piece.shape) n *= d;
    piece.data.resize(std::size_t(n));
    piece.grad.assign(std::size_t(n), 0.0f);
    copy_piece(t.data.data(), t.shape, shard, piece.data.data());
    r.params.tensors.push_back(std::move(piece));
  }
  const cpu::TensorParallel tp(group, sequence_parallel);
  const int n = kBatch * kSeq;
  const std::size_t first = std::size_t(tp.first_local_row(n)) * kHidden;
  const std::size_t count = std::size_t(tp.local_rows(n)) * kHidden;
  cpu::LlamaShape shape = whole.shape;
  shape.heads /= parts;
  shape.kv_heads /= parts;
  shape.ffn /= parts;
  const cpu::LlamaBlockParams p = cpu::llama_block_params(&r.params, 0);
  cpu::BufferPool pool;
  cpu::LlamaBlockCache c;
  c.x.assign(whole.x.begin() + std::ptrdiff_t(first), whole.x.begin() + std::ptrdiff_t(first + count));
  r.out.resize(count);
  cpu::llama_block_forward(p, shape, whole.rope, tp, &c, r.out.data(), &pool);
  r.d_x.assign(whole.g.begin() + std::ptrdiff_t(first), whole.g.begin() + std::ptrdiff_t(first + count));
  cpu::llama_block_backward_input(p, shape, whole.rope, tp, &c, r.d_x.data(), &pool);
  cpu::llama_block_backward_weight(p, shape, tp, c, &pool);
  return r;
}

void expect_floats_near(const Floats& got, const Floats& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (float w : want) scale = std::max(scale, double(std::fabs(w)));
  // Another order of the same float32 sums (partial products summed over ranks): 1e-5.
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5 * scale) << what << "[" << i << "]";
}

TEST(LlamaBlock, TensorParallelPiecesGiveTheWholeLayersResults) {
  BlockCase whole;
  whole.params.zero_grad();
  cpu::LlamaBlockCache c;
  const Floats out = whole.forward(&c);
  const Floats d_x = whole.backward(&c);
  for (bool sequence_parallel : {false, true}) {
    const std::string what = sequence_parallel ? " (SP)" : " (no SP)";
    ThreadGroup group(2);
    std::vector<RankResult> results(2);
    {
      std::vector<std::jthread> ranks;
      for (int rank = 0; rank < 2; ++rank) {
        ranks.emplace_back([&, rank] {
          ThreadTransport transport(&group, rank);
          results[std::size_t(rank)] = run_rank(whole, &transport, sequence_parallel);
        });
      }
    }
    Floats out_joined, d_x_joined;
    for (const RankResult& r : results) {
      out_joined.insert(out_joined.end(), r.out.begin(), r.out.end());
      d_x_joined.insert(d_x_joined.end(), r.d_x.begin(), r.d_x.end());
    }
    expect_floats_near(sequence_parallel ? out_joined : results[1].out, out, "out" + what);
    expect_floats_near(sequence_parallel ? d_x_joined : results[1].d_x, d_x, "d_x" + what);
    for (const Tensor& t : whole.params.tensors) {
      Floats got(t.size(), 0.0f);  // the pieces placed; a whole (norm) tensor's grads summed with SP
      for (const RankResult& r : results) {
        const Tensor& piece = r.params.at(t.name);
        if (!piece.shard.replicated()) {
          place_piece(piece.grad.data(), t.shape, piece.shard, got.data());
        } else if (sequence_parallel) {
          for (std::size_t i = 0; i < got.size(); ++i) got[i] += piece.grad[i];
        } else {
          got = piece.grad;
        }
      }
      expect_floats_near(got, t.grad, t.name + what);
    }
  }
}

// ---- parameters ----

TEST(LlamaParameters, NamesAndShapesMatchHuggingFaceForLlamaTiny) {
  const ModelConfig m = load_model("llama-tiny");
  const ParameterSet whole = llama_parameters(m, 0, m.layers + 1);
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> want = {{"model.embed_tokens.weight", {512, 64}}};
  for (int i = 0; i < 4; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    want.push_back({p + "input_layernorm.weight", {64}});
    want.push_back({p + "self_attn.q_proj.weight", {64, 64}});
    want.push_back({p + "self_attn.k_proj.weight", {32, 64}});  // 2 kv heads of dim 16
    want.push_back({p + "self_attn.v_proj.weight", {32, 64}});
    want.push_back({p + "self_attn.o_proj.weight", {64, 64}});
    want.push_back({p + "post_attention_layernorm.weight", {64}});
    want.push_back({p + "mlp.gate_proj.weight", {176, 64}});
    want.push_back({p + "mlp.up_proj.weight", {176, 64}});
    want.push_back({p + "mlp.down_proj.weight", {64, 176}});
  }
  want.push_back({"model.norm.weight", {64}});
  want.push_back({"lm_head.weight", {512, 64}});
  ASSERT_EQ(whole.tensors.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(whole.tensors[i].name, want[i].first) << i;
    EXPECT_EQ(whole.tensors[i].shape, want[i].second) << want[i].first;
    EXPECT_EQ(whole.tensors[i].grad.size(), whole.tensors[i].data.size()) << want[i].first;
  }
  EXPECT_EQ(static_cast<long long>(whole.parameter_count()), parameter_count(m));
  // Stages: the head stage without layer 0 (untied) holds no embedding; block indices are global.
  const ParameterSet head = llama_parameters(m, 3, 5);
  ASSERT_EQ(head.tensors.size(), 2u * 9 + 2);
  EXPECT_EQ(head.tensors.front().name, "model.layers.2.input_layernorm.weight");
  EXPECT_EQ(head.tensors.back().name, "lm_head.weight");
}

TEST(LlamaParameters, ATiedHeadHoldsItsOwnEmbeddingCopy) {
  ModelConfig m = load_model("llama-tiny");
  m.tied_embeddings = true;
  const ParameterSet head = llama_parameters(m, 5, 5);
  ASSERT_EQ(head.tensors.size(), 2u);
  EXPECT_EQ(head.tensors[0].name, "model.norm.weight");
  EXPECT_EQ(head.tensors[1].name, "model.embed_tokens.weight");
  EXPECT_EQ(head.tensors[1].shape, (std::vector<std::int64_t>{512, 64}));
  const ParameterSet whole = llama_parameters(m, 0, 5);
  EXPECT_EQ(whole.find("lm_head.weight"), nullptr);
  EXPECT_EQ(static_cast<long long>(whole.parameter_count()), parameter_count(m));
}

TEST(LlamaParameters, RejectsOtherModelsAndLayerRanges) {
  const ModelConfig m = load_model("llama-tiny");
  for (auto [first, last] : {std::pair{-1, 2}, std::pair{0, 6}, std::pair{3, 2}}) {
    try {
      llama_parameters(m, first, last);
      ADD_FAILURE() << first << ".." << last << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    }
  }
  try {
    llama_parameters(load_model("gpt2-tiny"), 0, 1);
    ADD_FAILURE() << "GPT-2 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("gpt2-tiny"), std::string::npos) << e.what();
  }
}

TEST(LlamaParameters, InitIsHuggingFacesAndDeterministicPerName) {
  const ModelConfig m = load_model("llama-tiny");
  ParameterSet whole = llama_parameters(m, 0, 5);
  init_llama(&whole, 42);
  for (const Tensor& t : whole.tensors) {
    if (t.shape.size() == 1) {
      EXPECT_EQ(t.data, Floats(t.size(), 1.0f)) << t.name;
      continue;
    }
    double sum = 0, squares = 0;
    for (float v : t.data) {
      sum += v;
      squares += double(v) * v;
    }
    const double n = double(t.size());
    // Sample mean and standard deviation of >= 2048 draws of N(0, 0.02): within 5 standard errors.
    EXPECT_NEAR(sum / n, 0.0, 5 * 0.02 / std::sqrt(n)) << t.name;
    EXPECT_NEAR(std::sqrt(squares / n), 0.02, 5 * 0.02 / std::sqrt(2 * n)) << t.name;
  }
  ParameterSet stage = llama_parameters(m, 2, 5);  // another layout: the same values per name
  init_llama(&stage, 42);
  for (const Tensor& t : stage.tensors) EXPECT_EQ(t.data, whole.at(t.name).data) << t.name;
  ParameterSet other = llama_parameters(m, 2, 5);
  init_llama(&other, 43);
  EXPECT_NE(other.at("lm_head.weight").data, stage.at("lm_head.weight").data);
}

}  // namespace
}  // namespace pp
