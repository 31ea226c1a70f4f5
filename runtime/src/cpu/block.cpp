#include "block.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>

#include "gelu.h"
#include "layernorm.h"
#include "matmul.h"

namespace pp::cpu {
namespace {

std::size_t rows(const AttentionShape& s) { return static_cast<std::size_t>(s.batch) * s.seq; }

void add_into(float* out, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] += in[i];
}

// Calls f on each float buffer of a cache (const or not), each once.
template <class Cache, class F>
void for_each_buffer(Cache& c, F f) {
  for (auto* v : {&c.x, &c.ln_1, &c.ln_1_mean, &c.ln_1_rstd, &c.qkv, &c.att, &c.atty, &c.x1, &c.ln_2,
                  &c.ln_2_mean, &c.ln_2_rstd, &c.fch, &c.fch_gelu, &c.d_out, &c.d_fch, &c.d_ln_2, &c.d_x1,
                  &c.d_qkv, &c.d_ln_1}) {
    f(v);
  }
}

void take_activations(const AttentionShape& s, BlockCache* c, BufferPool* pool) {
  const std::size_t n = rows(s);
  const std::size_t ch = s.channels;
  pool->ensure(&c->ln_1, n * ch);
  pool->ensure(&c->ln_1_mean, n);
  pool->ensure(&c->ln_1_rstd, n);
  pool->ensure(&c->qkv, n * 3 * ch);
  pool->ensure(&c->att, static_cast<std::size_t>(s.batch) * s.heads * s.seq * s.seq);
  pool->ensure(&c->atty, n * ch);
  pool->ensure(&c->x1, n * ch);
  pool->ensure(&c->ln_2, n * ch);
  pool->ensure(&c->ln_2_mean, n);
  pool->ensure(&c->ln_2_rstd, n);
  pool->ensure(&c->fch, n * 4 * ch);
  pool->ensure(&c->fch_gelu, n * 4 * ch);
}

// I of the MLP half: d (N, C) from the gradient of out to that of x1.
void mlp_backward_input(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* d,
                        BufferPool* pool) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  pool->ensure(&c->d_out, rows(s) * ch);
  std::copy(d, d + rows(s) * ch, c->d_out.begin());
  std::vector<float> d_gelu = pool->take(rows(s) * 4 * ch);
  linear_backward_input(d_gelu.data(), d, p.mlp_proj_weight->data.data(), n, 4 * ch, ch);
  pool->give(&c->d_fch);
  c->d_fch = std::move(c->fch);  // in place: gelu' reads fch, writes its gradient
  c->fch.clear();
  gelu_backward(c->d_fch.data(), c->d_fch.data(), d_gelu.data(), c->d_fch.size());
  pool->give(&d_gelu);
  pool->ensure(&c->d_ln_2, rows(s) * ch);
  linear_backward_input(c->d_ln_2.data(), c->d_fch.data(), p.fc_weight->data.data(), n, ch, 4 * ch);
  layernorm_backward_input(d, c->d_ln_2.data(), c->x1.data(), c->ln_2_mean.data(), c->ln_2_rstd.data(),
                           p.ln_2_weight->data.data(), n, ch);
}

// I of the attention half: d (N, C) from the gradient of x1 to that of x.
void attention_half_backward_input(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* d,
                                   BufferPool* pool) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  pool->ensure(&c->d_x1, rows(s) * ch);
  std::copy(d, d + rows(s) * ch, c->d_x1.begin());
  std::vector<float> d_atty = pool->take(rows(s) * ch);
  linear_backward_input(d_atty.data(), d, p.attn_proj_weight->data.data(), n, ch, ch);
  pool->ensure(&c->d_qkv, rows(s) * 3 * ch);
  std::vector<float> d_att = pool->take(static_cast<std::size_t>(s.seq) * s.seq);
  attention_backward(c->d_qkv.data(), d_atty.data(), c->qkv.data(), c->att.data(), s, d_att.data());
  pool->give(&d_att);
  pool->give(&d_atty);
  pool->give(&c->qkv);
  pool->give(&c->att);
  pool->ensure(&c->d_ln_1, rows(s) * ch);
  linear_backward_input(c->d_ln_1.data(), c->d_qkv.data(), p.attn_weight->data.data(), n, ch, 3 * ch);
  layernorm_backward_input(d, c->d_ln_1.data(), c->x.data(), c->ln_1_mean.data(), c->ln_1_rstd.data(),
                           p.ln_1_weight->data.data(), n, ch);
}

}  // namespace

BlockParams block_params(ParameterSet* parameters, int index) {
  const std::string h = fmt::format("h.{}.", index);
  auto at = [&](const char* name) { return &parameters->at(h + name); };
  return {at("ln_1.weight"),      at("ln_1.bias"),      at("attn.c_attn.weight"), at("attn.c_attn.bias"),
          at("attn.c_proj.weight"), at("attn.c_proj.bias"), at("ln_2.weight"),        at("ln_2.bias"),
          at("mlp.c_fc.weight"),  at("mlp.c_fc.bias"),  at("mlp.c_proj.weight"),  at("mlp.c_proj.bias")};
}

void block_forward(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* out, BufferPool* pool) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  take_activations(s, c, pool);
  layernorm_forward(c->ln_1.data(), c->ln_1_mean.data(), c->ln_1_rstd.data(), c->x.data(),
                    p.ln_1_weight->data.data(), p.ln_1_bias->data.data(), n, ch);
  linear_forward(c->qkv.data(), c->ln_1.data(), p.attn_weight->data.data(), p.attn_bias->data.data(), n, ch,
                 3 * ch);
  attention_forward(c->atty.data(), c->att.data(), c->qkv.data(), s);
  linear_forward(c->x1.data(), c->atty.data(), p.attn_proj_weight->data.data(), p.attn_proj_bias->data.data(),
                 n, ch, ch);
  add_into(c->x1.data(), c->x.data(), c->x1.size());
  layernorm_forward(c->ln_2.data(), c->ln_2_mean.data(), c->ln_2_rstd.data(), c->x1.data(),
                    p.ln_2_weight->data.data(), p.ln_2_bias->data.data(), n, ch);
  linear_forward(c->fch.data(), c->ln_2.data(), p.fc_weight->data.data(), p.fc_bias->data.data(), n, ch,
                 4 * ch);
  gelu_forward(c->fch_gelu.data(), c->fch.data(), c->fch.size());
  linear_forward(out, c->fch_gelu.data(), p.mlp_proj_weight->data.data(), p.mlp_proj_bias->data.data(), n,
                 4 * ch, ch);
  add_into(out, c->x1.data(), c->x1.size());
}

void block_keep_input_only(BlockCache* c, BufferPool* pool) {
  for_each_buffer(*c, [&](std::vector<float>* v) {
    if (v != &c->x) pool->give(v);
  });
}

void block_release(BlockCache* c, BufferPool* pool) {
  for_each_buffer(*c, [&](std::vector<float>* v) { pool->give(v); });
}

std::size_t block_cache_bytes(const BlockCache& c) {
  std::size_t floats = 0;
  for_each_buffer(c, [&](const std::vector<float>* v) { floats += v->size(); });
  return floats * sizeof(float);
}

void block_backward_input(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* d,
                          BufferPool* pool) {
  mlp_backward_input(p, s, c, d, pool);
  attention_half_backward_input(p, s, c, d, pool);
}

void block_backward_weight(const BlockParams& p, const AttentionShape& s, const BlockCache& c, BufferPool* pool) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  // Scratch for the bias and LayerNorm sums: 4C, the widest layer's bias.
  std::vector<float> sums = pool->take(4 * static_cast<std::size_t>(ch));
  float* scratch = sums.data();
  linear_backward_weight(p.mlp_proj_weight->grad.data(), p.mlp_proj_bias->grad.data(), c.fch_gelu.data(),
                         c.d_out.data(), n, 4 * ch, ch, scratch);
  linear_backward_weight(p.fc_weight->grad.data(), p.fc_bias->grad.data(), c.ln_2.data(), c.d_fch.data(), n,
                         ch, 4 * ch, scratch);
  layernorm_backward_weight(p.ln_2_weight->grad.data(), p.ln_2_bias->grad.data(), c.d_ln_2.data(),
                            c.x1.data(), c.ln_2_mean.data(), c.ln_2_rstd.data(), n, ch, scratch);
  linear_backward_weight(p.attn_proj_weight->grad.data(), p.attn_proj_bias->grad.data(), c.atty.data(),
                         c.d_x1.data(), n, ch, ch, scratch);
  linear_backward_weight(p.attn_weight->grad.data(), p.attn_bias->grad.data(), c.ln_1.data(), c.d_qkv.data(),
                         n, ch, 3 * ch, scratch);
  layernorm_backward_weight(p.ln_1_weight->grad.data(), p.ln_1_bias->grad.data(), c.d_ln_1.data(), c.x.data(),
                            c.ln_1_mean.data(), c.ln_1_rstd.data(), n, ch, scratch);
  pool->give(&sums);
}

}  // namespace pp::cpu
