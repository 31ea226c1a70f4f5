#include "train/checkpointing.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "pp/error.h"
#include "pp/runtime/safetensors.h"
#include "train/checkpoint_gather.h"

namespace pp {

int checkpoint_step(const std::string& path, const std::string& model_name) {
  const auto metadata = read_safetensors_metadata(path);
  const auto step = metadata.find("step");
  int value = -1;
  const char* end = step == metadata.end() ? nullptr : step->second.data() + step->second.size();
  const auto parsed = step == metadata.end() ? std::from_chars_result{nullptr, std::errc::invalid_argument}
                                             : std::from_chars(step->second.data(), end, value);
  if (parsed.ec != std::errc() || parsed.ptr != end || value < 0) {
    throw_invalid(fmt::format("checkpoint '{}' has no valid step: not written by pp run", path));
  }
  const auto model = metadata.find("model");
  if (model != metadata.end() && model->second != model_name) {
    throw_invalid(fmt::format("checkpoint '{}' is of model '{}', not '{}'", path, model->second,
                              model_name));
  }
  return value;
}

// A checkpoint is written only when every rank's tensors are finite, so the last checkpoint on
// disk is always a good one. Collective over the world.
void refuse_non_finite(Transport& world, const std::vector<TensorRef>& tensors, int step) {
  double bad = 0;
  std::string example;
  for (const TensorRef& t : tensors) {
    for (std::size_t i = 0; i < t.count; ++i) {
      if (!std::isfinite(t.data[i])) {
        if (example.empty()) example = t.name;
        bad += 1;
      }
    }
  }
  const double mine = bad;
  world.allreduce_sum(&bad, 1);
  if (bad > 0) {
    throw_runtime(fmt::format("after step {} {} values of the weights or optimizer state are not finite{}: "
                              "training diverged; the checkpoint is not written, the last one is kept",
                              step, bad, mine > 0 ? fmt::format(" (here: '{}')", example) : std::string()));
  }
}

void save_checkpoint(Transport& world, std::vector<Chunk>& chunks, const std::string& tied_name, int replica, int step,
                     const std::string& path, const std::string& model_name) {
  // Replica 0's ranks hold every tensor once: the pieces of a sharded tensor on every tp rank, a
  // replicated one on tp rank 0 (its shard index). The head's copy of the tied embedding (and its
  // optimizer state) is left to the embedding's rank. Views, not copies: the optimizer state is
  // large.
  std::vector<TensorRef> mine;
  std::vector<TensorRef> optimizer_state;
  const auto wanted = [&](const Chunk& c, const TensorRef& t) {
    const bool tied_copy = c.holds_tied_copy() && !tied_name.empty() &&
                           (t.name == tied_name || t.name.rfind(tied_name + ".", 0) == 0);
    return !tied_copy && !(t.shard.replicated() && t.shard.index != 0);
  };
  if (replica == 0) {
    for (Chunk& c : chunks) {
      for (TensorRef& t : c.state->weights()) {
        if (wanted(c, t)) mine.push_back(std::move(t));
      }
      for (TensorRef& t : c.state->optimizer_state()) {
        if (wanted(c, t)) optimizer_state.push_back(std::move(t));
      }
    }
  }
  mine.insert(mine.end(), optimizer_state.begin(), optimizer_state.end());
  refuse_non_finite(world, mine, step);
  save_gathered_checkpoint(world, mine, path,
                           {{"format", "pt"}, {"writer", "pp run"}, {"step", std::to_string(step)},
                            {"model", model_name}});
}

}  // namespace pp
