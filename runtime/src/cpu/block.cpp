#include "block.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>

#include "gelu.h"
#include "layernorm.h"
#include "matmul.h"

namespace pp::cpu {
namespace {

std::size_t rows(const BlockShape& s) { return static_cast<std::size_t>(s.rows()); }
std::size_t local_rows(const BlockShape& s, const TensorParallel& tp) {
  return static_cast<std::size_t>(tp.local_rows(s.rows()));
}

void add_into(float* out, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] += in[i];
}

void add_bias_rows(float* out, const float* bias, std::size_t n, int width) {
  for (std::size_t i = 0; i < n; ++i) {
    float* row = out + i * width;
    for (int j = 0; j < width; ++j) row[j] += bias[j];
  }
}

// Calls f on each float buffer of a cache (const or not), each once.
template <class Cache, class F>
void for_each_buffer(Cache& c, F f) {
  for (auto* v : {&c.x, &c.ln_1, &c.ln_1_mean, &c.ln_1_rstd, &c.ln_1_full, &c.qkv, &c.att, &c.atty, &c.x1,
                  &c.ln_2, &c.ln_2_mean, &c.ln_2_rstd, &c.ln_2_full, &c.fch, &c.fch_gelu, &c.d_out,
                  &c.d_out_full, &c.d_fch, &c.d_ln_2, &c.d_x1, &c.d_x1_full, &c.d_qkv, &c.d_ln_1}) {
    f(v);
  }
}

// All N rows of a (n_l, width) tensor: gathered into *full with sequence parallelism, else the
// local buffer itself (it holds all rows).
const float* all_rows(const TensorParallel& tp, const std::vector<float>& local, std::vector<float>* full,
                      const BlockShape& s, int width, BufferPool* pool) {
  if (!tp.sequence_parallel()) return local.data();
  pool->ensure(full, rows(s) * width);
  tp.gather_rows(local.data(), full->data(), s.rows(), width);
  return full->data();
}

// A row-parallel product leaving the region: out (n_l, C) = sum over ranks of in (N, k) @ weight
// (k, C), plus bias (C) when given. Without sequence parallelism the product is formed in out.
void row_parallel(const TensorParallel& tp, const BlockShape& s, const float* in, const Tensor& weight,
                  const Tensor* bias, int k, float* out, BufferPool* pool) {
  const int c = s.hidden;
  if (!tp.sequence_parallel()) {
    linear_forward(out, in, weight.data.data(), nullptr, s.rows(), k, c);
    tp.reduce_rows(out, out, s.rows(), c);
  } else {
    std::vector<float> partial = pool->take(rows(s) * c);
    linear_forward(partial.data(), in, weight.data.data(), nullptr, s.rows(), k, c);
    tp.reduce_rows(partial.data(), out, s.rows(), c);
    pool->give(&partial);
  }
  if (bias != nullptr) add_bias_rows(out, bias->data.data(), local_rows(s, tp), c);
}

// The backward of a column-parallel product entering the region: d_local (n_l, C) = the sum over
// ranks of d_full_partial (N, k) @ weight^T, weight (C, k).
void column_parallel_backward_input(const TensorParallel& tp, const BlockShape& s, const float* d_out,
                                    const Tensor& weight, int k, std::vector<float>* d_local, BufferPool* pool) {
  const int c = s.hidden;
  if (!tp.sequence_parallel()) {
    pool->ensure(d_local, rows(s) * c);
    linear_backward_input(d_local->data(), d_out, weight.data.data(), s.rows(), c, k);
    tp.reduce_rows(d_local->data(), d_local->data(), s.rows(), c);
    return;
  }
  std::vector<float> partial = pool->take(rows(s) * c);
  linear_backward_input(partial.data(), d_out, weight.data.data(), s.rows(), c, k);
  pool->ensure(d_local, local_rows(s, tp) * c);
  tp.reduce_rows(partial.data(), d_local->data(), s.rows(), c);
  pool->give(&partial);
}

void take_activations(const BlockShape& s, const TensorParallel& tp, BlockCache* c, BufferPool* pool) {
  const std::size_t n = rows(s);
  const std::size_t nl = local_rows(s, tp);
  const std::size_t ch = s.hidden;
  const std::size_t cl = s.attention.channels;
  pool->ensure(&c->ln_1, nl * ch);
  pool->ensure(&c->ln_1_mean, nl);
  pool->ensure(&c->ln_1_rstd, nl);
  pool->ensure(&c->qkv, n * 3 * cl);
  pool->ensure(&c->att, static_cast<std::size_t>(s.attention.batch) * s.attention.heads * s.attention.seq *
                            s.attention.seq);
  pool->ensure(&c->atty, n * cl);
  pool->ensure(&c->x1, nl * ch);
  pool->ensure(&c->ln_2, nl * ch);
  pool->ensure(&c->ln_2_mean, nl);
  pool->ensure(&c->ln_2_rstd, nl);
  pool->ensure(&c->fch, n * 4 * cl);
  pool->ensure(&c->fch_gelu, n * 4 * cl);
}

// The gradient of a row-parallel product's output, local (n_l, C) into *d_local, and all N rows:
// gathered into *d_full with sequence parallelism, else *d_local itself.
const float* output_gradient(const TensorParallel& tp, const BlockShape& s, const float* d, std::vector<float>* d_local,
                             std::vector<float>* d_full, BufferPool* pool) {
  const std::size_t n = local_rows(s, tp) * s.hidden;
  pool->ensure(d_local, n);
  std::copy(d, d + n, d_local->begin());
  return all_rows(tp, *d_local, d_full, s, s.hidden, pool);
}

// I of the MLP half: d (n_l, C) from the gradient of out to that of x1.
void mlp_backward_input(const BlockParams& p, const BlockShape& s, const TensorParallel& tp, BlockCache* c, float* d,
                        BufferPool* pool) {
  const int n = s.rows();
  const int ch = s.hidden;
  const int cl = s.attention.channels;
  const float* d_out = output_gradient(tp, s, d, &c->d_out, &c->d_out_full, pool);
  std::vector<float> d_gelu = pool->take(rows(s) * 4 * cl);
  linear_backward_input(d_gelu.data(), d_out, p.mlp_proj_weight->data.data(), n, 4 * cl, ch);
  pool->give(&c->d_fch);
  c->d_fch = std::move(c->fch);  // in place: gelu' reads fch, writes its gradient
  c->fch.clear();
  gelu_backward(c->d_fch.data(), c->d_fch.data(), d_gelu.data(), c->d_fch.size());
  pool->give(&d_gelu);
  column_parallel_backward_input(tp, s, c->d_fch.data(), *p.fc_weight, 4 * cl, &c->d_ln_2, pool);
  layernorm_backward_input(d, c->d_ln_2.data(), c->x1.data(), c->ln_2_mean.data(), c->ln_2_rstd.data(),
                           p.ln_2_weight->data.data(), tp.local_rows(n), ch);
}

// I of the attention half: d (n_l, C) from the gradient of x1 to that of x.
void attention_half_backward_input(const BlockParams& p, const BlockShape& s, const TensorParallel& tp,
                                   BlockCache* c, float* d, BufferPool* pool) {
  const int n = s.rows();
  const int ch = s.hidden;
  const int cl = s.attention.channels;
  const float* d_x1 = output_gradient(tp, s, d, &c->d_x1, &c->d_x1_full, pool);
  std::vector<float> d_atty = pool->take(rows(s) * cl);
  linear_backward_input(d_atty.data(), d_x1, p.attn_proj_weight->data.data(), n, cl, ch);
  pool->ensure(&c->d_qkv, rows(s) * 3 * cl);
  std::vector<float> d_att = pool->take(static_cast<std::size_t>(s.attention.seq) * s.attention.seq);
  attention_backward(c->d_qkv.data(), d_atty.data(), c->qkv.data(), c->att.data(), s.attention, d_att.data());
  pool->give(&d_att);
  pool->give(&d_atty);
  pool->give(&c->qkv);
  pool->give(&c->att);
  column_parallel_backward_input(tp, s, c->d_qkv.data(), *p.attn_weight, 3 * cl, &c->d_ln_1, pool);
  layernorm_backward_input(d, c->d_ln_1.data(), c->x.data(), c->ln_1_mean.data(), c->ln_1_rstd.data(),
                           p.ln_1_weight->data.data(), tp.local_rows(n), ch);
}

// W of a row-parallel product: weight (k, C) += in^T (k, N) @ d_full (N, C); bias (C) += column
// sums of the local rows d_local (n_l, C).
void row_parallel_backward_weight(const BlockShape& s, const TensorParallel& tp, Tensor* weight, Tensor* bias,
                                  const float* in, const std::vector<float>& d_local,
                                  const std::vector<float>& d_full, int k, float* scratch) {
  const float* d_all = tp.sequence_parallel() ? d_full.data() : d_local.data();
  linear_backward_weight(weight->grad.data(), nullptr, in, d_all, s.rows(), k, s.hidden, scratch);
  bias_backward(bias->grad.data(), d_local.data(), tp.local_rows(s.rows()), s.hidden, scratch);
}

}  // namespace

BlockParams block_params(ParameterSet* parameters, int index) {
  const std::string h = fmt::format("h.{}.", index);
  auto at = [&](const char* name) { return &parameters->at(h + name); };
  return {at("ln_1.weight"),      at("ln_1.bias"),      at("attn.c_attn.weight"), at("attn.c_attn.bias"),
          at("attn.c_proj.weight"), at("attn.c_proj.bias"), at("ln_2.weight"),        at("ln_2.bias"),
          at("mlp.c_fc.weight"),  at("mlp.c_fc.bias"),  at("mlp.c_proj.weight"),  at("mlp.c_proj.bias")};
}

void block_forward(const BlockParams& p, const BlockShape& s, const TensorParallel& tp, BlockCache* c, float* out,
                   BufferPool* pool) {
  const int n = s.rows();
  const int nl = tp.local_rows(n);
  const int ch = s.hidden;
  const int cl = s.attention.channels;
  take_activations(s, tp, c, pool);
  layernorm_forward(c->ln_1.data(), c->ln_1_mean.data(), c->ln_1_rstd.data(), c->x.data(),
                    p.ln_1_weight->data.data(), p.ln_1_bias->data.data(), nl, ch);
  const float* ln_1 = all_rows(tp, c->ln_1, &c->ln_1_full, s, ch, pool);
  linear_forward(c->qkv.data(), ln_1, p.attn_weight->data.data(), p.attn_bias->data.data(), n, ch, 3 * cl);
  attention_forward(c->atty.data(), c->att.data(), c->qkv.data(), s.attention);
  row_parallel(tp, s, c->atty.data(), *p.attn_proj_weight, p.attn_proj_bias, cl, c->x1.data(), pool);
  add_into(c->x1.data(), c->x.data(), c->x1.size());
  layernorm_forward(c->ln_2.data(), c->ln_2_mean.data(), c->ln_2_rstd.data(), c->x1.data(),
                    p.ln_2_weight->data.data(), p.ln_2_bias->data.data(), nl, ch);
  const float* ln_2 = all_rows(tp, c->ln_2, &c->ln_2_full, s, ch, pool);
  linear_forward(c->fch.data(), ln_2, p.fc_weight->data.data(), p.fc_bias->data.data(), n, ch, 4 * cl);
  gelu_forward(c->fch_gelu.data(), c->fch.data(), c->fch.size());
  row_parallel(tp, s, c->fch_gelu.data(), *p.mlp_proj_weight, p.mlp_proj_bias, 4 * cl, out, pool);
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

void block_backward_input(const BlockParams& p, const BlockShape& s, const TensorParallel& tp, BlockCache* c,
                          float* d, BufferPool* pool) {
  mlp_backward_input(p, s, tp, c, d, pool);
  attention_half_backward_input(p, s, tp, c, d, pool);
}

void block_backward_weight(const BlockParams& p, const BlockShape& s, const TensorParallel& tp, const BlockCache& c,
                           BufferPool* pool) {
  const int n = s.rows();
  const int nl = tp.local_rows(n);
  const int ch = s.hidden;
  const int cl = s.attention.channels;
  const bool sp = tp.sequence_parallel();
  // Scratch for the bias and LayerNorm sums: the widest bias (4 C_l) or two LayerNorm sums (2 C).
  std::vector<float> sums = pool->take(std::max(4 * static_cast<std::size_t>(cl), 2 * static_cast<std::size_t>(ch)));
  float* scratch = sums.data();
  row_parallel_backward_weight(s, tp, p.mlp_proj_weight, p.mlp_proj_bias, c.fch_gelu.data(), c.d_out, c.d_out_full,
                               4 * cl, scratch);
  linear_backward_weight(p.fc_weight->grad.data(), p.fc_bias->grad.data(), sp ? c.ln_2_full.data() : c.ln_2.data(),
                         c.d_fch.data(), n, ch, 4 * cl, scratch);
  layernorm_backward_weight(p.ln_2_weight->grad.data(), p.ln_2_bias->grad.data(), c.d_ln_2.data(),
                            c.x1.data(), c.ln_2_mean.data(), c.ln_2_rstd.data(), nl, ch, scratch);
  row_parallel_backward_weight(s, tp, p.attn_proj_weight, p.attn_proj_bias, c.atty.data(), c.d_x1, c.d_x1_full, cl,
                               scratch);
  linear_backward_weight(p.attn_weight->grad.data(), p.attn_bias->grad.data(), sp ? c.ln_1_full.data() : c.ln_1.data(),
                         c.d_qkv.data(), n, ch, 3 * cl, scratch);
  layernorm_backward_weight(p.ln_1_weight->grad.data(), p.ln_1_bias->grad.data(), c.d_ln_1.data(), c.x.data(),
                            c.ln_1_mean.data(), c.ln_1_rstd.data(), nl, ch, scratch);
  pool->give(&sums);
}

}  // namespace pp::cpu
