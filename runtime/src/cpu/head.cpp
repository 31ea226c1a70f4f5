#include "head.h"

#include <algorithm>
#include <cstddef>

#include "cross_entropy.h"
#include "layernorm.h"
#include "matmul.h"
#include "rmsnorm.h"

namespace pp::cpu {

HeadParams head_params(ParameterSet* parameters, const ModelConfig& model) {
  if (model.family == ModelFamily::kGpt2) {
    return {&parameters->at("ln_f.weight"), &parameters->at("ln_f.bias"), &parameters->at("wte.weight")};
  }
  const std::string weight = model.tied_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  return {&parameters->at("model.norm.weight"), nullptr, &parameters->at(weight), static_cast<float>(model.norm_eps)};
}

namespace {

// Calls f on each float buffer of a cache (const or not), each once.
template <class Cache, class F>
void for_each_buffer(Cache& c, F f) {
  for (auto* v : {&c.x, &c.ln, &c.mean, &c.rstd, &c.ln_full, &c.probs, &c.d_ln}) f(v);
}

int vocab(const HeadShape& s) { return static_cast<int>(s.vocab.size()); }

void norm_forward(const HeadParams& p, HeadCache* c, int rows, int channels) {
  if (p.norm_bias == nullptr) {
    rmsnorm_forward(c->ln.data(), c->rstd.data(), c->x.data(), p.norm_weight->data.data(), rows, channels, p.eps);
  } else {
    layernorm_forward(c->ln.data(), c->mean.data(), c->rstd.data(), c->x.data(), p.norm_weight->data.data(),
                      p.norm_bias->data.data(), rows, channels);
  }
}

// d_x (rows, C) += the gradient through the norm of d_ln.
void norm_backward_input(const HeadParams& p, const HeadCache& c, float* d_x, int rows, int channels) {
  if (p.norm_bias == nullptr) {
    rmsnorm_backward_input(d_x, c.d_ln.data(), c.x.data(), c.rstd.data(), p.norm_weight->data.data(), rows, channels);
  } else {
    layernorm_backward_input(d_x, c.d_ln.data(), c.x.data(), c.mean.data(), c.rstd.data(),
                             p.norm_weight->data.data(), rows, channels);
  }
}

void norm_backward_weight(const HeadParams& p, const HeadCache& c, int rows, int channels, float* sums) {
  if (p.norm_bias == nullptr) {
    rmsnorm_backward_weight(p.norm_weight->grad.data(), c.d_ln.data(), c.x.data(), c.rstd.data(), rows, channels,
                            sums);
  } else {
    layernorm_backward_weight(p.norm_weight->grad.data(), p.norm_bias->grad.data(), c.d_ln.data(), c.x.data(),
                              c.mean.data(), c.rstd.data(), rows, channels, sums);
  }
}

// All N rows of the norm's output.
const float* ln_rows(const HeadCache& c, const TensorParallel& tp) {
  return tp.sequence_parallel() ? c.ln_full.data() : c.ln.data();
}

}  // namespace

double head_forward(const HeadParams& p, const HeadShape& s, const TensorParallel& tp, const std::int32_t* targets,
                    HeadCache* c, BufferPool* pool) {
  const std::size_t n = static_cast<std::size_t>(s.rows);
  const std::size_t nl = static_cast<std::size_t>(tp.local_rows(s.rows));
  pool->ensure(&c->ln, nl * s.channels);
  if (p.norm_bias != nullptr) pool->ensure(&c->mean, nl);
  pool->ensure(&c->rstd, nl);
  pool->ensure(&c->probs, n * vocab(s));
  c->targets.assign(targets, targets + n);
  norm_forward(p, c, static_cast<int>(nl), s.channels);
  if (tp.sequence_parallel()) {
    pool->ensure(&c->ln_full, n * s.channels);
    tp.gather_rows(c->ln.data(), c->ln_full.data(), s.rows, s.channels);
  }
  gemm(false, true, s.rows, vocab(s), s.channels, 1.0f, ln_rows(*c, tp), s.channels, p.weight->data.data(),
       s.channels, 0.0f, c->probs.data(), vocab(s));
  return softmax_cross_entropy_forward(c->probs.data(), c->targets.data(), s.vocab, s.rows, tp, &c->ce_stats);
}

void head_backward_input(const HeadParams& p, const HeadShape& s, const TensorParallel& tp, float loss_scale,
                         HeadCache* c, float* d_x, BufferPool* pool) {
  const int nl = tp.local_rows(s.rows);
  softmax_cross_entropy_backward(c->probs.data(), c->targets.data(), s.vocab, loss_scale, s.rows);
  std::vector<float> partial = pool->take(static_cast<std::size_t>(s.rows) * s.channels);  // (N, C)
  gemm(false, false, s.rows, s.channels, vocab(s), 1.0f, c->probs.data(), vocab(s), p.weight->data.data(),
       s.channels, 0.0f, partial.data(), s.channels);
  pool->ensure(&c->d_ln, static_cast<std::size_t>(nl) * s.channels);
  tp.reduce_rows(partial.data(), c->d_ln.data(), s.rows, s.channels);
  pool->give(&partial);
  std::fill(d_x, d_x + c->d_ln.size(), 0.0f);
  norm_backward_input(p, *c, d_x, nl, s.channels);
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
       p.weight->grad.data(), s.channels);
  std::vector<float> sums = pool->take(2 * static_cast<std::size_t>(s.channels));  // the norm's scratch
  norm_backward_weight(p, c, tp.local_rows(s.rows), s.channels, sums.data());
  pool->give(&sums);
}

}  // namespace pp::cpu
