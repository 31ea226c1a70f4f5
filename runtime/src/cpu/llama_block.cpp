#include "llama_block.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "gqa_attention.h"
#include "matmul.h"
#include "rmsnorm.h"
#include "swiglu.h"

namespace pp::cpu {
namespace {

// Row counts and widths of one micro-batch on this rank.
struct Dims {
  std::size_t n;      // N = b * T, the rows inside the tensor-parallel regions
  std::size_t nl;     // tp.local_rows(N), the residual stream's rows on this rank
  std::size_t c;      // C
  std::size_t q;      // Hq * hd (this rank's)
  std::size_t kv;     // Hkv * hd (this rank's)
  std::size_t ffn;    // I (this rank's)
  std::size_t att;    // b * Hq * T * T
};

Dims dims(const LlamaShape& s, const TensorParallel& tp) {
  const std::size_t n = static_cast<std::size_t>(s.batch) * s.seq;
  return {n,
          static_cast<std::size_t>(tp.local_rows(static_cast<int>(n))),
          static_cast<std::size_t>(s.hidden),
          static_cast<std::size_t>(s.heads) * s.head_dim,
          static_cast<std::size_t>(s.kv_heads) * s.head_dim,
          static_cast<std::size_t>(s.ffn),
          static_cast<std::size_t>(s.batch) * s.heads * s.seq * s.seq};
}

int as_int(std::size_t n) { return static_cast<int>(n); }

GqaShape gqa_shape(const LlamaShape& s) { return {s.batch, s.seq, s.heads, s.kv_heads, s.head_dim}; }

void add_into(float* out, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] += in[i];
}

// Calls f on each float buffer of a cache (const or not), each once.
template <class Cache, class F>
void for_each_buffer(Cache& c, F f) {
  for (auto* v : {&c.x, &c.rstd_1, &c.h, &c.q, &c.k, &c.v, &c.att, &c.atty, &c.x1, &c.rstd_2, &c.h2, &c.gate,
                  &c.up, &c.act, &c.d_out, &c.d_gate, &c.d_up, &c.d_h2, &c.d_x1, &c.d_q, &c.d_k, &c.d_v,
                  &c.d_h}) {
    f(v);
  }
}

void take_activations(const Dims& d, LlamaBlockCache* c, BufferPool* pool) {
  pool->ensure(&c->rstd_1, d.nl);
  pool->ensure(&c->h, d.n * d.c);
  pool->ensure(&c->q, d.n * d.q);
  pool->ensure(&c->k, d.n * d.kv);
  pool->ensure(&c->v, d.n * d.kv);
  pool->ensure(&c->att, d.att);
  pool->ensure(&c->atty, d.n * d.q);
  pool->ensure(&c->x1, d.nl * d.c);
  pool->ensure(&c->rstd_2, d.nl);
  pool->ensure(&c->h2, d.n * d.c);
  pool->ensure(&c->gate, d.n * d.ffn);
  pool->ensure(&c->up, d.n * d.ffn);
  pool->ensure(&c->act, d.n * d.ffn);
}

// Enters a tensor-parallel region: full (N, C) = the gathered RMSNorm of the local rows x (nl, C).
void norm_and_gather(const Dims& d, const LlamaShape& s, const TensorParallel& tp, const Tensor& weight,
                     const float* x, float* rstd, float* full, BufferPool* pool) {
  std::vector<float> local = pool->take(d.nl * d.c);
  rmsnorm_forward(local.data(), rstd, x, weight.data.data(), as_int(d.nl), s.hidden, s.eps);
  tp.gather_rows(local.data(), full, as_int(d.n), s.hidden);
  pool->give(&local);
}

// Leaves a tensor-parallel region: out (nl, C) = residual (nl, C) + the group's sum of
// in (N, in_dim) @ weight^T.
void project_and_reduce(const Dims& d, const TensorParallel& tp, const Tensor& weight, const float* in,
                        std::size_t in_dim, const float* residual, float* out, BufferPool* pool) {
  std::vector<float> partial = pool->take(d.n * d.c);
  linear_t_forward(partial.data(), in, weight.data.data(), as_int(d.n), as_int(in_dim), as_int(d.c));
  tp.reduce_rows(partial.data(), out, as_int(d.n), as_int(d.c));
  pool->give(&partial);
  add_into(out, residual, d.nl * d.c);
}

// The gradient of norm_and_gather: d_x (nl, C) += the RMSNorm backward of the group's sum of the
// partial gradients d_full (N, C) of the gathered output (overwritten); d_norm (nl, C) keeps that
// sum for W.
void reduce_and_norm_backward(const Dims& d, const TensorParallel& tp, const Tensor& weight, const float* x,
                              const float* rstd, float* d_full, float* d_norm, float* d_x) {
  tp.reduce_rows(d_full, d_norm, as_int(d.n), as_int(d.c));
  rmsnorm_backward_input(d_x, d_norm, x, rstd, weight.data.data(), as_int(d.nl), as_int(d.c));
}

void attention_half_forward(const LlamaBlockParams& p, const LlamaShape& s, const RopeTable& rope,
                            const TensorParallel& tp, LlamaBlockCache* c, BufferPool* pool) {
  const Dims d = dims(s, tp);
  const int n = as_int(d.n);
  norm_and_gather(d, s, tp, *p.input_layernorm, c->x.data(), c->rstd_1.data(), c->h.data(), pool);
  linear_t_forward(c->q.data(), c->h.data(), p.q_proj->data.data(), n, s.hidden, as_int(d.q));
  linear_t_forward(c->k.data(), c->h.data(), p.k_proj->data.data(), n, s.hidden, as_int(d.kv));
  linear_t_forward(c->v.data(), c->h.data(), p.v_proj->data.data(), n, s.hidden, as_int(d.kv));
  rope_forward(c->q.data(), n, s.seq, s.heads, s.head_dim, rope);
  rope_forward(c->k.data(), n, s.seq, s.kv_heads, s.head_dim, rope);
  gqa_attention_forward(c->atty.data(), c->att.data(), c->q.data(), c->k.data(), c->v.data(), gqa_shape(s));
  project_and_reduce(d, tp, *p.o_proj, c->atty.data(), d.q, c->x.data(), c->x1.data(), pool);
}

void mlp_forward(const LlamaBlockParams& p, const LlamaShape& s, const TensorParallel& tp, LlamaBlockCache* c,
                 float* out, BufferPool* pool) {
  const Dims d = dims(s, tp);
  const int n = as_int(d.n);
  norm_and_gather(d, s, tp, *p.post_attention_layernorm, c->x1.data(), c->rstd_2.data(), c->h2.data(), pool);
  linear_t_forward(c->gate.data(), c->h2.data(), p.gate_proj->data.data(), n, s.hidden, s.ffn);
  linear_t_forward(c->up.data(), c->h2.data(), p.up_proj->data.data(), n, s.hidden, s.ffn);
  swiglu_forward(c->act.data(), c->gate.data(), c->up.data(), d.n * d.ffn);
  project_and_reduce(d, tp, *p.down_proj, c->act.data(), d.ffn, c->x1.data(), out, pool);
}

// I of the MLP half: d (nl, C) from the gradient of out to that of x1.
void mlp_backward_input(const LlamaBlockParams& p, const LlamaShape& s, const TensorParallel& tp,
                        LlamaBlockCache* c, float* d, BufferPool* pool) {
  const Dims dm = dims(s, tp);
  const int n = as_int(dm.n);
  pool->ensure(&c->d_out, dm.n * dm.c);
  tp.gather_rows(d, c->d_out.data(), n, s.hidden);  // the gradient of reduce_rows
  std::vector<float> d_act = pool->take(dm.n * dm.ffn);
  linear_t_backward_input(d_act.data(), c->d_out.data(), p.down_proj->data.data(), n, s.ffn, s.hidden);
  pool->give(&c->d_gate);
  pool->give(&c->d_up);
  c->d_gate = std::move(c->gate);  // in place: swiglu' reads gate and up, writes their gradients
  c->d_up = std::move(c->up);
  c->gate.clear();
  c->up.clear();
  swiglu_backward(c->d_gate.data(), c->d_up.data(), d_act.data(), c->d_gate.data(), c->d_up.data(),
                  dm.n * dm.ffn);
  pool->give(&d_act);
  std::vector<float> d_h2_full = pool->take(dm.n * dm.c);
  linear_t_backward_input(d_h2_full.data(), c->d_gate.data(), p.gate_proj->data.data(), n, s.hidden, s.ffn);
  linear_t_backward_input_add(d_h2_full.data(), c->d_up.data(), p.up_proj->data.data(), n, s.hidden, s.ffn);
  pool->ensure(&c->d_h2, dm.nl * dm.c);
  reduce_and_norm_backward(dm, tp, *p.post_attention_layernorm, c->x1.data(), c->rstd_2.data(),
                           d_h2_full.data(), c->d_h2.data(), d);
  pool->give(&d_h2_full);
}

// The gradients of the projections' outputs q, k, v (before rope) from that of the attention
// output; gives back q, k, v and att.
void attention_core_backward(const LlamaShape& s, const RopeTable& rope, const Dims& dm, LlamaBlockCache* c,
                             const float* d_atty, BufferPool* pool) {
  pool->ensure(&c->d_q, dm.n * dm.q);
  pool->ensure(&c->d_k, dm.n * dm.kv);
  pool->ensure(&c->d_v, dm.n * dm.kv);
  std::vector<float> d_att = pool->take(static_cast<std::size_t>(s.seq) * s.seq);
  gqa_attention_backward(c->d_q.data(), c->d_k.data(), c->d_v.data(), d_atty, c->q.data(), c->k.data(),
                         c->v.data(), c->att.data(), gqa_shape(s), d_att.data());
  pool->give(&d_att);
  for (auto* v : {&c->q, &c->k, &c->v, &c->att}) pool->give(v);
  rope_backward(c->d_q.data(), as_int(dm.n), s.seq, s.heads, s.head_dim, rope);
  rope_backward(c->d_k.data(), as_int(dm.n), s.seq, s.kv_heads, s.head_dim, rope);
}

// I of the attention half: d (nl, C) from the gradient of x1 to that of x.
void attention_half_backward_input(const LlamaBlockParams& p, const LlamaShape& s, const RopeTable& rope,
                                   const TensorParallel& tp, LlamaBlockCache* c, float* d, BufferPool* pool) {
  const Dims dm = dims(s, tp);
  const int n = as_int(dm.n);
  pool->ensure(&c->d_x1, dm.n * dm.c);
  tp.gather_rows(d, c->d_x1.data(), n, s.hidden);
  std::vector<float> d_atty = pool->take(dm.n * dm.q);
  linear_t_backward_input(d_atty.data(), c->d_x1.data(), p.o_proj->data.data(), n, as_int(dm.q), s.hidden);
  attention_core_backward(s, rope, dm, c, d_atty.data(), pool);
  pool->give(&d_atty);
  std::vector<float> d_h_full = pool->take(dm.n * dm.c);
  linear_t_backward_input(d_h_full.data(), c->d_q.data(), p.q_proj->data.data(), n, s.hidden, as_int(dm.q));
  linear_t_backward_input_add(d_h_full.data(), c->d_k.data(), p.k_proj->data.data(), n, s.hidden,
                              as_int(dm.kv));
  linear_t_backward_input_add(d_h_full.data(), c->d_v.data(), p.v_proj->data.data(), n, s.hidden,
                              as_int(dm.kv));
  pool->ensure(&c->d_h, dm.nl * dm.c);
  reduce_and_norm_backward(dm, tp, *p.input_layernorm, c->x.data(), c->rstd_1.data(), d_h_full.data(),
                           c->d_h.data(), d);
  pool->give(&d_h_full);
}

}  // namespace

LlamaBlockParams llama_block_params(ParameterSet* parameters, int index) {
  const std::string prefix = fmt::format("model.layers.{}.", index);
  auto at = [&](const char* name) { return &parameters->at(prefix + name); };
  return {at("input_layernorm.weight"),          at("self_attn.q_proj.weight"), at("self_attn.k_proj.weight"),
          at("self_attn.v_proj.weight"),         at("self_attn.o_proj.weight"),
          at("post_attention_layernorm.weight"), at("mlp.gate_proj.weight"),    at("mlp.up_proj.weight"),
          at("mlp.down_proj.weight")};
}

void llama_block_forward(const LlamaBlockParams& p, const LlamaShape& s, const RopeTable& rope,
                         const TensorParallel& tp, LlamaBlockCache* c, float* out, BufferPool* pool) {
  take_activations(dims(s, tp), c, pool);
  attention_half_forward(p, s, rope, tp, c, pool);
  mlp_forward(p, s, tp, c, out, pool);
}

void llama_block_keep_input_only(LlamaBlockCache* c, BufferPool* pool) {
  for_each_buffer(*c, [&](std::vector<float>* v) {
    if (v != &c->x) pool->give(v);
  });
}

void llama_block_release(LlamaBlockCache* c, BufferPool* pool) {
  for_each_buffer(*c, [&](std::vector<float>* v) { pool->give(v); });
}

std::size_t llama_block_cache_bytes(const LlamaBlockCache& c) {
  std::size_t floats = 0;
  for_each_buffer(c, [&](const std::vector<float>* v) { floats += v->size(); });
  return floats * sizeof(float);
}

void llama_block_backward_input(const LlamaBlockParams& p, const LlamaShape& s, const RopeTable& rope,
                                const TensorParallel& tp, LlamaBlockCache* c, float* d, BufferPool* pool) {
  mlp_backward_input(p, s, tp, c, d, pool);
  attention_half_backward_input(p, s, rope, tp, c, d, pool);
}

void llama_block_backward_weight(const LlamaBlockParams& p, const LlamaShape& s, const TensorParallel& tp,
                                 const LlamaBlockCache& c, BufferPool* pool) {
  const Dims d = dims(s, tp);
  const int n = as_int(d.n);
  std::vector<float> sums = pool->take(d.c);  // the RMSNorm weight sums
  linear_t_backward_weight(p.down_proj->grad.data(), c.act.data(), c.d_out.data(), n, s.ffn, s.hidden);
  linear_t_backward_weight(p.gate_proj->grad.data(), c.h2.data(), c.d_gate.data(), n, s.hidden, s.ffn);
  linear_t_backward_weight(p.up_proj->grad.data(), c.h2.data(), c.d_up.data(), n, s.hidden, s.ffn);
  rmsnorm_backward_weight(p.post_attention_layernorm->grad.data(), c.d_h2.data(), c.x1.data(), c.rstd_2.data(),
                          as_int(d.nl), s.hidden, sums.data());
  linear_t_backward_weight(p.o_proj->grad.data(), c.atty.data(), c.d_x1.data(), n, as_int(d.q), s.hidden);
  linear_t_backward_weight(p.q_proj->grad.data(), c.h.data(), c.d_q.data(), n, s.hidden, as_int(d.q));
  linear_t_backward_weight(p.k_proj->grad.data(), c.h.data(), c.d_k.data(), n, s.hidden, as_int(d.kv));
  linear_t_backward_weight(p.v_proj->grad.data(), c.h.data(), c.d_v.data(), n, s.hidden, as_int(d.kv));
  rmsnorm_backward_weight(p.input_layernorm->grad.data(), c.d_h.data(), c.x.data(), c.rstd_1.data(),
                          as_int(d.nl), s.hidden, sums.data());
  pool->give(&sums);
}

}  // namespace pp::cpu
