// One Llama decoder layer on the CPU: forward against the layer written out in double
// (llama_references.h), every gradient against central finite differences (gradient_check.h),
// recompute from its input only giving the same bits, a steady state that allocates nothing, and
// the layer split over a tensor-parallel group of 2 threads (with and without sequence
// parallelism) giving the whole layer's results.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cpu/buffer_pool.h"
#include "cpu/gqa_attention.h"
#include "cpu/llama_block.h"
#include "cpu/rope.h"
#include "cpu/tensor_parallel.h"
#include "gradient_check.h"
#include "llama_references.h"
#include "pp/error.h"
#include "pp/model.h"
#include "pp/runtime/llama_parameters.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/sharding.h"
#include "pp/runtime/transport.h"

namespace pp {
namespace {

using namespace llama_test;  // the references and checks
using test::numeric_gradient;
using test::random_floats;

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

// Megatron's cut of a Llama layer's tensor (pp's rule): q/k/v/gate/up by output rows, o/down by
// input columns, the norms whole.
Shard tensor_parallel_shard_of(const std::string& name, int rank, int parts) {
  return tensor_parallel_shard(name, ModelFamily::kLlama, rank, parts);
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
    const Shard shard = tensor_parallel_shard_of(t.name, rank, parts);
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

}  // namespace
}  // namespace pp
