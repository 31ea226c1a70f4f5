#pragma once
// The compute of one pipeline stage of a GPT-2 model on the GPU: the CUDA twin of StageModel
// (stage_model.h), with the same layer range, micro-batch caches, I/W split and checkpointing
// (blocks whose model-wide index j has j % k == k-1 keep only their input and recompute), on the
// device's compute stream. Activations crossing stages are device Buffers of the executor's pool;
// token ids arrive as host arrays and are copied to the device. Nothing waits on the host except
// loss_sum(), which reads one double back (the executor asks at the step's end).
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "cuda/device_context.h"
#include "cuda/gpt2_layers.h"
#include "pp/model.h"
#include "pp/runtime/stage_compute.h"

namespace pp::cuda {

struct CudaStageSpec {
  ModelConfig model;
  int first_layer = 0;
  int last_layer = 0;
  int microbatch_size = 1;
  int seq_len = 1;
  int checkpoint_interval = 0;
};

class CudaStageModel : public StageCompute {
 public:
  // `tensors`: the stage's parameters by Hugging Face name (device values and grads), as
  // gpt2_parameters lists them for the layer range. All pointers outlive the model.
  CudaStageModel(const CudaStageSpec& spec, const std::map<std::string, DeviceTensor>& tensors,
                 DeviceContext* device, LtMatmul* matmul);
  ~CudaStageModel() override;

  bool has_embedding() const override;
  bool has_head() const override;
  void forward(int mb, const std::int32_t* tokens, const Buffer& input, const std::int32_t* targets,
               const Buffer& output) override;
  double loss_sum(int mb) const override;
  void backward_input(int mb, const Buffer& grad_output, float loss_scale, const Buffer& grad_input) override;
  void backward_weight(int mb) override;
  std::size_t activation_floats() const override;
  std::size_t cached_bytes() const override;  // device bytes of the live micro-batches' caches

  // Device bytes the stage's pool holds (its peak in use, kept for reuse by the next steps).
  std::size_t activation_bytes_held() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pp::cuda
