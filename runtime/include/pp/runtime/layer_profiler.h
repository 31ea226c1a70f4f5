#pragma once
// Measures each layer of a GPT-2 model on this machine (the CPU backend, or the CUDA backend on
// GPU 0): forward, backward and weight-gradient time per micro-batch and the memory a
// micro-batch's activations hold, for the profile file `pp plan --profile` reads
// (docs/profile-format.md). On a GPU each call is timed from a synchronised device to a
// synchronised device.
//
// The layers run as a chain of one-layer stages (the code `pp run` runs), one micro-batch
// passing through all of them as through a run's stage: the forward of every layer, then the input
// gradients from the head down, then the weight gradients, each call timed on its own. So a
// layer's backward finds its activations where a run finds them (out of the nearest caches, the
// other layers having run since), not hot from its own forward; measuring a layer alone, repeated,
// read half the time a run takes. Warm-up passes come first, so that the timed ones reuse the
// stages' pooled buffers as every step after a run's first does. Activation bytes are what a stage
// holds for a micro-batch between its forward and its backward (StageModel::cached_bytes).
// Memory: the whole model's parameters and gradients, and one micro-batch's activations.

#include <cstdint>
#include <string>

#include "pp/model.h"
#include "pp/profile.h"

namespace pp {

struct ProfilerOptions {
  int microbatch_size = 1;
  int seq_len = 64;
  int repeats = 5;  // timed repeats per layer after the warm-ups; the median is kept
  std::uint64_t seed = 1;
  int warmups = 2;  // untimed micro-batches per layer first: the stage's buffers are pooled then
  std::string device = "cpu";  // cpu | cuda
  bool allow_tf32 = false;     // cuda: TF32 matrix products
};

// Layers in model order: embedding, blocks, head. Throws pp::Error(kInvalidInput) for a model
// that is not GPT-2 family or a sequence longer than its positions.
MeasuredProfile profile_layers(const ModelConfig& model, const ProfilerOptions& options);

}  // namespace pp
