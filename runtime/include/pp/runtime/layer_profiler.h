#pragma once
// Measures each layer of a GPT-2 model on this machine (CPU, OpenBLAS): forward, backward and
// weight-gradient time per micro-batch and the memory a micro-batch's activations hold, for the
// profile file `pp plan --profile` reads (docs/profile-format.md).
//
// Each layer runs as a one-layer StageModel, the code `pp run` runs, in the run's steady state:
// warm-up micro-batches first, so that the timed ones reuse the stage's pooled buffers as every
// micro-batch after a run's first step does. Activation bytes are what the stage holds for a
// micro-batch between its forward and its backward (StageModel::cached_bytes).

#include <cstdint>

#include "pp/model.h"
#include "pp/profile.h"

namespace pp {

struct ProfilerOptions {
  int microbatch_size = 1;
  int seq_len = 64;
  int repeats = 5;  // timed repeats per layer after the warm-ups; the median is kept
  std::uint64_t seed = 1;
  int warmups = 2;  // untimed micro-batches per layer first: the stage's buffers are pooled then
};

// Layers in model order: embedding, blocks, head. Throws pp::Error(kInvalidInput) for a model
// that is not GPT-2 family or a sequence longer than its positions.
MeasuredProfile profile_layers(const ModelConfig& model, const ProfilerOptions& options);

}  // namespace pp
