#include "train/gradients.h"

#include <string>

namespace pp {

namespace {

Buffer gradient_named(TrainableChunk& chunk, const std::string& name) {
  for (std::size_t i = 0; i < chunk.tensor_count(); ++i) {
    if (chunk.tensor_name(i) == name) return chunk.gradient(i);
  }
  return {};
}

}  // namespace

void reduce_replicated(std::vector<Chunk>& chunks, Transport& tensor) {
  if (tensor.size() == 1) return;
  for (Chunk& c : chunks) {
    for (std::size_t i = 0; i < c.state->tensor_count(); ++i) {
      if (c.state->replicated(i)) tensor.allreduce_sum(c.state->gradient(i));
    }
  }
}

// The tied embedding: the copies on this rank summed, then summed with the other holder's, so
// every copy carries the whole gradient (with tp, each tp rank's piece with the other's piece).
void reduce_tied(std::vector<Chunk>& chunks, const std::string& tied_name, Transport* tied, Backend& backend) {
  if (tied_name.empty()) return;
  std::vector<Buffer> copies;
  for (Chunk& c : chunks) {
    const Buffer g = gradient_named(*c.state, tied_name);
    if (!g.empty()) copies.push_back(g);
  }
  if (copies.empty() || (copies.size() == 1 && tied == nullptr)) return;
  for (std::size_t i = 1; i < copies.size(); ++i) backend.accumulate(copies.front(), copies[i]);
  if (tied != nullptr) tied->allreduce_sum(copies.front());
  for (std::size_t i = 1; i < copies.size(); ++i) backend.copy(copies[i], copies.front());
}

void reduce_data_parallel(std::vector<Chunk>& chunks, Transport& data) {
  if (data.size() == 1) return;
  for (Chunk& c : chunks) {
    for (std::size_t i = 0; i < c.state->tensor_count(); ++i) data.allreduce_sum(c.state->gradient(i));
  }
}

// The squared gradient norm of the whole model: every tensor once (the head's wte copy is the
// embedding's), summed over the pipeline.
double global_squared_norm(std::vector<Chunk>& chunks, const std::string& tied_name, Transport& pipeline,
                           Transport& tensor) {
  double sum = 0;
  for (Chunk& c : chunks) sum += c.state->squared_grad_norm(c.holds_tied_copy() ? tied_name : "");
  pipeline.allreduce_sum(&sum, 1);
  tensor.allreduce_sum(&sum, 1);
  return sum;
}

}  // namespace pp
