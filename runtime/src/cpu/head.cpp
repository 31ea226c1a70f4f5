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
  for (auto* v : {&c.x, &c.ln, &c.mean, &c.rstd, &c.probs, &c.d_ln}) f(v);
}

}  // namespace

double head_forward(const HeadParams& p, const HeadShape& s, const std::int32_t* targets, HeadCache* c,
                    BufferPool* pool) {
  const std::size_t n = static_cast<std::size_t>(s.rows);
  pool->ensure(&c->ln, n * s.channels);
  pool->ensure(&c->mean, n);
  pool->ensure(&c->rstd, n);
  pool->ensure(&c->probs, n * s.vocab);
  c->targets.assign(targets, targets + n);
  layernorm_forward(c->ln.data(), c->mean.data(), c->rstd.data(), c->x.data(), p.ln_f_weight->data.data(),
                    p.ln_f_bias->data.data(), s.rows, s.channels);
  gemm(false, true, s.rows, s.vocab, s.channels, 1.0f, c->ln.data(), s.channels, p.wte->data.data(),
       s.channels, 0.0f, c->probs.data(), s.vocab);
  return softmax_cross_entropy_forward(c->probs.data(), c->targets.data(), s.rows, s.vocab);
}

void head_backward_input(const HeadParams& p, const HeadShape& s, float loss_scale, HeadCache* c, float* d_x,
                         BufferPool* pool) {
  softmax_cross_entropy_backward(c->probs.data(), c->targets.data(), loss_scale, s.rows, s.vocab);
  pool->ensure(&c->d_ln, static_cast<std::size_t>(s.rows) * s.channels);
  gemm(false, false, s.rows, s.channels, s.vocab, 1.0f, c->probs.data(), s.vocab, p.wte->data.data(),
       s.channels, 0.0f, c->d_ln.data(), s.channels);
  std::fill(d_x, d_x + c->d_ln.size(), 0.0f);
  layernorm_backward_input(d_x, c->d_ln.data(), c->x.data(), c->mean.data(), c->rstd.data(),
                           p.ln_f_weight->data.data(), s.rows, s.channels);
}

void head_release(HeadCache* c, BufferPool* pool) {
  for_each_buffer(*c, [&](std::vector<float>* v) { pool->give(v); });
}

std::size_t head_cache_bytes(const HeadCache& c) {
  std::size_t floats = 0;
  for_each_buffer(c, [&](const std::vector<float>* v) { floats += v->size(); });
  return floats * sizeof(float) + c.targets.size() * sizeof(std::int32_t);
}

void head_backward_weight(const HeadParams& p, const HeadShape& s, const HeadCache& c, BufferPool* pool) {
  gemm(true, false, s.vocab, s.channels, s.rows, 1.0f, c.probs.data(), s.vocab, c.ln.data(), s.channels, 1.0f,
       p.wte->grad.data(), s.channels);
  std::vector<float> sums = pool->take(2 * static_cast<std::size_t>(s.channels));  // LayerNorm scratch
  layernorm_backward_weight(p.ln_f_weight->grad.data(), p.ln_f_bias->grad.data(), c.d_ln.data(), c.x.data(),
                            c.mean.data(), c.rstd.data(), s.rows, s.channels, sums.data());
  pool->give(&sums);
}

}  // namespace pp::cpu
