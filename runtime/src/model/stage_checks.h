#pragma once
// The checks every stage model makes, on the CPU and on the GPU alike: the stage's arguments
// against the model, and token or target ids against the vocabulary.
#include <cstddef>
#include <cstdint>

#include "pp/model.h"

namespace pp {

// Throws pp::Error(kInvalidInput) for a model of a family `backend` does not run (GPT-2 always;
// Llama where runs_llama), layers outside 0..L+1, a micro-batch size or sequence length outside [1, positions], heads
// that do not divide the hidden size, or a negative checkpoint interval.
void check_stage_arguments(const ModelConfig& model, int first_layer, int last_layer, int microbatch_size,
                           int seq_len, int checkpoint_interval, const char* backend, bool runs_llama);

// Throws pp::Error(kInvalidInput) naming the first of the n ids outside [0, limit) and its position.
void check_ids(const std::int32_t* ids, std::size_t n, long long limit, const char* what);

}  // namespace pp
