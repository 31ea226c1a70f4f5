#include "pp/planner/layer_profile.h"

#include <fmt/format.h>

#include "pp/error.h"

namespace pp {
namespace {

constexpr double kBf16Bytes = 2;

LayerProfile embedding_layer(const ModelConfig& m, double tokens) {
  LayerProfile l;
  l.name = "embedding";
  l.kind = LayerKind::kEmbedding;
  l.params = double(m.vocab) * m.hidden +
             (m.learned_positions() ? double(m.max_positions) * m.hidden : 0);
  l.output_bytes = tokens * m.hidden * kBf16Bytes;
  return l;
}

LayerProfile block_layer(const ModelConfig& m, int index, double b, double s) {
  const double h = m.hidden;
  const double f = m.ffn_hidden;
  const double kv = m.kv_dim();
  const double tokens = b * s;
  const double linear = 2 * tokens * h * (2 * h + 2 * kv) + (m.gated_mlp() ? 3 : 2) * 2 * tokens * h * f;
  const double attention = 4 * b * s * s * h;
  LayerProfile l;
  l.name = fmt::format("block {}", index);
  l.kind = LayerKind::kBlock;
  l.forward_flops = linear + attention;
  l.attention_flops = attention;
  l.wgrad_flops = linear;
  l.backward_flops = 2 * linear + 2 * attention;
  double params = h * h * 2 + 2 * h * kv + (m.gated_mlp() ? 3 : 2) * h * f;
  if (m.has_biases()) params += (h + 2 * kv) + h + f + h;
  if (m.qkv_bias) params += h + 2 * kv;
  params += m.layer_norm() ? 4 * h : 2 * h;
  l.params = params;
  l.output_bytes = tokens * h * kBf16Bytes;
  return l;
}

LayerProfile head_layer(const ModelConfig& m, double tokens) {
  const double h = m.hidden;
  const double v = m.vocab;
  LayerProfile l;
  l.name = "head";
  l.kind = LayerKind::kHead;
  l.forward_flops = 2 * tokens * h * v;
  l.wgrad_flops = 2 * tokens * h * v;
  l.backward_flops = 4 * tokens * h * v;
  l.params = h * v + (m.layer_norm() ? 2 * h : h);  // LM head + final norm
  l.shares_embedding = m.tied_embeddings;
  l.output_bytes = 0;
  return l;
}

}  // namespace

double ModelProfile::forward_flops() const {
  double total = 0;
  for (const LayerProfile& l : layers) total += l.forward_flops;
  return total;
}

ModelProfile analytic_profile(const ModelConfig& model, int microbatch_size, int seq_len) {
  ModelProfile p;
  p.origin = "analytic";
  p.microbatch_size = microbatch_size;
  p.seq_len = seq_len;
  const double b = microbatch_size;
  const double s = seq_len;
  p.layers.push_back(embedding_layer(model, b * s));
  for (int i = 0; i < model.layers; ++i) p.layers.push_back(block_layer(model, i, b, s));
  p.layers.push_back(head_layer(model, b * s));
  return p;
}

ModelProfile measured_profile(const ModelConfig& model, const MeasuredProfile& measured,
                              int microbatch_size, int seq_len, const std::string& origin) {
  ModelProfile p = analytic_profile(model, microbatch_size, seq_len);
  p.origin = origin;
  if (measured.layers.size() != p.layers.size()) {
    throw_invalid(fmt::format("--profile: {} has {} layers, but the model has {} (embedding, {} "
                              "blocks, head)",
                              origin, measured.layers.size(), p.layers.size(), model.layers));
  }
  const double scale = double(microbatch_size) * seq_len /
                       (double(measured.microbatch_size) * measured.seq_len);
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    const LayerMeasurement& m = measured.layers[i];
    p.layers[i].measured_fwd_ms = m.fwd_ms * scale;
    p.layers[i].measured_bwd_ms = m.bwd_ms * scale;
    p.layers[i].measured_wgrad_ms = m.wgrad_ms * scale;
    p.layers[i].measured_activation_bytes = m.activation_bytes * scale;
  }
  return p;
}

}  // namespace pp
