#pragma once
// The backend seam: what the executor asks of one chunk of a pipeline stage, whatever runs it.
// StageModel (stage_model.h) is the CPU/OpenBLAS implementation; a CUDA/cuBLAS one implements
// the same calls with device buffers behind them. Activations are (b, T, C) float32 row-major;
// caches are kept per micro-batch id from forward() to backward_weight().

#include <cstddef>
#include <cstdint>

namespace pp {

class StageCompute {
 public:
  virtual ~StageCompute() = default;

  virtual bool has_embedding() const = 0;  // takes token ids
  virtual bool has_head() const = 0;       // computes the loss

  // tokens (b, T) when has_embedding(), else input (b, T, C); targets (b, T) when has_head();
  // output (b, T, C) unless has_head().
  virtual void forward(int mb, const std::int32_t* tokens, const float* input,
                       const std::int32_t* targets, float* output) = 0;
  // has_head(): the sum of the micro-batch's token losses, after its forward.
  virtual double loss_sum(int mb) const = 0;
  // I: grad_input (b, T, C) from grad_output (b, T, C) (the loss times loss_scale on the head).
  virtual void backward_input(int mb, const float* grad_output, float loss_scale,
                              float* grad_input) = 0;
  // W: accumulate the micro-batch's parameter gradients and free its cache.
  virtual void backward_weight(int mb) = 0;

  virtual std::size_t activation_floats() const = 0;  // b * T * C
};

}  // namespace pp
