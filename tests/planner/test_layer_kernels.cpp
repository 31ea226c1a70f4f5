// The kernel-level time model (kernel_time.h, layer_kernels.h) against closed forms, brute force
// and the per-layer times Korthikanti et al. 2022 measured (Table 4: one 22B layer, A100, tp 8).
#include <gtest/gtest.h>

#include <cmath>

#include "pp/error.h"
#include "pp/planner/kernel_time.h"
#include "pp/planner/layer_kernels.h"
#include "pp/planner/layout_costs.h"
#include "pp/planner/memory_model.h"

namespace pp {
namespace {

GpuSpec plain_gpu() {
  GpuSpec g;
  g.peak_flops["bf16"] = 100e12;
  g.achievable_fraction = 0.8;
  g.memory_bandwidth_bytes_per_s = 1e12;
  return g;
}

TEST(KernelTime, WithoutShapeEffectsAGemmRunsAtTheAchievableFraction) {
  const GpuSpec g = plain_gpu();
  const GemmShape big{4096, 4096, 4096};
  EXPECT_DOUBLE_EQ(gemm_efficiency(big, g), 0.8);
  EXPECT_NEAR(gemm_ms(big, g), big.flops() / (100e12 * 0.8) * 1e3, 1e-12);
}

// Brute force: count the tiles, fill SMs wave by wave.
double waves_by_counting(double m, double n, int tm, int tn, int sms) {
  long long tiles = 0;
  for (double r = 0; r < m; r += tm) {
    for (double c = 0; c < n; c += tn) ++tiles;
  }
  long long waves = 0;
  for (long long left = tiles; left > 0; left -= sms) ++waves;
  return double(waves);
}

TEST(KernelTime, WaveQuantisationMatchesCountingTiles) {
  GpuSpec g = plain_gpu();
  g.kernels.sm_count = 108;
  g.kernels.tile_m = 256;
  g.kernels.tile_n = 128;
  for (double m : {256.0, 2048.0, 8192.0, 8000.0}) {
    for (double n : {128.0, 768.0, 2304.0, 6144.0}) {
      const GemmShape s{m, n, 8192};
      const double full = m * n / (waves_by_counting(m, n, 256, 128, 108) * 108 * 256 * 128);
      const double transposed = m * n / (waves_by_counting(m, n, 128, 256, 108) * 108 * 128 * 256);
      const double half = 0.9 * m * n / (waves_by_counting(m, n, 128, 128, 108) * 108 * 128 * 128);
      EXPECT_NEAR(gemm_efficiency(s, g), 0.8 * std::max({full, transposed, half}), 1e-12) << m << " x " << n;
      EXPECT_LE(gemm_efficiency(s, g), 0.8);
    }
  }
  // One tile more than a wave costs a second wave (or smaller tiles).
  const GemmShape exact{256.0 * 108, 128, 8192};
  const GemmShape one_more{256.0 * 109, 128, 8192};
  EXPECT_GT(gemm_ms(one_more, g) / gemm_ms(exact, g), 1.5);
}

TEST(KernelTime, ShortReductionsAreSlowerPerFlop) {
  GpuSpec g = plain_gpu();
  g.kernels.gemm_k_overhead = 64;
  EXPECT_NEAR(gemm_efficiency({4096, 4096, 64}, g), 0.8 * 0.5, 1e-12);
  EXPECT_NEAR(gemm_efficiency({4096, 4096, 192}, g), 0.8 * 0.75, 1e-12);
}

TEST(KernelTime, MemoryBoundKernelsAndCollectivesFollowTheirClosedForms) {
  GpuSpec g = plain_gpu();
  g.kernels.memory_fraction = 0.5;
  g.kernels.kernel_launch_s = 5e-6;
  EXPECT_NEAR(memory_bound_ms(1e9, g), 1e9 / 0.5e12 * 1e3 + 5e-3, 1e-12);
  // A GEMM too thin to be compute-bound streams its operands.
  const GemmShape thin{1, 1 << 20, 1024};
  EXPECT_NEAR(gemm_ms(thin, g), thin.bytes() / 0.5e12 * 1e3 + 5e-3, 1e-9);

  const LinkSpec link{300e9, 2e-6, 200e9};
  EXPECT_NEAR(all_reduce_ms(1e8, 8, link), (2.0 * 7 / 8 * 1e8 / 200e9 + 14 * 2e-6) * 1e3, 1e-12);
  EXPECT_NEAR(all_gather_ms(1e8, 8, link), (7.0 / 8 * 1e8 / 200e9 + 7 * 2e-6) * 1e3, 1e-12);
  EXPECT_EQ(all_reduce_ms(1e8, 1, link), 0);
  const LinkSpec unstated{300e9, 0, 0};  // no bus bandwidth: the link's
  EXPECT_NEAR(all_gather_ms(3e8, 2, unstated), 0.5 * 1e3 * 3e8 / 300e9, 1e-12);
}

struct Table4Row {
  const char* mode;
  bool sequence_parallel;
  int checkpoint_interval;
  bool selective;
  double forward_ms, backward_ms;  // measured, one layer
};

// Korthikanti et al. 2022 Table 4: the 22B model's layer (h 6144, 64 heads), micro-batch 4 x 2048,
// tp 8, A100 80GB, dropout, attention unfused. The shipped A100 cluster and korthikanti-22b.
TEST(LayerKernels, ReproduceKorthikantiTable4Within10Percent) {
  const ModelConfig model = load_model("korthikanti-22b");
  const ClusterSpec cluster = load_cluster("dgx-a100-80gb");
  const Table4Row rows[] = {{"no recompute", false, 0, false, 7.7, 11.9},
                            {"sequence parallelism", true, 0, false, 7.2, 11.8},
                            {"full recompute", false, 1, false, 7.7, 19.5},
                            {"selective recompute", false, 0, true, 7.7, 13.2},
                            {"selective + sequence", true, 0, true, 7.2, 13.1}};
  const ModelProfile profile = analytic_profile(model, 4, 2048);
  for (const Table4Row& row : rows) {
    MemoryOptions memory;
    memory.flash_attention = false;
    memory.dropout = true;
    memory.sequence_parallel = row.sequence_parallel;
    Layout layout;
    layout.tp = 8;
    layout.microbatch_size = 4;
    layout.sequence_parallel = row.sequence_parallel;
    layout.checkpoint_interval = row.checkpoint_interval;
    layout.selective_recompute = row.selective;
    const LayerCost block = layer_costs(profile, model, cluster, layout, memory)[1];
    EXPECT_NEAR(block.forward_ms / row.forward_ms, 1.0, 0.10) << row.mode;
    EXPECT_NEAR(block.backward_ms / row.backward_ms, 1.0, 0.10) << row.mode;
  }
}

TEST(LayerKernels, SelectiveRecomputeKeepsKorthikantisActivations) {
  // Selective recompute with sequence parallelism keeps 34*s*b*h/t bytes per layer (f = 4h, with
  // dropout), Korthikanti et al. 2022 eq. 6; without either, s*b*h*(10 + 24/t).
  const ModelConfig model = load_model("korthikanti-22b");
  const ClusterSpec cluster = load_cluster("dgx-a100-80gb");
  const double sbh = 2048.0 * 1 * 6144;
  for (bool sp : {true, false}) {
    MemoryOptions memory;
    memory.flash_attention = false;
    memory.dropout = true;
    memory.sequence_parallel = sp;
    Layout layout;
    layout.tp = 8;
    layout.sequence_parallel = sp;
    layout.selective_recompute = true;
    const LayerCost block = layer_costs(analytic_profile(model, 1, 2048), model, cluster, layout, memory)[1];
    EXPECT_DOUBLE_EQ(block.activation_bytes, sp ? 34 * sbh / 8 : sbh * (10 + 24.0 / 8));
    EXPECT_GT(block.recompute_ms, 0);
  }
}

TEST(LayerKernels, BackwardOverlapHidesCommunicationBehindWeightGradients) {
  const ModelConfig model = load_model("korthikanti-22b");
  ClusterSpec cluster = load_cluster("dgx-a100-80gb");
  cluster.gpu.kernels.overlap_cost = 0;
  KernelContext c{&model, 4, 2048, 8, false, false, true, &cluster.gpu, &cluster.intra_node};
  const LayerKernels fast = layer_kernels(LayerKind::kBlock, c);
  // NVLink fast enough that the wgrad GEMMs hide the backward all-reduces entirely: the
  // backward's only communication left is none; the forward keeps its two all-reduces.
  double backward_comm = 0, forward_comm = 0;
  for (const Kernel& k : fast.backward) backward_comm += k.kind == KernelKind::kCommunication ? k.ms : 0;
  for (const Kernel& k : fast.forward) forward_comm += k.kind == KernelKind::kCommunication ? k.ms : 0;
  EXPECT_EQ(backward_comm, 0);
  EXPECT_NEAR(forward_comm, 2 * all_reduce_ms(2.0 * 4 * 2048 * 6144, 8, cluster.intra_node), 1e-12);
  // With the cost of overlap, hidden communication still slows the backward.
  cluster.gpu.kernels.overlap_cost = 0.5;
  EXPECT_GT(layer_kernels(LayerKind::kBlock, c).backward_ms(), fast.backward_ms());
}

TEST(LayerKernels, FlashAttentionDoesHalfTheCausalWork) {
  const ModelConfig model = load_model("llama3-8b");
  GpuSpec gpu = plain_gpu();
  gpu.kernels.attention_fraction = 0.5;
  const LinkSpec link{450e9, 0, 0};
  KernelContext c{&model, 1, 8192, 1, true, true, false, &gpu, &link};
  const LayerKernels k = layer_kernels(LayerKind::kBlock, c);
  const double flops = 4.0 * 8192 * 8192 * 4096 / 2;  // 4*b*s^2*h, causal half
  EXPECT_NEAR(k.attention_core_forward_ms(), flops / (100e12 * 0.5) * 1e3, 1e-9);
  // The weight-gradient GEMMs are the forward's linear FLOPs over again.
  const double linear = 2.0 * 8192 * 4096 * (2 * 4096 + 2 * 1024) + 3 * 2.0 * 8192 * 4096 * 14336;
  EXPECT_NEAR(k.wgrad_ms(), linear / (100e12 * 0.8) * 1e3, 1e-6);
}

// Nemotron rotates half of each head's width, GPT-NeoX a quarter: the rotary kernel moves that
// share of a full rotation's 4*n*(h + kv) bytes; GPT-2 has none. Squared ReLU, like GELU, is an
// ungated MLP: 4*n*f bytes forward and 4*s*b*f of kept activations.
TEST(LayerKernels, PartialRotaryAndUngatedFamilies) {
  const GpuSpec gpu = plain_gpu();
  const LinkSpec link{};
  auto rotary_ms = [&](const ModelConfig& m) {
    const KernelContext c{&m, 1, 4096, 1, false, true, false, &gpu, &link};
    for (const Kernel& k : layer_kernels(LayerKind::kBlock, c).forward) {
      if (std::string(k.name) == "rotary") return k.ms;
    }
    return 0.0;
  };
  ModelConfig nemotron = load_model("nemotron4-340b");
  const double half = rotary_ms(nemotron);
  const double bytes = 4.0 * 4096 * (nemotron.hidden + nemotron.kv_dim());
  EXPECT_NEAR(half, memory_bound_ms(0.5 * bytes, gpu), 1e-12);
  nemotron.partial_rotary = 1;
  EXPECT_NEAR(rotary_ms(nemotron), memory_bound_ms(bytes, gpu), 1e-12);
  EXPECT_EQ(rotary_ms(load_model("gpt2-124m")), 0.0);
  const ModelConfig neox = load_model("gpt-neox-20b");
  EXPECT_NEAR(rotary_ms(neox), memory_bound_ms(0.25 * 4.0 * 4096 * 2 * neox.hidden, gpu), 1e-12);
  // An ungated MLP keeps its input and activation output: 4*s*b*f, against SwiGLU's 6*s*b*f.
  MemoryOptions o;
  ModelConfig gated = nemotron;
  gated.family = ModelFamily::kLlama;
  EXPECT_NEAR(block_activation_bytes(gated, 1, 4096, 8, o) - block_activation_bytes(nemotron, 1, 4096, 8, o),
              2.0 * 4096 * nemotron.ffn_hidden / 8, 1.0);
}

// FP8: the fp8 peak at fp8_fraction, 1-byte operands; the k overhead is time, so it counts twice
// the elements at twice the rate; no fp8 peak is an input error.
TEST(KernelTime, Fp8GemmsRunAtTheFp8PeakAndFraction) {
  GpuSpec g = plain_gpu();
  const GemmShape big{4096, 4096, 4096};
  EXPECT_THROW(gemm_ms(big, g, GemmPrecision::kFp8), Error);
  g.peak_flops["fp8"] = 200e12;
  g.kernels.fp8_fraction = 0.6;
  EXPECT_NEAR(gemm_ms(big, g, GemmPrecision::kFp8), big.flops() / (200e12 * 0.6) * 1e3, 1e-12);
  g.kernels.gemm_k_overhead = 64;
  EXPECT_NEAR(gemm_efficiency(big, g, GemmPrecision::kFp8), 0.6 * 4096 / (4096 + 128), 1e-12);
  EXPECT_NEAR(gemm_efficiency(big, g), 0.8 * 4096 / (4096 + 64), 1e-12);
  // A skinny product is bound by its bytes: 1 per input element, 2 per output element.
  const GemmShape skinny{65536, 8, 65536};
  EXPECT_NEAR(gemm_ms(skinny, g, GemmPrecision::kFp8),
              (65536.0 * 65536 + 65536.0 * 8 + 2 * 65536.0 * 8) / 1e12 * 1e3, 1e-9);
}

// Under fp8 a block keeps the FP8 copies its linear layers read (1 byte) where it kept bf16
// inputs: the QKV and MLP inputs (sequence-parallel), the attention output and the MLP's
// activation output (split over t): s*b*h*(2/t_sp) + s*b*(h + f)/t fewer bytes.
TEST(Memory, Fp8KeepsOneByteLinearInputs) {
  const ModelConfig m = load_model("llama3-70b");
  MemoryOptions bf16, fp8;
  fp8.fp8 = true;
  const double s = 8192, h = double(m.hidden), f = double(m.ffn_hidden);
  for (bool sp : {false, true}) {
    bf16.sequence_parallel = fp8.sequence_parallel = sp;
    const double saved = 2 * s * h / (sp ? 4 : 1) + s * (h + f) / 4;
    EXPECT_NEAR(block_activation_bytes(m, 1, 8192, 4, bf16) - block_activation_bytes(m, 1, 8192, 4, fp8), saved, 1);
  }
}

// The blocks' four linear layers run in FP8 with a cast before each (forward) and before each
// backward pair; attention and the LM head stay bf16.
TEST(LayerKernels, Fp8CastsEachLinearAndKeepsTheHeadInBf16) {
  const ModelConfig m = load_model("llama3-8b");
  const ClusterSpec h100 = load_cluster("dgx-h100");
  auto kernels = [&](LayerKind kind, bool fp8) {
    const KernelContext c{&m, 1, 8192, 1, false, true, false, &h100.gpu, &h100.intra_node, false, fp8};
    return layer_kernels(kind, c);
  };
  int casts = 0;
  const LayerKernels block = kernels(LayerKind::kBlock, true);
  for (const auto* list : {&block.forward, &block.backward}) {
    for (const Kernel& k : *list) casts += std::string(k.name) == "fp8 cast-transpose";
  }
  EXPECT_EQ(casts, 8);
  EXPECT_LT(block.forward_ms(), kernels(LayerKind::kBlock, false).forward_ms());
  EXPECT_DOUBLE_EQ(kernels(LayerKind::kHead, true).forward_ms(), kernels(LayerKind::kHead, false).forward_ms());
}

}  // namespace
}  // namespace pp
