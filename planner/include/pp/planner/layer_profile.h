#pragma once
// A model expanded into the layers the planner places on stages: the embedding, each
// transformer block, and the head (final norm + LM head + loss). Figures are per micro-batch of
// b sequences of s tokens for the whole layer (no tensor parallelism).
//
// FLOPs count multiply-adds as 2 (forward of a (m,k)x(k,n) product: 2mkn). Per block:
//   linear    2bs*h*(2h + 2*kv_dim) + (gated ? 3 : 2) * 2bs*h*f
//   attention 4b*s^2*h          (scores QK^T and the weighted sum AV, no causal discount)
//   backward  2 * forward: the weight gradient is `linear`, the input gradient `linear + 2*attention`
// Head: 2bs*h*V forward, 4bs*h*V backward (2bs*h*V of it weight gradient). Embedding: no FLOPs.

#include <optional>
#include <string>
#include <vector>

#include "pp/model.h"
#include "pp/profile.h"

namespace pp {

enum class LayerKind { kEmbedding, kBlock, kHead };

struct LayerProfile {
  std::string name;  // "embedding", "block 0", ..., "head"
  LayerKind kind = LayerKind::kBlock;
  double forward_flops = 0;
  double backward_flops = 0;  // input and weight gradients
  double wgrad_flops = 0;     // the weight-gradient part of backward_flops
  double attention_flops = 0; // the attention core's part of forward_flops (4b*s^2*h)
  double params = 0;          // parameters held by the layer (the head counts a tied matrix too)
  bool shares_embedding = false;  // the head's matrix is the embedding's (tied)
  double output_bytes = 0;    // the bf16 activation handed to the next layer: b*s*h*2
  // Measured times (ms) when the profile comes from a file, at tensor parallelism 1.
  std::optional<double> measured_fwd_ms, measured_bwd_ms, measured_wgrad_ms;
  std::optional<double> measured_activation_bytes;
};

struct ModelProfile {
  std::string origin;  // "analytic" or the profile file's path
  int microbatch_size = 1;
  int seq_len = 1;
  std::vector<LayerProfile> layers;  // embedding, blocks 0..L-1, head

  double forward_flops() const;  // whole model, one micro-batch
};

ModelProfile analytic_profile(const ModelConfig& model, int microbatch_size, int seq_len);

// The analytic profile with the measured times and activation sizes of `measured` laid over it,
// scaled linearly in tokens when measured at another micro-batch size or sequence length. Throws
// pp::Error(kInvalidInput) when the layer counts differ.
ModelProfile measured_profile(const ModelConfig& model, const MeasuredProfile& measured,
                              int microbatch_size, int seq_len, const std::string& origin);

}  // namespace pp
