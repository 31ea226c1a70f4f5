// The search's choices beyond the layout's degrees: the distributed optimizer, tensor-parallel
// overlap and every virtual-stage count, each checked against a closed form; and the memory of
// an interleaved GPT-3 175B layout against Korthikanti's per-layer activations and Megatron-LM's
// count of micro-batches in flight (docs/cost-model.md, "Memory beside Calculon").
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "plan_request.h"
#include "pp/error.h"
#include "pp/planner/kernel_time.h"
#include "pp/planner/layer_kernels.h"
#include "pp/planner/memory_model.h"
#include "pp/planner/plan_search.h"

namespace pp {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// A 1F1B layout of micro-batch size 1 with these degrees and micro-batch count.
Layout degrees(int tp, int cp, int pp, int dp, int microbatches) {
  Layout l;
  l.tp = tp;
  l.cp = cp;
  l.pp = pp;
  l.dp = dp;
  l.microbatches = microbatches;
  return l;
}

Layout gpt3_interleaved_layout() {
  Layout l = degrees(8, 1, 8, 16, 96);
  l.schedule = "interleaved";
  l.virtual_stages = 4;
  l.checkpoint_interval = 0;
  return l;
}

// GPT-3 175B, tp 8 pp 8 dp 16, micro-batch 1, V 4, no recompute: pipeline rank 1 holds 12 blocks
// (4 chunks of 3). Its peak is Megatron-LM's 18 bytes per parameter of its blocks (12h^2 + 13h
// each, split over tp) plus, per Megatron-LM's interleaved warm-up, (2(p-r-1) + (V-1)p + 1)
// chunks of activations alive, each 3 blocks of Korthikanti's per-block bytes.
double expected_rank1_bytes(double per_block_activation) {
  const double h = 12288;
  const double block_params = 12 * h * h + 13 * h;
  const int p = 8, v = 4, r = 1;
  const double chunks_alive = 2 * (p - r - 1) + (v - 1) * p + 1;
  return 12 * block_params / 8 * 18 + chunks_alive * 3 * per_block_activation;
}

double rank1_peak(const PlanRequest& r) {
  const Candidate c = evaluate_layout(r, analytic_profile(r.model, 1, 2048), gpt3_interleaved_layout());
  EXPECT_TRUE(c.fits) << c.why_not;
  int blocks = 0;
  for (const StagePlan& s : c.plan.stages) {
    if (s.rank == 1) blocks += s.last_layer - s.first_layer + 1;
  }
  EXPECT_EQ(blocks, 12);
  return c.plan.stages.at(1).peak_memory_bytes;
}

TEST(MemoryBesideCalculon, Gpt3InterleavedWithoutFlashAttentionIsKorthikantiWithSequenceParallelism) {
  PlanRequest r = request("gpt3-175b", "dgx-a100-80gb", 1024, 1536, 2048);
  r.memory_limit_bytes = 400 * kGiB;
  r.memory.flash_attention = false;
  r.memory.dropout = true;
  // Korthikanti et al. 2022, sequence parallelism: s*b*h*(34/t + 5*a*s/(h*t)) bytes per block.
  const double sbh = 2048.0 * 12288;
  const double korthikanti = sbh * (34.0 / 8 + 5.0 * 96 * 2048 / (12288.0 * 8));
  EXPECT_NEAR(rank1_peak(r) / expected_rank1_bytes(korthikanti), 1.0, 1e-9);
  // 37 chunks of 3 blocks of 342 MiB: 37.1 GiB of activations, where Calculon's 47.3 GiB also
  // keeps the all-gathered inputs of the QKV and first MLP GEMMs (docs/cost-model.md).
  EXPECT_NEAR(37 * 3 * korthikanti / kGiB, 37.1, 0.05);
}

TEST(MemoryBesideCalculon, Gpt3InterleavedWithFlashAttentionKeepsNoScores) {
  PlanRequest r = request("gpt3-175b", "dgx-a100-80gb", 1024, 1536, 2048);
  r.memory_limit_bytes = 400 * kGiB;
  // Korthikanti's 34*s*b*h less the two dropout masks (no dropout), and instead of the
  // 5*a*s^2*b scores the fp32 softmax statistics a fused kernel keeps, 4*a*s*b.
  const double sbh = 2048.0 * 12288;
  const double per_block = 32 * sbh / 8 + 4.0 * 96 * 2048 / 8;
  EXPECT_NEAR(rank1_peak(r) / expected_rank1_bytes(per_block), 1.0, 1e-9);
}

// A fixed layout's step end and memory, with the gradient reduction not overlapped.
Candidate evaluated(bool distributed) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 16, 64, 4096);
  r.overlap_dp_allreduce = false;
  r.memory_limit_bytes = 400 * kGiB;
  Layout l = degrees(2, 1, 2, 4, 16);
  l.distributed_optimizer = distributed;
  return evaluate_layout(r, analytic_profile(r.model, 1, 4096), l);
}

TEST(DistributedOptimizer, ShardsTheStateAndTheStepAndSplitsTheReduction) {
  const Candidate whole = evaluated(false);
  const Candidate sharded = evaluated(true);
  ASSERT_TRUE(whole.fits && sharded.fits);
  const ClusterSpec cluster = load_cluster("dgx-h100");
  const LinkSpec& link = cluster.intra_node;  // tp x dp = 8 GPUs: one node
  for (int rank = 0; rank < 2; ++rank) {
    double params = 0;
    for (const StagePlan& s : whole.plan.stages) {
      for (int i = s.first_layer; i <= s.last_layer; ++i) {
        if (s.rank == rank) params += whole.costs[i].static_bytes / 18;
      }
    }
    // The optimizer step touches a quarter of the parameters.
    EXPECT_NEAR(sharded.plan.optimizer_ms[rank] * 4, whole.plan.optimizer_ms[rank], 1e-9);
    // fp32 gradients: an all-reduce of 4 bytes per parameter, or a ring reduce-scatter of them
    // and an all-gather of the 2-byte weights, each (n-1)/n of its bytes at bus bandwidth.
    const double bus = link.bus_bandwidth_bytes_per_s;
    const double ring = 3.0 / 4 * 4 * params / bus + 3 * link.latency_s;
    EXPECT_NEAR(whole.plan.reduce_ms[rank], 2 * ring * 1e3, 1e-6);
    const double gather = 3.0 / 4 * 2 * params / bus + 3 * link.latency_s;
    EXPECT_NEAR(sharded.plan.reduce_ms[rank], (ring + gather) * 1e3, 1e-6);
    // State: 18 bytes per parameter against 6 + 12/4.
    const double saved = params * 12 * (1 - 1.0 / 4);
    EXPECT_NEAR(whole.plan.stages[rank].peak_memory_bytes - sharded.plan.stages[rank].peak_memory_bytes, saved,
                1e-6 * saved);
  }
}

double block_forward_communication(double overlap_cost, bool overlap, bool sequence_parallel) {
  const ModelConfig model = load_model("korthikanti-22b");
  GpuSpec gpu = load_cluster("dgx-a100-80gb").gpu;
  gpu.kernels.overlap_cost = overlap_cost;
  const LinkSpec link = load_cluster("dgx-a100-80gb").intra_node;
  KernelContext c{&model, 4, 2048, 8, sequence_parallel, false, true, &gpu, &link, overlap};
  const LayerKernels k = layer_kernels(LayerKind::kBlock, c);
  double total = 0;
  for (const Kernel& kernel : k.forward) total += kernel.kind == KernelKind::kCommunication ? kernel.ms : 0;
  return total;
}

TEST(TensorParallelOverlap, HidesEachCollectiveBehindItsGemm) {
  const double exposed = block_forward_communication(0.5, false, true);
  ASSERT_GT(exposed, 0);
  // Overlap that slows the GEMM by all it hides gains nothing.
  EXPECT_NEAR(block_forward_communication(1.0, true, true), exposed, 1e-9);
  // Each of the four all-gathers or reduce-scatters (of 4 x 2048 tokens x 6144 bf16 values over
  // 8 GPUs) runs beside its GEMM (qkv, projection, MLP in, MLP out), and costs what that GEMM does
  // not hide, plus overlap_cost times what it does.
  const GpuSpec gpu = load_cluster("dgx-a100-80gb").gpu;
  const double collective = all_gather_ms(8192.0 * 6144 * 2, 8, load_cluster("dgx-a100-80gb").intra_node);
  const double h = 6144, f = 4 * h, n = 8192;
  const GemmShape gemms[] = {{n, 3 * h / 8, h}, {n, h, h / 8}, {n, f / 8, h}, {n, h, f / 8}};
  double unhidden = 0, hidden = 0;
  for (const GemmShape& g : gemms) {
    unhidden += std::max(0.0, collective - gemm_ms(g, gpu));
    hidden += std::min(collective, gemm_ms(g, gpu));
  }
  EXPECT_NEAR(exposed, 4 * collective, 1e-9);
  EXPECT_NEAR(block_forward_communication(0.0, true, true), unhidden, 1e-9);
  EXPECT_NEAR(block_forward_communication(0.5, true, true), unhidden + 0.5 * hidden, 1e-9);
  EXPECT_LT(block_forward_communication(0.5, true, true), exposed);
  // Without sequence parallelism there are all-reduces, which tp overlap does not split.
  EXPECT_NEAR(block_forward_communication(0.0, true, false), block_forward_communication(0.0, false, false), 1e-12);
}

std::set<int> virtual_stages_tried(int pp) {
  PlanRequest r = request("gpt3-175b", "dgx-a100-80gb", 1024, 1536, 2048);
  r.fixed.tp = 8;
  r.fixed.pp = pp;
  r.fixed.schedule = "interleaved";
  std::set<int> out;
  for (const Layout& l : enumerate_layouts(r)) out.insert(l.virtual_stages);
  return out;
}

TEST(SearchChoices, EveryVirtualStageCountThatSplitsTheBlocksEvenly) {
  EXPECT_EQ(virtual_stages_tried(8), (std::set<int>{2, 3, 4, 6, 12}));  // 96 blocks / 8 = 12
  EXPECT_EQ(virtual_stages_tried(16), (std::set<int>{2, 3, 6}));
}

TEST(SearchChoices, AutoTriesBothWaysWhereTheyApplyAndKeepsFixedOnes) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 16, 64, 4096);
  auto seen = [&](auto field) {
    std::set<std::pair<int, bool>> out;  // (tp or dp, choice)
    for (const Layout& l : enumerate_layouts(r)) out.insert(field(l));
    return out;
  };
  const auto distributed = seen([](const Layout& l) { return std::make_pair(l.dp > 1 ? 2 : 1, l.distributed_optimizer); });
  EXPECT_EQ(distributed, (std::set<std::pair<int, bool>>{{1, false}, {2, false}, {2, true}}));
  // tp overlap only hides time, so auto takes it wherever it applies.
  const auto overlap = seen([](const Layout& l) { return std::make_pair(l.tp > 1 ? 2 : 1, l.tp_overlap); });
  EXPECT_EQ(overlap, (std::set<std::pair<int, bool>>{{1, false}, {2, true}}));
  r.fixed.distributed_optimizer = false;
  r.fixed.tp_overlap = false;
  for (const Layout& l : enumerate_layouts(r)) {
    EXPECT_FALSE(l.distributed_optimizer);
    EXPECT_FALSE(l.tp_overlap);
  }
  r.fixed.tp_overlap = true;
  r.memory.sequence_parallel = false;
  EXPECT_THROW(check_plan_request(r), Error);
  r.fixed.tp_overlap.reset();
  for (const Layout& l : enumerate_layouts(r)) EXPECT_FALSE(l.tp_overlap);
}

TEST(VersusAuto, AFixedLayoutIsSetBesideTheAutoChoiceWithWhy) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 16, 64, 4096);
  EXPECT_FALSE(search_plans(r).versus_auto.has_value());  // nothing fixed: nothing to compare
  const PlanSearchResult free = search_plans(r);
  r.fixed.pp = 16;  // a deep pipeline: two blocks per rank, much bubble
  r.fixed.schedule = "1f1b";
  const PlanSearchResult fixed = search_plans(r);
  ASSERT_FALSE(fixed.plans.empty());
  ASSERT_TRUE(fixed.versus_auto.has_value());
  const Plan& chosen = fixed.versus_auto->plan.plan;
  EXPECT_EQ(describe_layout(chosen.layout), describe_layout(free.plans.front().plan.layout));
  EXPECT_LT(chosen.predicted.step_time_s, fixed.plans.front().plan.predicted.step_time_s);
  const std::string& why = fixed.versus_auto->why;
  EXPECT_NE(why.find("step time vs every choice auto: more pipeline bubble"), std::string::npos) << why;
}

// Context parallelism: each GPU holds s/cp of every sequence, does 1/cp of the causal attention
// and passes key/value chunks around the ring in cp-1 steps beside it.
TEST(ContextParallelism, SplitsTheTokensAndTheAttentionAndRingsTheKeysAndValues) {
  const ModelConfig model = load_model("llama3-70b");
  GpuSpec gpu = load_cluster("dgx-h100").gpu;
  const LinkSpec link = load_cluster("dgx-h100").intra_node;
  auto block = [&](int cp, int seq, double overlap_cost) {
    gpu.kernels.overlap_cost = overlap_cost;
    const KernelContext c{&model, 1, seq, 8, true, true, false, &gpu, &link, false, false, cp, &link};
    return layer_kernels(LayerKind::kBlock, c);
  };
  auto kernel_ms = [](const std::vector<Kernel>& list, const std::string& name) {
    for (const Kernel& k : list) {
      if (name == k.name) return k.ms;
    }
    return -1.0;
  };
  // The linear layers see 32768/4 tokens: the same GEMMs as one GPU's 8192-token sequence.
  const LayerKernels cp4 = block(4, 32768, 0.5), cp1 = block(1, 8192, 0.5);
  EXPECT_DOUBLE_EQ(kernel_ms(cp4.forward, "qkv"), kernel_ms(cp1.forward, "qkv"));
  // 1/4 of the causal work of 32768 tokens is 4 times that of 8192.
  const double attention = kernel_ms(cp4.forward, "flash attention");
  const double launch = gpu.kernels.kernel_launch_s * 1e3;
  EXPECT_NEAR(attention - launch, 4 * (kernel_ms(cp1.forward, "flash attention") - launch), 1e-9);
  // The ring: 3 steps of 8192 tokens x 2 (K and V) x 1024/8 values x 2 bytes; free overlap hides
  // them behind a quarter of the attention each, full-cost overlap hides nothing.
  const double step = (link.latency_s + 2.0 * 8192 * 2 * (1024 / 8) / link.bandwidth_bytes_per_s) * 1e3;
  ASSERT_LT(step, attention / 4);
  EXPECT_EQ(kernel_ms(block(4, 32768, 0.0).forward, "context-parallel key/value ring"), -1.0);  // 0: not listed
  EXPECT_NEAR(kernel_ms(block(4, 32768, 1.0).forward, "context-parallel key/value ring"), 3 * step, 1e-12);
  // The ring is not tensor-parallel communication: that is the same as for 8192 tokens on one GPU.
  EXPECT_NEAR(block(4, 32768, 1.0).communication_ms(), block(1, 8192, 1.0).communication_ms(), 1e-12);
  // Activations are per token: a cp-split block keeps what a sequence of s/cp keeps.
  MemoryOptions o;
  PlanRequest r = request("llama3-70b", "dgx-h100", 64, 64, 32768);
  r.memory_limit_bytes = 400 * kGiB;
  Layout l = degrees(8, 4, 2, 1, 64);
  l.distributed_optimizer = true;
  const Candidate c = evaluate_layout(r, analytic_profile(r.model, 1, 32768), l);
  ASSERT_TRUE(c.fits) << c.why_not;
  EXPECT_DOUBLE_EQ(c.costs[1].activation_bytes, block_activation_bytes(r.model, 1, 8192, 8, o));
  // The optimizer state is sharded over the dp x cp = 4 GPUs holding the same weights.
  EXPECT_DOUBLE_EQ(c.costs[1].static_bytes,
                   analytic_profile(r.model, 1, 32768).layers[1].params / 8 * static_bytes_per_param(4, true, o));
}

TEST(ContextParallelism, TriedForLongSequencesAndCheckedWhenFixed) {
  auto tried = [](int seq) {
    PlanRequest r = request("llama3-70b", "dgx-h100", 256, 256, seq);
    std::set<int> out;
    for (const Layout& l : enumerate_layouts(r)) out.insert(l.cp);
    return out;
  };
  EXPECT_EQ(tried(4096), (std::set<int>{1}));
  EXPECT_EQ(tried(8192), (std::set<int>{1, 2}));
  EXPECT_EQ(tried(131072), (std::set<int>{1, 2, 4, 8, 16, 32}));
  PlanRequest r = request("llama3-70b", "dgx-h100", 64, 64, 8192);
  r.fixed.cp = 3;
  EXPECT_THROW(check_plan_request(r), Error);  // does not divide 64 GPUs
  r.fixed.cp = 2;
  r.seq_len = 8190;
  EXPECT_THROW(check_plan_request(r), Error);  // 2 x cp chunks
  r.seq_len = 8192;
  r.memory.flash_attention = false;
  EXPECT_THROW(check_plan_request(r), Error);
}

// FP8 weight copies are memory, not parameters: the optimizer step and the gradient reduction
// touch the same parameters in either precision.
TEST(DistributedOptimizer, Fp8WeightCopiesDoNotCountAsParameters) {
  PlanRequest r = request("llama3-8b", "dgx-h100", 16, 64, 4096);
  r.memory_limit_bytes = 400 * kGiB;
  const Layout l = degrees(2, 1, 2, 4, 16);
  const Candidate bf16 = evaluate_layout(r, analytic_profile(r.model, 1, 4096), l);
  r.memory.fp8 = true;
  const Candidate fp8 = evaluate_layout(r, analytic_profile(r.model, 1, 4096), l);
  ASSERT_TRUE(bf16.fits && fp8.fits);
  for (int rank = 0; rank < 2; ++rank) EXPECT_DOUBLE_EQ(fp8.plan.optimizer_ms[rank], bf16.plan.optimizer_ms[rank]);
  EXPECT_GT(fp8.costs[1].static_bytes, bf16.costs[1].static_bytes);
}

// A stage boundary crosses nodes as tp pieces of 1/tp each (sequence parallelism, or the
// scatter/gather optimisation without it, which then all-gathers the pieces over NVLink).
TEST(PipelineBoundary, EachTensorParallelRankSendsItsPiece) {
  for (bool sp : {true, false}) {
    PlanRequest r = request("llama3-70b", "dgx-h100", 64, 64, 4096);
    r.memory.sequence_parallel = sp;
    r.memory_limit_bytes = 400 * kGiB;
    Layout l = degrees(8, 1, 8, 1, 64);
    l.sequence_parallel = sp;
    const Candidate c = evaluate_layout(r, analytic_profile(r.model, 1, 4096), l);
    ASSERT_TRUE(c.fits) << c.why_not;
    const LinkSpec& ib = r.cluster.inter_node;  // tp 8 fills a node: every boundary crosses nodes
    const double activation = 2.0 * 4096 * 8192;
    const double expected = (ib.latency_s + activation / 8 / ib.bandwidth_bytes_per_s) * 1e3 +
                            (sp ? 0 : all_gather_ms(activation, 8, r.cluster.intra_node));
    EXPECT_NEAR(c.plan.stages[0].p2p_ms, expected, 1e-12) << sp;
  }
}

}  // namespace
}  // namespace pp
