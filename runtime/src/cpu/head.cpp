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

double head_forward(const HeadParams& p, const HeadShape& s, const std::int32_t* targets, HeadCache* c) {
  const std::size_t n = static_cast<std::size_t>(s.rows);
  c->ln.resize(n * s.channels);
  c->mean.resize(n);
  c->rstd.resize(n);
  c->probs.resize(n * s.vocab);
  c->targets.assign(targets, targets + n);
  layernorm_forward(c->ln.data(), c->mean.data(), c->rstd.data(), c->x.data(), p.ln_f_weight->data.data(),
                    p.ln_f_bias->data.data(), s.rows, s.channels);
  gemm(false, true, s.rows, s.vocab, s.channels, 1.0f, c->ln.data(), s.channels, p.wte->data.data(),
       s.channels, 0.0f, c->probs.data(), s.vocab);
  return softmax_cross_entropy_forward(c->probs.data(), c->targets.data(), s.rows, s.vocab);
}

void head_backward_input(const HeadParams& p, const HeadShape& s, float loss_scale, HeadCache* c, float* d_x) {
  softmax_cross_entropy_backward(c->probs.data(), c->targets.data(), loss_scale, s.rows, s.vocab);
  c->d_ln.resize(static_cast<std::size_t>(s.rows) * s.channels);
  gemm(false, false, s.rows, s.channels, s.vocab, 1.0f, c->probs.data(), s.vocab, p.wte->data.data(),
       s.channels, 0.0f, c->d_ln.data(), s.channels);
  std::fill(d_x, d_x + c->d_ln.size(), 0.0f);
  layernorm_backward_input(d_x, c->d_ln.data(), c->x.data(), c->mean.data(), c->rstd.data(),
                           p.ln_f_weight->data.data(), s.rows, s.channels);
}

void head_backward_weight(const HeadParams& p, const HeadShape& s, const HeadCache& c) {
  gemm(true, false, s.vocab, s.channels, s.rows, 1.0f, c.probs.data(), s.vocab, c.ln.data(), s.channels, 1.0f,
       p.wte->grad.data(), s.channels);
  layernorm_backward_weight(p.ln_f_weight->grad.data(), p.ln_f_bias->grad.data(), c.d_ln.data(), c.x.data(),
                            c.mean.data(), c.rstd.data(), s.rows, s.channels);
}

}  // namespace pp::cpu
