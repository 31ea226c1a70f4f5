#include "pp/planner/memory_model.h"

namespace pp {

double static_bytes_per_param(int dp, bool distributed_optimizer, const MemoryOptions& o) {
  return 2 + o.gradient_bytes + 12.0 / (distributed_optimizer ? dp : 1);
}

double attention_scores_bytes(const ModelConfig& m, int b, int s, int tp, const MemoryOptions& o) {
  const double scores = o.flash_attention ? 4.0 * m.heads * s * b
                                          : (2.0 + (o.dropout ? 3.0 : 0.0)) * m.heads * double(s) * s * b;
  return scores / tp;
}

double block_activation_bytes(const ModelConfig& m, int b, int s, int tp, const MemoryOptions& o) {
  const double sbh = double(s) * b * m.hidden;
  const double sbf = double(s) * b * m.ffn_hidden;
  const double t = tp;
  // Bytes per element of what a linear layer keeps of its input for the weight gradient: the
  // FP8 copy its GEMM read under fp8, else bf16.
  const double linear_input = o.fp8 ? 1 : 2;
  const double replicated = (4 + 2 * linear_input + (o.dropout ? 2 : 0)) * sbh;
  const double mlp = m.gated_mlp() ? 4 * sbf + linear_input * sbf : 2 * sbf + linear_input * sbf;
  const double split = 2.0 * s * b * (m.hidden + 2.0 * m.kv_dim()) + linear_input * sbh + mlp;
  return replicated / (o.sequence_parallel ? t : 1) + split / t + attention_scores_bytes(m, b, s, tp, o);
}

double block_checkpoint_bytes(const ModelConfig& m, int b, int s, int tp, const MemoryOptions& o) {
  return 2.0 * s * b * m.hidden / (o.sequence_parallel ? tp : 1);
}

double head_activation_bytes(const ModelConfig& m, int b, int s, int tp, const MemoryOptions& o) {
  return 2.0 * s * b * m.hidden / (o.sequence_parallel ? tp : 1) + 2.0 * s * b * m.vocab / tp;
}

}  // namespace pp
