#include "pp/planner/layer_kernels.h"

#include <algorithm>

#include "pp/planner/kernel_time.h"

namespace pp {
namespace {

constexpr double kElement = 2;  // bytes of a bf16 activation

double sum_ms(const std::vector<Kernel>& kernels, bool (*take)(const Kernel&)) {
  double total = 0;
  for (const Kernel& k : kernels) total += take(k) ? k.ms : 0;
  return total;
}

// The figures every kernel of a layer is sized by, per GPU.
struct Dims {
  double b, s, n, t, h, f, kv, d, heads, vocab;
  double cp;        // context-parallel degree: n = b*s/cp
  double rows;      // tokens the norms and residual adds see: n/t with sequence parallelism
  bool sp, flash, dropout, gated, rotary, positions;
  double rotated;   // of each head's width, rotated
  bool overlap;     // tensor-parallel collectives beside their GEMMs (sequence parallel only)
};

Dims dims_of(const KernelContext& c) {
  const ModelConfig& m = *c.model;
  Dims d{};
  d.b = c.microbatch_size;
  d.s = c.seq_len;
  d.cp = c.cp;
  d.n = d.b * d.s / d.cp;
  d.t = c.tp;
  d.h = double(m.hidden);
  d.f = double(m.ffn_hidden);
  d.kv = double(m.kv_dim());
  d.d = double(m.head_dim());
  d.heads = m.heads / d.t;  // per GPU
  d.vocab = double(m.vocab);
  d.sp = c.sequence_parallel && c.tp > 1;
  d.rows = d.sp ? d.n / d.t : d.n;
  d.flash = c.flash_attention;
  d.dropout = c.dropout;
  d.gated = m.gated_mlp();
  d.rotated = m.rotary_fraction();
  d.rotary = m.rotary_fraction() > 0;
  d.positions = m.learned_positions();
  d.overlap = c.tp_overlap && d.sp;
  return d;
}

class Builder {
 public:
  Builder(const KernelContext& c) : c_(c), d_(dims_of(c)) {}
  const Dims& d() const { return d_; }
  const GpuSpec& gpu() const { return *c_.gpu; }

  void forward_memory(const char* name, double bytes, bool core = false) {
    out_.forward.push_back({name, KernelKind::kMemory, memory_bound_ms(bytes, *c_.gpu), false, core});
  }
  void backward_memory(const char* name, double bytes, bool wgrad = false) {
    out_.backward.push_back({name, KernelKind::kMemory, memory_bound_ms(bytes, *c_.gpu), wgrad, false});
  }
  // A bf16 GEMM (attention's, the LM head's). Returns its time (ms).
  double forward_gemm(const char* name, GemmShape g, bool core = false) {
    const double ms = gemm_ms(g, *c_.gpu);
    out_.forward.push_back({name, KernelKind::kGemm, ms, false, core});
    return ms;
  }
  // A block's linear layer x (m x k) W (k x n): FP8 under fp8, after its input's cast.
  double forward_linear(const char* name, GemmShape g) {
    if (c_.fp8) forward_memory("fp8 cast-transpose", 4 * g.m * g.k);
    const double ms = linear_ms(g);
    out_.forward.push_back({name, KernelKind::kGemm, ms, false, false});
    return ms;
  }
  double linear_ms(GemmShape g) const {
    return gemm_ms(g, *c_.gpu, c_.fp8 ? GemmPrecision::kFp8 : GemmPrecision::kBf16);
  }
  // The backward of y = x W for x (rows x in), W (in x out): dx = dy W^T and dW = x^T dy, FP8
  // (after the output gradient's cast) when `block_linear` and fp8. Returns {dgrad ms, wgrad ms}.
  std::pair<double, double> linear_backward(const char* dgrad, const char* wgrad, double rows,
                                            double in, double out, bool block_linear = true) {
    const bool fp8 = block_linear && c_.fp8;
    if (fp8) backward_memory("fp8 cast-transpose", 4 * rows * out);
    const GemmPrecision precision = fp8 ? GemmPrecision::kFp8 : GemmPrecision::kBf16;
    const double dx = gemm_ms({rows, in, out}, *c_.gpu, precision);
    const double dw = gemm_ms({in, out, rows}, *c_.gpu, precision);
    out_.backward.push_back({dgrad, KernelKind::kGemm, dx, false, false});
    out_.backward.push_back({wgrad, KernelKind::kGemm, dw, true, false});
    return {dx, dw};
  }
  void backward_gemm(const char* name, GemmShape g) {
    out_.backward.push_back({name, KernelKind::kGemm, gemm_ms(g, *c_.gpu), false, false});
  }
  void forward_comm(const char* name, double ms) {
    if (ms > 0) out_.forward.push_back({name, KernelKind::kCommunication, ms, false, false});
  }
  void backward_comm(const char* name, double ms) {
    if (ms > 0) out_.backward.push_back({name, KernelKind::kCommunication, ms, false, false});
  }
  void ring(const char* name, double ms, bool forward) {
    if (ms > 0) (forward ? out_.forward : out_.backward).push_back({name, KernelKind::kContextRing, ms, false, false});
  }
  void forward_attention(const char* name, double ms) {
    out_.forward.push_back({name, KernelKind::kAttention, ms, false, true});
  }
  void backward_attention(const char* name, double ms) {
    out_.backward.push_back({name, KernelKind::kAttention, ms, false, false});
  }

  // Collectives of a whole activation (n x h bf16) over the tensor-parallel group.
  double all_reduce() const { return all_reduce_ms(d_.n * d_.h * kElement, c_.tp, *c_.tp_link); }
  double gather() const { return all_gather_ms(d_.n * d_.h * kElement, c_.tp, *c_.tp_link); }
  double small_all_reduce(double bytes) const { return all_reduce_ms(bytes, c_.tp, *c_.tp_link); }
  // One point-to-point message over the context-parallel ring.
  double p2p_ms(double bytes) const {
    return (c_.cp_link->latency_s + bytes / c_.cp_link->bandwidth_bytes_per_s) * 1e3;
  }

  // Entering a column-parallel linear whose GEMM takes `gemm` ms: with sequence parallelism,
  // all-gather the rows (forward), beside that GEMM under tp overlap; without, nothing.
  void enter_region_forward(const char* name, double gemm) {
    if (d_.sp) forward_comm(name, beside(gather(), gemm));
  }
  // Leaving a row-parallel linear whose GEMM took `gemm` ms: reduce-scatter (sequence parallel;
  // beside that GEMM under tp overlap) or all-reduce its output.
  void leave_region_forward(const char* name, double gemm = 0) {
    if (d_.t > 1) forward_comm(name, d_.sp ? beside(gather(), gemm) : all_reduce());
  }
  // The backward of leaving: the gradient's all-gather (sequence parallel) before the
  // row-parallel linear's dgrad of `dgrad` ms (beside it under tp overlap), or nothing.
  void leave_region_backward(const char* name, double dgrad = 0) {
    if (d_.sp) backward_comm(name, beside(gather(), dgrad));
  }
  // A collective that tp overlap runs beside a GEMM of `gemm` ms; exposed whole without it.
  double beside(double comm, double gemm) const { return d_.overlap ? overlapped(comm, gemm) : comm; }
  // The backward of entering, after a column-parallel linear's dgrad and wgrad: its input
  // gradient is all-reduced (or reduce-scattered) while the wgrad runs, and with sequence
  // parallelism the input is all-gathered again for the wgrad while the dgrad runs (Megatron-LM's
  // overlap). Only what the GEMMs do not hide is exposed.
  void enter_region_backward(const char* name, std::pair<double, double> dgrad_wgrad) {
    if (d_.t <= 1) return;
    double exposed = overlapped(d_.sp ? gather() : all_reduce(), dgrad_wgrad.second);
    if (d_.sp) exposed += overlapped(gather(), dgrad_wgrad.first);
    backward_comm(name, exposed);
  }
  // What a collective of `comm` ms run beside a GEMM of `gemm` ms adds to the two: the part the
  // GEMM does not hide, and the slowdown of the GEMM for the part it does (overlap_cost).
  double overlapped(double comm, double gemm) const {
    const double hidden = std::min(comm, gemm);
    return comm - hidden + c_.gpu->kernels.overlap_cost * hidden;
  }

  LayerKernels take() { return std::move(out_); }

 private:
  const KernelContext& c_;
  Dims d_;
  LayerKernels out_;
};

// Residual add, with bias and dropout where the model has them: reads the branch and the residual,
// writes the sum (and a 1-byte dropout mask). Its backward reads the gradient (and mask) and
// writes the branch's gradient and the residual stream's sum.
double residual_forward_bytes(const Dims& d) { return (6 + (d.dropout ? 1 : 0)) * d.rows * d.h; }
double residual_backward_bytes(const Dims& d) { return (6 + (d.dropout ? 1 : 0)) * d.rows * d.h; }
// A norm reads its input and writes its output; its backward reads input and gradient, writes
// the input gradient, and reduces the scale's (and bias's) gradient through fp32 partials.
double norm_forward_bytes(const Dims& d) { return 4 * d.rows * d.h; }
double norm_backward_bytes(const Dims& d) { return 8 * d.rows * d.h; }

// The attention core, QK^T to AV, per GPU (d.heads heads). Fused: one causal kernel doing half
// of the 4*b*s^2*d*heads FLOPs forward and 2.5 times that backward (its five products, the
// scores recomputed). Unfused: two batched GEMMs, the masked softmax over the bf16 scores (read,
// write) and the dropout (read, write, 1-byte mask), and their backward.
// Per GPU: 1/cp of the causal work under context parallelism.
double causal_attention_flops(const Dims& d) { return 0.5 * 4 * d.b * d.heads * d.s * d.s * d.d / d.cp; }

// Context parallelism's ring: cp-1 steps, each passing this GPU's key/value chunk (b*s/cp tokens
// of kv/t values each, bf16; `passes` 2 in the backward, with their gradients) to the next rank
// while 1/cp of the attention work runs. Returns the exposed ms.
double cp_ring_ms(const Builder& k, double attention_ms, double passes) {
  const Dims& d = k.d();
  if (d.cp <= 1) return 0;
  const double bytes = passes * 2 * d.n * (d.kv / d.t) * 2;
  const double step = k.p2p_ms(bytes);
  return (d.cp - 1) * k.overlapped(step, attention_ms / d.cp);
}

void attention_core_forward(Builder& k) {
  const Dims& d = k.d();
  if (d.flash) {
    const double ms = fused_attention_ms(causal_attention_flops(d), k.gpu());
    k.forward_attention("flash attention", ms);
    k.ring("context-parallel key/value ring", cp_ring_ms(k, ms, 1), true);
    return;
  }
  const double scores = d.b * d.heads * d.s * d.s;
  k.forward_gemm("attention scores QK^T", {d.s, d.s, d.d, d.b * d.heads}, true);
  k.forward_memory("softmax", 4 * scores, true);
  if (d.dropout) k.forward_memory("attention dropout", 5 * scores, true);
  k.forward_gemm("attention AV", {d.s, d.d, d.s, d.b * d.heads}, true);
}

void attention_core_backward(Builder& k) {
  const Dims& d = k.d();
  if (d.flash) {
    const double ms = fused_attention_ms(2.5 * causal_attention_flops(d), k.gpu());
    k.backward_attention("flash attention backward", ms);
    k.ring("context-parallel key/value ring backward", cp_ring_ms(k, ms, 2), false);
    return;
  }
  const double scores = d.b * d.heads * d.s * d.s;
  const double batch = d.b * d.heads;
  k.backward_gemm("attention AV backward (scores)", {d.s, d.s, d.d, batch});
  k.backward_gemm("attention AV backward (values)", {d.s, d.d, d.s, batch});
  if (d.dropout) k.backward_memory("attention dropout backward", 5 * scores);
  k.backward_memory("softmax backward", 6 * scores);
  k.backward_gemm("attention QK^T backward (queries)", {d.s, d.d, d.s, batch});
  k.backward_gemm("attention QK^T backward (keys)", {d.s, d.d, d.s, batch});
}

// The backward of norm -> column-parallel linear (in x out per GPU): the linear's dgrad and wgrad,
// its input gradient's reduction (less what they hide), the norm's backward.
void norm_linear_backward(Builder& k, const char* dgrad, const char* wgrad, double in, double out,
                          const char* reduction, const char* norm, bool block_linear = true) {
  const auto times = k.linear_backward(dgrad, wgrad, k.d().n, in, out, block_linear);
  k.enter_region_backward(reduction, times);
  k.backward_memory(norm, norm_backward_bytes(k.d()));
}

LayerKernels block_kernels(Builder& k) {
  const Dims& d = k.d();
  const double qkv = (d.h + 2 * d.kv) / d.t;
  const double mlp_in = (d.gated ? 2 : 1) * d.f / d.t;
  // Forward, in order.
  k.forward_memory("norm 1", norm_forward_bytes(d));
  k.enter_region_forward("attention all-gather", k.linear_ms({d.n, qkv, d.h}));
  k.forward_linear("qkv", {d.n, qkv, d.h});
  if (d.rotary) k.forward_memory("rotary", 4 * d.rotated * d.n * (d.h + d.kv) / d.t);
  attention_core_forward(k);
  const double projection = k.forward_linear("attention projection", {d.n, d.h, d.h / d.t});
  k.leave_region_forward("attention output reduction", projection);
  k.forward_memory("residual add 1", residual_forward_bytes(d));
  k.forward_memory("norm 2", norm_forward_bytes(d));
  k.enter_region_forward("mlp all-gather", k.linear_ms({d.n, mlp_in, d.h}));
  k.forward_linear("mlp in", {d.n, mlp_in, d.h});
  k.forward_memory(d.gated ? "swiglu" : "gelu", (d.gated ? 6 : 4) * d.n * d.f / d.t);
  const double mlp_out = k.forward_linear("mlp out", {d.n, d.h, d.f / d.t});
  k.leave_region_forward("mlp output reduction", mlp_out);
  k.forward_memory("residual add 2", residual_forward_bytes(d));
  // Backward, in order.
  k.backward_memory("residual add 2 backward", residual_backward_bytes(d));
  k.leave_region_backward("mlp output gradient all-gather", k.linear_ms({d.n, d.f / d.t, d.h}));
  k.linear_backward("mlp out dgrad", "mlp out wgrad", d.n, d.f / d.t, d.h);
  k.backward_memory(d.gated ? "swiglu backward" : "gelu backward", (d.gated ? 10 : 6) * d.n * d.f / d.t);
  norm_linear_backward(k, "mlp in dgrad", "mlp in wgrad", d.h, mlp_in, "mlp input gradient reduction (exposed)",
                       "norm 2 backward");
  k.backward_memory("residual add 1 backward", residual_backward_bytes(d));
  k.leave_region_backward("attention output gradient all-gather", k.linear_ms({d.n, d.h / d.t, d.h}));
  k.linear_backward("attention projection dgrad", "attention projection wgrad", d.n, d.h / d.t, d.h);
  attention_core_backward(k);
  if (d.rotary) k.backward_memory("rotary backward", 4 * d.rotated * d.n * (d.h + d.kv) / d.t);
  norm_linear_backward(k, "qkv dgrad", "qkv wgrad", d.h, qkv, "attention input gradient reduction (exposed)",
                       "norm 1 backward");
  return k.take();
}

// Final norm, the vocabulary-parallel LM head (V/t columns per GPU) and cross-entropy: the loss
// reads the logits three times in fp32 (max, sum of exponentials, target) beside three small
// all-reduces of one float per token; its backward writes the logits' gradient.
LayerKernels head_kernels(Builder& k) {
  const Dims& d = k.d();
  const double v = d.vocab / d.t;
  const double logits = d.n * v;
  k.forward_memory("final norm", norm_forward_bytes(d));
  k.enter_region_forward("head all-gather", gemm_ms({d.n, v, d.h}, k.gpu()));
  k.forward_gemm("lm head", {d.n, v, d.h});
  k.forward_memory("cross-entropy", 10 * logits);
  if (d.t > 1) k.forward_comm("cross-entropy all-reduces", 3 * k.small_all_reduce(4 * d.n));
  k.backward_memory("cross-entropy backward", 8 * logits);
  norm_linear_backward(k, "lm head dgrad", "lm head wgrad", d.h, v, "head input gradient reduction (exposed)",
                       "final norm backward", false);
  return k.take();
}

// The lookup reads each token's row (and GPT-2's position row) and writes the sum; with t > 1
// every GPU looks up its part of the vocabulary and the rows are reduced. The backward adds each
// token's gradient into fp32 rows of the table's gradient: all of it weight gradient.
LayerKernels embedding_kernels(Builder& k) {
  const Dims& d = k.d();
  const double tables = d.positions ? 2 : 1;  // token (and learned position) embeddings
  k.forward_memory("embedding lookup", (2 + 2 * tables) * d.n * d.h);
  k.leave_region_forward("embedding reduction");
  if (d.dropout) k.forward_memory("embedding dropout", 5 * d.rows * d.h);
  k.leave_region_backward("embedding gradient all-gather");
  k.backward_memory("embedding gradient", tables * 10 * d.n * d.h, true);
  return k.take();
}

}  // namespace

double LayerKernels::forward_ms() const {
  return sum_ms(forward, [](const Kernel&) { return true; });
}
double LayerKernels::backward_ms() const {
  return sum_ms(backward, [](const Kernel&) { return true; });
}
double LayerKernels::wgrad_ms() const {
  return sum_ms(backward, [](const Kernel& k) { return k.weight_gradient; });
}
double LayerKernels::communication_ms() const {
  auto comm = [](const Kernel& k) { return k.kind == KernelKind::kCommunication; };
  return sum_ms(forward, comm) + sum_ms(backward, comm);
}
double LayerKernels::attention_core_forward_ms() const {
  return sum_ms(forward, [](const Kernel& k) { return k.attention_core; });
}

LayerKernels layer_kernels(LayerKind kind, const KernelContext& context) {
  Builder builder(context);
  switch (kind) {
    case LayerKind::kEmbedding: return embedding_kernels(builder);
    case LayerKind::kHead: return head_kernels(builder);
    case LayerKind::kBlock: break;
  }
  return block_kernels(builder);
}

}  // namespace pp
