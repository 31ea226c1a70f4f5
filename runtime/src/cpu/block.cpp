#include "block.h"

#include <fmt/format.h>

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

void release(std::vector<float>* v) { std::vector<float>().swap(*v); }

void allocate_activations(const AttentionShape& s, BlockCache* c) {
  const std::size_t n = rows(s);
  const std::size_t ch = s.channels;
  c->ln_1.resize(n * ch);
  c->ln_1_mean.resize(n);
  c->ln_1_rstd.resize(n);
  c->qkv.resize(n * 3 * ch);
  c->att.resize(static_cast<std::size_t>(s.batch) * s.heads * s.seq * s.seq);
  c->atty.resize(n * ch);
  c->x1.resize(n * ch);
  c->ln_2.resize(n * ch);
  c->ln_2_mean.resize(n);
  c->ln_2_rstd.resize(n);
  c->fch.resize(n * 4 * ch);
  c->fch_gelu.resize(n * 4 * ch);
}

// I of the MLP half: d (N, C) from the gradient of out to that of x1.
void mlp_backward_input(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* d) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  c->d_out.assign(d, d + rows(s) * ch);
  std::vector<float> d_gelu(rows(s) * 4 * ch);
  linear_backward_input(d_gelu.data(), d, p.mlp_proj_weight->data.data(), n, 4 * ch, ch);
  c->d_fch = std::move(c->fch);  // in place: gelu' reads fch, writes its gradient
  gelu_backward(c->d_fch.data(), c->d_fch.data(), d_gelu.data(), c->d_fch.size());
  c->d_ln_2.resize(rows(s) * ch);
  linear_backward_input(c->d_ln_2.data(), c->d_fch.data(), p.fc_weight->data.data(), n, ch, 4 * ch);
  layernorm_backward_input(d, c->d_ln_2.data(), c->x1.data(), c->ln_2_mean.data(), c->ln_2_rstd.data(),
                           p.ln_2_weight->data.data(), n, ch);
}

// I of the attention half: d (N, C) from the gradient of x1 to that of x.
void attention_half_backward_input(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* d) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  c->d_x1.assign(d, d + rows(s) * ch);
  std::vector<float> d_atty(rows(s) * ch);
  linear_backward_input(d_atty.data(), d, p.attn_proj_weight->data.data(), n, ch, ch);
  c->d_qkv.resize(rows(s) * 3 * ch);
  attention_backward(c->d_qkv.data(), d_atty.data(), c->qkv.data(), c->att.data(), s);
  release(&c->qkv);
  release(&c->att);
  c->d_ln_1.resize(rows(s) * ch);
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

void block_forward(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* out) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  allocate_activations(s, c);
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

void block_keep_input_only(BlockCache* c) {
  std::vector<float> x = std::move(c->x);
  *c = BlockCache{};
  c->x = std::move(x);
}

void block_backward_input(const BlockParams& p, const AttentionShape& s, BlockCache* c, float* d) {
  mlp_backward_input(p, s, c, d);
  attention_half_backward_input(p, s, c, d);
}

void block_backward_weight(const BlockParams& p, const AttentionShape& s, const BlockCache& c) {
  const int n = static_cast<int>(rows(s));
  const int ch = s.channels;
  linear_backward_weight(p.mlp_proj_weight->grad.data(), p.mlp_proj_bias->grad.data(), c.fch_gelu.data(),
                         c.d_out.data(), n, 4 * ch, ch);
  linear_backward_weight(p.fc_weight->grad.data(), p.fc_bias->grad.data(), c.ln_2.data(), c.d_fch.data(), n,
                         ch, 4 * ch);
  layernorm_backward_weight(p.ln_2_weight->grad.data(), p.ln_2_bias->grad.data(), c.d_ln_2.data(),
                            c.x1.data(), c.ln_2_mean.data(), c.ln_2_rstd.data(), n, ch);
  linear_backward_weight(p.attn_proj_weight->grad.data(), p.attn_proj_bias->grad.data(), c.atty.data(),
                         c.d_x1.data(), n, ch, ch);
  linear_backward_weight(p.attn_weight->grad.data(), p.attn_bias->grad.data(), c.ln_1.data(), c.d_qkv.data(),
                         n, ch, 3 * ch);
  layernorm_backward_weight(p.ln_1_weight->grad.data(), p.ln_1_bias->grad.data(), c.d_ln_1.data(), c.x.data(),
                            c.ln_1_mean.data(), c.ln_1_rstd.data(), n, ch);
}

}  // namespace pp::cpu
