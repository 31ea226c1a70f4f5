// CPU (OpenBLAS) throughput of the stage model, single-threaded so that figures compare across
// machines and with the cost model's per-core rate.
//
//   BM_SgemmSquare/n        plain cblas_sgemm on (n, n) x (n, n): OpenBLAS's own peak here.
//   BM_BlockLinear/which    the sgemm of one block linear at GPT-2-small shapes (N = b*T = 4*64
//                           rows, C = 768), forward (x W), backward input (dY W^T) and backward
//                           weight (X^T dY), as the stage model calls them.
//   BM_StageBlock           one GPT-2-small block through StageModel: forward, I and W (attention,
//                           LayerNorm, GELU and copies included), counted as 3x its forward FLOPs.
// Counter: GFLOP/s = 2 m n k per sgemm (model FLOPs for BM_StageBlock) over wall time.

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <memory>
#include <random>
#include <vector>

#include "pp/runtime/parameters.h"
#include "pp/runtime/stage_model.h"

namespace {

constexpr int kRows = 4 * 64;  // b * T
constexpr int kHidden = 768;   // GPT-2 small

std::vector<float> random_floats(std::size_t n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

void set_rate(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * 1e-9 * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

// c (m, n) = op(a) op(b), row-major, timed.
void time_sgemm(benchmark::State& state, bool ta, bool tb, int m, int n, int k) {
  openblas_set_num_threads(1);
  const std::vector<float> a = random_floats(std::size_t(m) * k);
  const std::vector<float> b = random_floats(std::size_t(k) * n);
  std::vector<float> c(std::size_t(m) * n);
  const int lda = ta ? m : k;
  const int ldb = tb ? k : n;
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * m * n * k);
}

void BM_SgemmSquare(benchmark::State& state) {
  const int n = int(state.range(0));
  time_sgemm(state, false, false, n, n, n);
}
BENCHMARK(BM_SgemmSquare)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond);

// The four linears of a block as (in, out): c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj; for each
// the forward, input-gradient and weight-gradient sgemm (pass 0, 1, 2).
void BM_BlockLinear(benchmark::State& state) {
  static const int kIn[] = {kHidden, kHidden, kHidden, 4 * kHidden};
  static const int kOut[] = {3 * kHidden, kHidden, 4 * kHidden, kHidden};
  const int in = kIn[state.range(0)];
  const int out = kOut[state.range(0)];
  switch (state.range(1)) {
    case 0: time_sgemm(state, false, false, kRows, out, in); break;  // Y = X W
    case 1: time_sgemm(state, false, true, kRows, in, out); break;   // dX = dY W^T
    default: time_sgemm(state, true, false, in, out, kRows); break;  // dW = X^T dY
  }
}
BENCHMARK(BM_BlockLinear)
    ->ArgNames({"linear", "pass"})
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);

void BM_StageBlock(benchmark::State& state) {
  openblas_set_num_threads(1);
  pp::ModelConfig model;
  model.name = "gpt2";
  model.hidden = kHidden;
  model.layers = 12;
  model.heads = 12;
  model.kv_heads = 12;
  model.ffn_hidden = 4 * kHidden;
  model.vocab = 50257;
  model.max_positions = 1024;
  model.tied_embeddings = true;
  const int b = 4;
  const int t = 64;
  pp::ParameterSet params = pp::gpt2_parameters(model, 1, 1);
  pp::init_gpt2(&params, model.layers, 1);
  pp::StageModel stage(model, 1, 1, b, t, 0, &params);
  const std::vector<float> x = random_floats(stage.activation_floats());
  std::vector<float> y(stage.activation_floats());
  std::vector<float> dx(stage.activation_floats());
  for (auto _ : state) {
    stage.forward(0, nullptr, x.data(), nullptr, y.data());
    stage.backward_input(0, x.data(), 1.0f, dx.data());
    stage.backward_weight(0);
    benchmark::DoNotOptimize(dx.data());
  }
  const double linears = 2.0 * kRows * 12.0 * kHidden * kHidden;
  const double attention = 2.0 * 2.0 * b * double(t) * t * kHidden;  // q k^T and att v, full (T, T)
  set_rate(state, 3.0 * (linears + attention));
}
BENCHMARK(BM_StageBlock)->Unit(benchmark::kMillisecond);

}  // namespace
