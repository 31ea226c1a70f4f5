#include "head.h"

#include <algorithm>
#include <cstddef>

#include "cross_entropy.h"
#include "layernorm.h"
#include "matmul.h"

namespace pp::cpu {

HeadParams head_params(ParameterSet* parameters) {
  return {&parameters->at("ln_f.weight"), &parameters->at("ln_f.bias"), &parameters->at("wte.weight")};
}

namespace {

// Calls f on each float buffer of a cache (const or not), each once.
template <class Cache, class F>
void for_each_buffer(Cache& c, F f) {
  for (auto* v : {&c.x, &c.ln, &c.mean, &c.rstd, &c.ln_full, &c.probs, &c.d_ln}) f(v);
}

int vocab(const HeadShape& s) { return static_cast<int>(s.vocab.size()); }

// All N rows of the ln_f output.
const float* ln_rows(const HeadCache& c, const TensorParallel& tp) {
  return tp.sequence_parallel() ? c.ln_full.data() : c.ln.data();
}

}  // namespace

double head_forward(const HeadParams& p, const HeadShape& s, const TensorParallel& tp, const std::int32_t* targets,
                    HeadCache* c, BufferPool* pool) {
  const std::size_t n = static_cast<std::size_t>(s.rows);
  const std::size_t nl = static_cast<std::size_t>(tp.local_rows(s.rows));
  pool->ensure(&c->ln, nl * s.channels);
  pool->ensure(&c->mean, nl);
  pool->ensure(&c->rstd, nl);
  pool->ensure(&c->probs, n * vocab(s));
  c->targets.assign(targets, targets + n);
  layernorm_forward(c->ln.data(), c->mean.data(), c->rstd.data(), c->x.data(), p.ln_f_weight->data.data(),
                    p.ln_f_bias->data.data(), static_cast<int>(nl), s.channels);
  if (tp.sequence_parallel()) {
    pool->ensure(&c->ln_full, n * s.channels);
    tp.gather_rows(c->ln.data(), c->ln_full.data(), s.rows, s.channels);
  }
  gemm(false, true, s.rows, vocab(s), s.channels, 1.0f, ln_rows(*c, tp), s.channels, p.wte->data.data(), s.channels,
       0.0f, c->probs.data(), vocab(s));
  return softmax_cross_entropy_forward(c->probs.data(), c->targets.data(), s.vocab, s.rows, tp, &c->ce_stats);
}

void head_backward_input(const HeadParams& p, const HeadShape& s, const TensorParallel& tp, float loss_scale,
                         HeadCache* c, float* d_x, BufferPool* pool) {
  const int nl = tp.local_rows(s.rows);
  softmax_cross_entropy_backward(c->probs.data(), c->targets.data(), s.vocab, loss_scale, s.rows);
  std::vector<float> partial = pool->take(static_cast<std::size_t>(s.rows) * s.channels);  // (N, C)
  gemm(false, false, s.rows, s.channels, vocab(s), 1.0f, c->probs.data(), vocab(s), p.wte->data.data(), s.channels,
       0.0f, partial.data(), s.channels);
  pool->ensure(&c->d_ln, static_cast<std::size_t>(nl) * s.channels);
  tp.reduce_rows(partial.data(), c->d_ln.data(), s.rows, s.channels);
  pool->give(&partial);
  std::fill(d_x, d_x + c->d_ln.size(), 0.0f);
  layernorm_backward_input(d_x, c->d_ln.data(), c->x.data(), c->mean.data(), c->rstd.data(),
                           p.ln_f_weight->data.data(), nl, s.channels);
}

void head_release(HeadCache* c, BufferPool* pool) {
  for_each_buffer(*c, [&](std::vector<float>* v) { pool->give(v); });
}

std::size_t head_cache_bytes(const HeadCache& c) {
  std::size_t floats = 0;
  for_each_buffer(c, [&](const std::vector<float>* v) { floats += v->size(); });
  return floats * sizeof(float) + c.targets.size() * sizeof(std::int32_t);
}

void head_backward_weight(const HeadParams& p, const HeadShape& s, const TensorParallel& tp, const HeadCache& c,
                          BufferPool* pool) {
  gemm(true, false, vocab(s), s.channels, s.rows, 1.0f, c.probs.data(), vocab(s), ln_rows(c, tp), s.channels, 1.0f,
       p.wte->grad.data(), s.channels);
  std::vector<float> sums = pool->take(2 * static_cast<std::size_t>(s.channels));  // LayerNorm scratch
  layernorm_backward_weight(p.ln_f_weight->grad.data(), p.ln_f_bias->grad.data(), c.d_ln.data(), c.x.data(),
                            c.mean.data(), c.rstd.data(), tp.local_rows(s.rows), s.channels, sums.data());
  pool->give(&sums);
}

}  // namespace pp::cpu
