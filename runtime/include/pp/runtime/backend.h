#pragma once
// A backend as the trainer sees it: where a rank's model chunks compute and keep their weights,
// gradients and optimizer state. The CPU backend (OpenBLAS, host memory) implements it here; a
// CUDA backend (cuBLASLt and pp's kernels, device memory) implements the same calls. The trainer's
// step, gradient reductions, clipping, optimizer step and checkpoints go through it and never
// touch tensor values themselves, except through host views for checkpoints.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pp/model.h"
#include "pp/runtime/adamw.h"
#include "pp/runtime/backend_choice.h"
#include "pp/runtime/buffer.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/stage_compute.h"
#include "pp/runtime/transport.h"

namespace pp {

// One chunk of a pipeline stage: the layers [first_layer, last_layer] of `model`.
struct ChunkSpec {
  const ModelConfig* model = nullptr;  // outlives the chunk
  int first_layer = 0;
  int last_layer = 0;
  int microbatch_size = 1;
  int seq_len = 1;
  int checkpoint_interval = 0;
  AdamWOptions adamw;
  std::uint64_t init_seed = 1337;  // GPT-2's initialisation (init_gpt2), the same on every layout
  // The stage's tensor-parallel group (ranked by tp rank; null or of size 1: tp 1), outliving the
  // chunk, and whether the stage runs sequence-parallel (pp/runtime/stage_model.h).
  Transport* tp_group = nullptr;
  bool sequence_parallel = false;
};

class TrainableChunk {
 public:
  virtual ~TrainableChunk() = default;

  virtual StageCompute& compute() = 0;

  // The parameter tensors, in gpt2_parameters' order: names, and gradients in backend memory.
  virtual std::size_t tensor_count() const = 0;
  virtual const std::string& tensor_name(std::size_t i) const = 0;
  virtual Buffer gradient(std::size_t i) = 0;
  // Whether tensor i is held whole by every tensor-parallel rank (not cut into pieces).
  virtual bool replicated(std::size_t i) const = 0;
  virtual void zero_grad() = 0;

  // The sum of grad^2 over the chunk's tensors except the one named `skip` (a tied copy counted
  // elsewhere), in double; on a tensor-parallel rank other than the first, over its pieces only
  // (the first counts the replicated tensors).
  virtual double squared_grad_norm(const std::string& skip) = 0;
  // One AdamW update of every tensor from grad * grad_scale.
  virtual void optimizer_step(float grad_scale) = 0;

  // Replaces the weights (and the optimizer state too when asked) with a safetensors file's
  // tensors of the same names; throws pp::Error(kInvalidInput) naming a missing or mis-shaped one.
  virtual void load(const std::string& path, bool with_optimizer_state) = 0;
  // Host views of the weights, and of the optimizer state (state_refs' names), valid until the
  // next step or load.
  virtual std::vector<TensorRef> weights() = 0;
  virtual std::vector<TensorRef> optimizer_state() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<TrainableChunk> make_chunk(const ChunkSpec& spec) = 0;
  // Buffers of `floats` each for the executor's messages, in this backend's memory.
  virtual std::unique_ptr<BufferPool> activation_pool(std::size_t floats) = 0;
  // y += x, then copy: for buffers of this backend (a tied weight's copies on one rank).
  virtual void accumulate(const Buffer& y, const Buffer& x) = 0;
  virtual void copy(const Buffer& to, const Buffer& from) = 0;
  // A transport for this backend's buffers over `host_group` (an MPI group): the group itself on
  // the CPU; on a GPU, staged through pinned host memory (kStagedMpi) or NCCL (kNccl).
  virtual std::unique_ptr<Transport> transport_for(std::unique_ptr<Transport> host_group, TransportKind kind) = 0;
  // Returns when all work submitted so far has finished (a step's end, before timing it).
  virtual void synchronize() = 0;
  // Peak bytes of backend memory held for the model (weights, gradients, optimizer state,
  // activations); 0 where the backend does not track it (the CPU reports process RSS instead).
  virtual double peak_memory_bytes() const = 0;
  // One line: the device, e.g. "CPU, OpenBLAS float32" or "NVIDIA H100 80GB HBM3 (cuda:0), fp32".
  virtual std::string describe() const = 0;
};

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace pp
