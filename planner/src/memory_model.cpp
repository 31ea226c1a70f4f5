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
  const double t = tp;
  const double replicated = (8 + (o.dropout ? 2 : 0)) * sbh;
  const double split = 2.0 * s * b * (m.hidden + 2.0 * m.kv_dim()) + 2 * sbh +
                       (m.gated_mlp() ? 6.0 : 4.0) * s * b * m.ffn_hidden;
  return replicated / (o.sequence_parallel ? t : 1) + split / t + attention_scores_bytes(m, b, s, tp, o);
}

double block_checkpoint_bytes(const ModelConfig& m, int b, int s, int tp, const MemoryOptions& o) {
  return 2.0 * s * b * m.hidden / (o.sequence_parallel ? tp : 1);
}

double head_activation_bytes(const ModelConfig& m, int b, int s, int tp, const MemoryOptions& o) {
  return 2.0 * s * b * m.hidden / (o.sequence_parallel ? tp : 1) + 2.0 * s * b * m.vocab / tp;
}

}  // namespace pp
