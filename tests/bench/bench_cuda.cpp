// GPU benchmarks of the CUDA backend (they report an error and skip where there is no GPU):
//
//   BM_CudaLinear/shape/tf32   pp's cuBLASLt linear layers (LtMatmul) at GPT-2 124M's shapes,
//                              N = 8 x 1024 rows: c_attn (768 -> 2304), attn c_proj (768 -> 768),
//                              c_fc (768 -> 3072), mlp c_proj (3072 -> 768), the LM head (768 ->
//                              50257); forward with bias, TFLOP/s = 2 N in out / time.
//   BM_CudaCublasSgemm/shape/tf32  cublasSgemm on the same (m, n, k), the reference for the above:
//                              pp's figure over this one is the fraction of cuBLAS it reaches.
//   BM_CudaExecutorPerAction   the executor's cost per action on the GPU: a one-rank pipeline of a
//                              minimal GPT-2 (hidden 16, one token per sequence) for a step of 256
//                              micro-batches, wall time per action with the device drained at the
//                              step's end (dispatch, bookkeeping, kernel launches).
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/matmul.cuh"
#include "pp/lowering.h"
#include "pp/runtime/devices.h"
#include "pp/runtime/executor.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/schedule_generators.h"
#include "runtime/small_gpt2.h"

namespace {

constexpr int kRows = 8 * 1024;
struct Shape {
  const char* name;
  int in, out;
};
constexpr Shape kShapes[] = {{"c_attn", 768, 2304}, {"attn_proj", 768, 768}, {"c_fc", 768, 3072},
                             {"mlp_proj", 3072, 768}, {"lm_head", 768, 50257}};

bool have_gpu(benchmark::State& state) {
  if (pp::probe_devices().cuda_devices > 0) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

struct DeviceFloats {
  explicit DeviceFloats(std::size_t n) { cudaMalloc(&data, n * sizeof(float)); cudaMemset(data, 0, n * sizeof(float)); }
  ~DeviceFloats() { cudaFree(data); }
  float* data = nullptr;
};

void set_flops(benchmark::State& state, const Shape& s) {
  state.counters["TFLOP/s"] = benchmark::Counter(2.0 * kRows * s.in * s.out * 1e-12,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CudaLinear(benchmark::State& state) {
  if (!have_gpu(state)) return;
  const Shape& s = kShapes[state.range(0)];
  const bool tf32 = state.range(1) != 0;
  pp::cuda::LtMatmul matmul({tf32, true, std::size_t{32} << 20});
  DeviceFloats in(std::size_t(kRows) * s.in), w(std::size_t(s.in) * s.out), b(s.out), out(std::size_t(kRows) * s.out);
  cudaStream_t stream = nullptr;
  cudaStreamCreate(&stream);
  for (auto _ : state) {
    matmul.linear_forward(out.data, in.data, w.data, b.data, kRows, s.in, s.out, stream);
    cudaStreamSynchronize(stream);
  }
  cudaStreamDestroy(stream);
  state.SetLabel(s.name);
  set_flops(state, s);
}

void BM_CudaCublasSgemm(benchmark::State& state) {
  if (!have_gpu(state)) return;
  const Shape& s = kShapes[state.range(0)];
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    state.SkipWithError("cublasCreate failed");
    return;
  }
  cublasSetMathMode(handle, state.range(1) != 0 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
  DeviceFloats in(std::size_t(kRows) * s.in), w(std::size_t(s.in) * s.out), out(std::size_t(kRows) * s.out);
  const float one = 1, zero = 0;
  for (auto _ : state) {
    // Row-major out (N, out) = in (N, in) W (in, out), as column-major out^T = W^T in^T.
    cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, s.out, kRows, s.in, &one, w.data, s.out, in.data, s.in, &zero,
                out.data, s.out);
    cudaDeviceSynchronize();
  }
  cublasDestroy(handle);
  state.SetLabel(s.name);
  set_flops(state, s);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < static_cast<int>(std::size(kShapes)); ++i) {
    b->Args({i, 0});
    b->Args({i, 1});
  }
}
BENCHMARK(BM_CudaLinear)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CudaCublasSgemm)->Apply(shapes)->Unit(benchmark::kMillisecond);

void BM_CudaExecutorPerAction(benchmark::State& state) {
  if (!have_gpu(state)) return;
  pp::mpi_initialize(nullptr, nullptr);
  auto world = pp::mpi_world();
  const int microbatches = 256;
  const pp::ModelConfig model = pp::test::small_gpt2(16, 1, 1, 16, 4);
  const pp::Schedule schedule = pp::lower_communication(pp::generate_schedule("1f1b", {1, microbatches, 1}));
  auto backend = pp::cuda::make_cuda_backend(0, false);
  auto chunk = backend->make_chunk({&model, 0, 2, 1, 1, 0, pp::AdamWOptions{}, 1});
  auto buffers = backend->activation_pool(chunk->compute().activation_floats());
  auto pipeline = backend->transport_for(pp::mpi_world(), pp::TransportKind::kStagedMpi);
  pp::ExecutorSetup setup;
  setup.schedule = &schedule;
  setup.chunks = {&chunk->compute()};
  setup.buffers = buffers.get();
  setup.pipeline = pipeline.get();
  setup.drain = [&backend] { backend->synchronize(); };
  pp::Executor executor(std::move(setup));
  std::vector<std::int32_t> tokens(microbatches, 3), targets(microbatches, 5);
  const pp::StepInputs inputs{tokens.data(), targets.data(), 1.0f / microbatches};
  for (auto _ : state) {
    chunk->zero_grad();
    benchmark::DoNotOptimize(executor.run_step(inputs, [](pp::ActionKind) {}).loss_sum);
  }
  state.counters["seconds_per_action"] = benchmark::Counter(
      static_cast<double>(schedule.action_count()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CudaExecutorPerAction)->Unit(benchmark::kMillisecond);

}  // namespace
