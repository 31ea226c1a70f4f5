#pragma once
// Measures each layer of a GPT-2 model on this machine (CPU, OpenBLAS): forward, backward and
// weight-gradient time per micro-batch and the memory a micro-batch's activations hold, for the
// profile file `pp plan --profile` reads (docs/profile-format.md).

#include "pp/model.h"
#include "pp/profile.h"

namespace pp {

struct ProfilerOptions {
  int microbatch_size = 1;
  int seq_len = 64;
  int repeats = 5;  // timed repeats per layer after one warm-up; the median is kept
  std::uint64_t seed = 1;
};

// Layers in model order: embedding, blocks, head. Throws pp::Error(kInvalidInput) for a model
// that is not GPT-2 family or a sequence longer than its positions.
MeasuredProfile profile_layers(const ModelConfig& model, const ProfilerOptions& options);

}  // namespace pp
