#include "cuda/gpt2_layers.h"

#include "cuda/add.cuh"
#include "cuda/attention.cuh"
#include "cuda/cross_entropy.cuh"
#include "cuda/cuda_check.h"
#include "cuda/embedding.cuh"
#include "cuda/layernorm.cuh"
#include "cuda/scale.cuh"

namespace pp::cuda {
namespace {

std::size_t sz(int a, int b = 1) { return static_cast<std::size_t>(a) * static_cast<std::size_t>(b); }

AttentionShape attention_shape(const LayerContext& ctx) { return {ctx.batch, ctx.seq, ctx.channels, ctx.heads}; }

void copy(const LayerContext& ctx, float* to, const float* from, std::size_t n) {
  PP_CUDA_CHECK(cudaMemcpyAsync(to, from, n * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream));
}

// Scratch for a bias-gradient sum (out floats), taken and given back around one call.
struct Scratch {
  Scratch(const LayerContext& ctx, std::size_t n) : ctx_(ctx), floats_(ctx.pool->take(n)) {}
  ~Scratch() { ctx_.pool->give(&floats_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* data() const { return floats_.data; }

 private:
  const LayerContext& ctx_;
  DeviceFloats floats_;
};

void linear_weight(const LayerContext& ctx, const DeviceTensor& w, const DeviceTensor& b, const float* in,
                   const float* d_out, int in_dim, int out_dim) {
  Scratch sums(ctx, sz(out_dim));
  ctx.matmul->linear_backward_weight(w.grad, b.grad, in, d_out, ctx.rows(), in_dim, out_dim, sums.data(),
                                     ctx.stream);
}

void layernorm_weight(const LayerContext& ctx, const DeviceTensor& w, const DeviceTensor& b, const float* d_out,
                      const float* in, const float* mean, const float* rstd) {
  Scratch scratch(ctx, layernorm_backward_weight_scratch_floats(ctx.rows(), ctx.channels));
  launch_layernorm_backward_weight(w.grad, b.grad, d_out, in, mean, rstd, ctx.rows(), ctx.channels,
                                   scratch.data(), ctx.stream);
}

// A LayerNorm's outputs for the context's rows: out (N, C), mean and rstd (N), from the pool.
void ensure_norm_outputs(const LayerContext& ctx, DeviceFloats* out, DeviceFloats* mean, DeviceFloats* rstd) {
  ctx.pool->ensure(out, sz(ctx.rows(), ctx.channels));
  ctx.pool->ensure(mean, sz(ctx.rows()));
  ctx.pool->ensure(rstd, sz(ctx.rows()));
}

}  // namespace

void block_forward(const LayerContext& ctx, const BlockParams& p, BlockCache* c, float* out) {
  const int n = ctx.rows(), C = ctx.channels;
  DeviceFloatPool& pool = *ctx.pool;
  ensure_norm_outputs(ctx, &c->ln_1, &c->ln_1_mean, &c->ln_1_rstd);
  launch_layernorm_forward(c->ln_1.data, c->ln_1_mean.data, c->ln_1_rstd.data, c->x.data, p.ln_1_weight.value,
                           p.ln_1_bias.value, n, C, ctx.stream);
  pool.ensure(&c->qkv, sz(n, 3 * C));
  ctx.matmul->linear_forward(c->qkv.data, c->ln_1.data, p.attn_weight.value, p.attn_bias.value, n, C, 3 * C,
                             ctx.stream);
  pool.ensure(&c->atty, sz(n, C));
  pool.ensure(&c->lse, sz(ctx.batch * ctx.heads, ctx.seq));
  launch_attention_forward(c->atty.data, c->lse.data, c->qkv.data, attention_shape(ctx), ctx.stream);
  {
    Scratch proj(ctx, sz(n, C));  // attn.c_proj output, then x1 = x + it with ln_2 in one kernel
    ctx.matmul->linear_forward(proj.data(), c->atty.data, p.attn_proj_weight.value, p.attn_proj_bias.value, n, C,
                               C, ctx.stream);
    pool.ensure(&c->x1, sz(n, C));
    ensure_norm_outputs(ctx, &c->ln_2, &c->ln_2_mean, &c->ln_2_rstd);
    launch_residual_layernorm_forward(c->x1.data, c->ln_2.data, c->ln_2_mean.data, c->ln_2_rstd.data, c->x.data,
                                      proj.data(), p.ln_2_weight.value, p.ln_2_bias.value, n, C, ctx.stream);
  }
  pool.ensure(&c->fch, sz(n, 4 * C));
  pool.ensure(&c->fch_gelu, sz(n, 4 * C));
  ctx.matmul->linear_forward_gelu(c->fch_gelu.data, c->fch.data, c->ln_2.data, p.fc_weight.value, p.fc_bias.value,
                                  n, C, 4 * C, ctx.stream);
  Scratch proj(ctx, sz(n, C));
  ctx.matmul->linear_forward(proj.data(), c->fch_gelu.data, p.mlp_proj_weight.value, p.mlp_proj_bias.value, n,
                             4 * C, C, ctx.stream);
  launch_add(out, c->x1.data, proj.data(), sz(n, C), ctx.stream);
}

void block_keep_input_only(const LayerContext& ctx, BlockCache* c) {
  DeviceFloats x = c->x;
  c->x = {};
  block_release(ctx, c);
  c->x = x;
}

void block_release(const LayerContext& ctx, BlockCache* c) {
  for (DeviceFloats* d : {&c->x, &c->ln_1, &c->ln_1_mean, &c->ln_1_rstd, &c->qkv, &c->atty, &c->lse, &c->x1,
                          &c->ln_2, &c->ln_2_mean, &c->ln_2_rstd, &c->fch, &c->fch_gelu, &c->d_out, &c->d_fch,
                          &c->d_ln_2, &c->d_x1, &c->d_qkv, &c->d_ln_1}) {
    ctx.pool->give(d);
  }
}

void block_backward_input(const LayerContext& ctx, const BlockParams& p, BlockCache* c, float* d) {
  const int n = ctx.rows(), C = ctx.channels;
  DeviceFloatPool& pool = *ctx.pool;
  pool.ensure(&c->d_out, sz(n, C));
  copy(ctx, c->d_out.data, d, sz(n, C));
  // MLP: through c_proj and the GELU (fused), then c_fc, then ln_2; the residual adds d_out.
  pool.ensure(&c->d_fch, sz(n, 4 * C));
  ctx.matmul->linear_backward_input_gelu(c->d_fch.data, c->d_out.data, p.mlp_proj_weight.value, c->fch.data, n,
                                         4 * C, C, ctx.stream);
  pool.ensure(&c->d_ln_2, sz(n, C));
  ctx.matmul->linear_backward_input(c->d_ln_2.data, c->d_fch.data, p.fc_weight.value, n, C, 4 * C, ctx.stream);
  pool.ensure(&c->d_x1, sz(n, C));
  copy(ctx, c->d_x1.data, c->d_out.data, sz(n, C));
  launch_layernorm_backward_input(c->d_x1.data, c->d_ln_2.data, c->x1.data, c->ln_2_mean.data, c->ln_2_rstd.data,
                                  p.ln_2_weight.value, n, C, ctx.stream);
  // Attention: through c_proj, the attention, c_attn, then ln_1; the residual adds d_x1.
  {
    Scratch d_atty(ctx, sz(n, C));
    ctx.matmul->linear_backward_input(d_atty.data(), c->d_x1.data, p.attn_proj_weight.value, n, C, C, ctx.stream);
    pool.ensure(&c->d_qkv, sz(n, 3 * C));
    Scratch scratch(ctx, attention_backward_scratch_floats(attention_shape(ctx)));
    launch_attention_backward(c->d_qkv.data, d_atty.data(), c->qkv.data, c->atty.data, c->lse.data,
                              attention_shape(ctx), scratch.data(), ctx.stream);
  }
  pool.ensure(&c->d_ln_1, sz(n, C));
  ctx.matmul->linear_backward_input(c->d_ln_1.data, c->d_qkv.data, p.attn_weight.value, n, C, 3 * C, ctx.stream);
  copy(ctx, d, c->d_x1.data, sz(n, C));
  launch_layernorm_backward_input(d, c->d_ln_1.data, c->x.data, c->ln_1_mean.data, c->ln_1_rstd.data,
                                  p.ln_1_weight.value, n, C, ctx.stream);
  // What W does not need goes back now.
  pool.give(&c->qkv);
  pool.give(&c->lse);
  pool.give(&c->fch);
}

void block_backward_weight(const LayerContext& ctx, const BlockParams& p, const BlockCache& c) {
  const int C = ctx.channels;
  linear_weight(ctx, p.mlp_proj_weight, p.mlp_proj_bias, c.fch_gelu.data, c.d_out.data, 4 * C, C);
  linear_weight(ctx, p.fc_weight, p.fc_bias, c.ln_2.data, c.d_fch.data, C, 4 * C);
  layernorm_weight(ctx, p.ln_2_weight, p.ln_2_bias, c.d_ln_2.data, c.x1.data, c.ln_2_mean.data, c.ln_2_rstd.data);
  linear_weight(ctx, p.attn_proj_weight, p.attn_proj_bias, c.atty.data, c.d_x1.data, C, C);
  linear_weight(ctx, p.attn_weight, p.attn_bias, c.ln_1.data, c.d_qkv.data, C, 3 * C);
  layernorm_weight(ctx, p.ln_1_weight, p.ln_1_bias, c.d_ln_1.data, c.x.data, c.ln_1_mean.data, c.ln_1_rstd.data);
}

void head_forward(const LayerContext& ctx, const HeadParams& p, const std::int32_t* targets, HeadCache* c) {
  const int n = ctx.rows(), C = ctx.channels, V = ctx.vocab;
  DeviceFloatPool& pool = *ctx.pool;
  ensure_norm_outputs(ctx, &c->ln, &c->mean, &c->rstd);
  launch_layernorm_forward(c->ln.data, c->mean.data, c->rstd.data, c->x.data, p.ln_f_weight.value,
                           p.ln_f_bias.value, n, C, ctx.stream);
  // logits (N, V) = ln (N, C) @ wte^T: wte (V, C) is the weight of a linear from V to C, whose
  // input gradient is exactly this product.
  pool.ensure(&c->logits, sz(n, V));
  ctx.matmul->linear_backward_input(c->logits.data, c->ln.data, p.wte.value, n, V, C, ctx.stream);
  pool.ensure(&c->targets, sz(n));
  auto* targets_dev = reinterpret_cast<std::int32_t*>(c->targets.data);
  PP_CUDA_CHECK(cudaMemcpyAsync(targets_dev, targets, sz(n) * sizeof(std::int32_t), cudaMemcpyHostToDevice,
                                ctx.stream));
  pool.ensure(&c->losses, sz(n));
  launch_cross_entropy_fused(c->logits.data, c->losses.data, targets_dev, n, V, ctx.stream);
  pool.ensure(&c->loss_sum, 2);
  launch_loss_sum(reinterpret_cast<double*>(c->loss_sum.data), c->losses.data, n, ctx.stream);
}

double read_loss_sum(const LayerContext& ctx, const HeadCache& c) {
  double total = 0;
  PP_CUDA_CHECK(cudaMemcpyAsync(&total, c.loss_sum.data, sizeof total, cudaMemcpyDeviceToHost, ctx.stream));
  PP_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  return total;
}

void head_backward_input(const LayerContext& ctx, const HeadParams& p, float loss_scale, HeadCache* c,
                         float* d_x) {
  const int n = ctx.rows(), C = ctx.channels, V = ctx.vocab;
  launch_scale(c->logits.data, loss_scale, sz(n, V), ctx.stream);  // d_logits, as the CPU scales them
  ctx.pool->ensure(&c->d_ln, sz(n, C));
  // d_ln (N, C) = d_logits (N, V) @ wte (V, C): a linear from V to C.
  ctx.matmul->linear_forward(c->d_ln.data, c->logits.data, p.wte.value, nullptr, n, V, C, ctx.stream);
  PP_CUDA_CHECK(cudaMemsetAsync(d_x, 0, sz(n, C) * sizeof(float), ctx.stream));
  launch_layernorm_backward_input(d_x, c->d_ln.data, c->x.data, c->mean.data, c->rstd.data, p.ln_f_weight.value,
                                  n, C, ctx.stream);
}

void head_backward_weight(const LayerContext& ctx, const HeadParams& p, const HeadCache& c) {
  const int C = ctx.channels, V = ctx.vocab;
  // d_wte (V, C) += d_logits^T (V, N) @ ln (N, C): the weight gradient of a linear from V to C.
  ctx.matmul->linear_backward_weight(p.wte.grad, nullptr, c.logits.data, c.ln.data, ctx.rows(), V, C, nullptr,
                                     ctx.stream);
  layernorm_weight(ctx, p.ln_f_weight, p.ln_f_bias, c.d_ln.data, c.x.data, c.mean.data, c.rstd.data);
}

void head_release(const LayerContext& ctx, HeadCache* c) {
  for (DeviceFloats* d : {&c->x, &c->ln, &c->mean, &c->rstd, &c->logits, &c->losses, &c->targets, &c->d_ln}) {
    ctx.pool->give(d);
  }
}

void embedding_forward(const LayerContext& ctx, const DeviceTensor& wte, const DeviceTensor& wpe,
                       const std::int32_t* tokens, DeviceFloats* tokens_dev, float* out) {
  ctx.pool->ensure(tokens_dev, sz(ctx.rows()));
  auto* ids = reinterpret_cast<std::int32_t*>(tokens_dev->data);
  PP_CUDA_CHECK(cudaMemcpyAsync(ids, tokens, sz(ctx.rows()) * sizeof(std::int32_t), cudaMemcpyHostToDevice,
                                ctx.stream));
  launch_embedding_forward(out, ids, wte.value, wpe.value, ctx.batch, ctx.seq, ctx.channels, ctx.stream);
}

void embedding_backward_weight(const LayerContext& ctx, const DeviceTensor& wte, const DeviceTensor& wpe,
                               const DeviceFloats& tokens_dev, const float* d_out) {
  launch_embedding_backward(wte.grad, wpe.grad, d_out, reinterpret_cast<const std::int32_t*>(tokens_dev.data),
                            ctx.batch, ctx.seq, ctx.channels, ctx.stream);
}

}  // namespace pp::cuda
