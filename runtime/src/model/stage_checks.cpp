#include "model/stage_checks.h"

#include <fmt/format.h>

#include "pp/error.h"
#include "pp/runtime/parameters.h"

namespace pp {

void check_stage_arguments(const ModelConfig& model, int first_layer, int last_layer, int microbatch_size,
                           int seq_len, int checkpoint_interval, const char* backend, bool runs_llama) {
  if (model.family == ModelFamily::kLlama && !runs_llama) {
    throw_invalid(fmt::format("the {} backend runs GPT-2 models only in this version ({} is a Llama model): use "
                              "--device cpu",
                              backend, model.name));
  }
  check_layer_range(model, first_layer, last_layer);
  if (microbatch_size < 1 || seq_len < 1 || seq_len > model.max_positions) {
    throw_invalid(fmt::format("micro-batch size {} and sequence length {} (at most {}) must be positive",
                              microbatch_size, seq_len, model.max_positions));
  }
  if (model.heads < 1 || model.hidden % model.heads != 0) {
    throw_invalid(fmt::format("{} heads do not divide the hidden size {}", model.heads, model.hidden));
  }
  if (checkpoint_interval < 0) throw_invalid("the checkpoint interval must be 0 or more");
}

void check_ids(const std::int32_t* ids, std::size_t n, long long limit, const char* what) {
  for (std::size_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= limit) {
      throw_invalid(fmt::format("{} {} at position {} is outside [0, {})", what, ids[i], i, limit));
    }
  }
}

}  // namespace pp
