#pragma once
// The compute of one pipeline stage of a GPT-2 model on the CPU (OpenBLAS): the layers
// [first_layer, last_layer] (0 = embedding, 1..L = blocks, L+1 = head), forward and backward per
// micro-batch, with the backward split into its input-gradient part (I) and its weight-gradient
// part (W) so that every schedule, zero-bubble ones included, can run it.
//
// GPT-2 exactly: learned token and position embeddings; pre-LayerNorm blocks (eps 1e-5); causal
// multi-head self-attention scaled by 1/sqrt(head_dim); MLP with GELU (tanh approximation);
// final LayerNorm; LM head tied to the token embedding; cross-entropy. No dropout. float32.
//
// Activations between stages are (b, T, C) float32, row-major. Caches are kept per micro-batch
// id from forward() until backward_weight(); with a checkpoint interval k, blocks whose index j
// (0-based) has j % k == k-1 keep only their input and recompute in backward_input(). j is the
// model-wide block index (layer - 1), as the planner counts it, so a block is checkpointed or not
// whatever the partition. Results are bitwise the same with and without checkpointing.
//
// Memory: every float buffer (activations kept for the backward, gradients kept for W,
// temporaries) comes from a pool the model owns and goes back to it when no longer needed, so the
// pool holds at most what was live at once and a steady state allocates nothing (no fresh mmap
// per micro-batch). The arithmetic does not depend on which buffer is reused.
//
// Tensor parallelism (Megatron-LM, optionally with sequence parallelism): given the group of
// tp ranks holding this stage (ranked by tp rank), the stage's parameters are this rank's pieces
// (initialised_parameters with tp_rank, tp) and every collective of the stage's compute runs
// on that group, in the order of the calls (every rank of the group makes the same calls). The
// activations between stages are then this rank's 1/tp of the rows, (b * T / tp, C): with
// sequence parallelism its rows of the residual stream, without it a slice of the replicated
// stream (all-gathered on receipt), so a message does not grow with tp. With sequence
// parallelism the replicated tensors' gradients (LayerNorms, wpe, c_proj biases) hold this rank's
// rows' share: the caller sums them over the group (without it they are whole on every rank).
//
// Gradients accumulate (+=) into the parameters' grad; nothing here zeroes them. Misuse (a second
// forward of a live id, I before F, W before I, a missing buffer) throws pp::Error(kInternal);
// token or target ids outside [0, V) throw pp::Error(kInvalidInput). Matrix products go through
// OpenBLAS (its thread count is the caller's: OPENBLAS_NUM_THREADS or openblas_set_num_threads).

#include <cstdint>
#include <memory>

#include "pp/model.h"
#include "pp/runtime/parameters.h"
#include "pp/runtime/stage_compute.h"
#include "pp/runtime/transport.h"

namespace pp {

class StageModel : public StageCompute {
 public:
  // `parameters` (from gpt2_parameters for the same layer range, cut to the rank's pieces with
  // tp > 1) and `tp_group` (null: tp 1) must outlive the model.
  StageModel(const ModelConfig& model, int first_layer, int last_layer, int microbatch_size,
             int seq_len, int checkpoint_interval, ParameterSet* parameters, Transport* tp_group = nullptr,
             bool sequence_parallel = false);
  ~StageModel() override;
  StageModel(const StageModel&) = delete;
  StageModel& operator=(const StageModel&) = delete;

  bool has_embedding() const override;  // takes token ids
  bool has_head() const override;       // computes the loss

  // Forward of micro-batch `mb`. tokens (b, T) when has_embedding(), else input (b, T, C);
  // targets (b, T) when has_head(), else ignored; output (b, T, C) unless has_head().
  void forward(int mb, const std::int32_t* tokens, const float* input, const std::int32_t* targets,
               float* output);
  void forward(int mb, const std::int32_t* tokens, const Buffer& input, const std::int32_t* targets,
               const Buffer& output) override;  // host Buffers
  // has_head(): the sum of the token cross-entropies of micro-batch `mb` (after its forward; it
  // stays available after backward_weight, until the next forward of the same id).
  double loss_sum(int mb) const override;

  // I: the gradient with respect to the stage's input, from the gradient of its output
  // (grad_output (b, T, C), ignored when has_head(): the loss is the sum of token losses times
  // loss_scale, e.g. 1 / (tokens in the global batch)). grad_input (b, T, C) unless
  // has_embedding(). Keeps what the weight gradient needs.
  void backward_input(int mb, const float* grad_output, float loss_scale, float* grad_input);
  void backward_input(int mb, const Buffer& grad_output, float loss_scale,
                      const Buffer& grad_input) override;  // host Buffers
  // W: adds micro-batch `mb`'s parameter gradients into parameters' grad, frees its cache.
  void backward_weight(int mb) override;

  std::size_t activation_floats() const override;  // b * T * C / tp
  std::size_t cached_microbatches() const;
  // Bytes held by the micro-batches between their forward and their backward_weight (activations,
  // the gradients W needs, token ids): what a micro-batch in flight costs the stage.
  std::size_t cached_bytes() const override;
  // Float buffers allocated so far. Buffers are pooled and reused across micro-batches: once one
  // step has run, another step of the same schedule allocates none.
  std::size_t buffer_allocations() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pp
