#pragma once
// The backend seam: what the executor asks of one chunk of a pipeline stage, whatever runs it.
// StageModel (stage_model.h) is the CPU/OpenBLAS implementation; a CUDA one implements the same
// calls on device memory. Activations are (b, T, C) float32 row-major in Buffers from the
// backend's own BufferPool (buffer.h: host memory on the CPU, device memory on a GPU), so the
// executor passes handles and never touches the values; token ids are host arrays (the backend
// copies them where it computes). Caches are kept per micro-batch id from forward() to
// backward_weight().

#include <cstddef>
#include <cstdint>

#include "pp/runtime/buffer.h"

namespace pp {

class StageCompute {
 public:
  virtual ~StageCompute() = default;

  virtual bool has_embedding() const = 0;  // takes token ids
  virtual bool has_head() const = 0;       // computes the loss

  // tokens (b, T) when has_embedding(), else input (b, T, C); targets (b, T) when has_head();
  // output (b, T, C) unless has_head().
  // Overwrites output. An input or output that the stage does not take is the empty Buffer.
  virtual void forward(int mb, const std::int32_t* tokens, const Buffer& input,
                       const std::int32_t* targets, const Buffer& output) = 0;
  // has_head(): the sum of the micro-batch's token losses, after its forward and until the next
  // forward of the same id (the executor reads them at the step's end: on a GPU a read waits).
  virtual double loss_sum(int mb) const = 0;
  // I: grad_input (b, T, C) from grad_output (b, T, C) (the loss times loss_scale on the head).
  // Overwrites grad_input (empty when has_embedding()); grad_output is empty when has_head().
  virtual void backward_input(int mb, const Buffer& grad_output, float loss_scale,
                              const Buffer& grad_input) = 0;
  // W: accumulate the micro-batch's parameter gradients and free its cache.
  virtual void backward_weight(int mb) = 0;

  virtual std::size_t activation_floats() const = 0;  // b * T * C
  // Bytes the stage holds for the micro-batches between their forward and their backward_weight.
  virtual std::size_t cached_bytes() const = 0;
};

}  // namespace pp
