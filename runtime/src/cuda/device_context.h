#pragma once
// One GPU for this rank and the two streams pp uses on it: compute (the stage's kernels and GEMMs)
// and communication (transfers and NCCL). Work is ordered between them with events, never by
// waiting on the host.
//
// The GPU is chosen from the rank's place on its node: device = node-local rank % visible devices,
// so under mpirun or srun each rank of a node takes the next GPU, more ranks than GPUs share them
// (round robin; only transports that stage through the host may be used then), and a rank that
// sees one GPU (CUDA_VISIBLE_DEVICES per rank) takes that one.
#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

namespace pp::cuda {

class DeviceContext {
 public:
  // Throws pp::Error(kInvalidInput) naming the reason when this machine has no usable GPU.
  explicit DeviceContext(int node_local_rank);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int device() const { return device_; }
  int devices() const { return devices_; }
  const std::string& name() const { return name_; }
  cudaStream_t compute() const { return compute_; }
  cudaStream_t comm() const { return comm_; }

  // Work submitted to `to` from now on runs after all work submitted so far to `from`.
  void order(cudaStream_t from, cudaStream_t to);
  std::size_t free_bytes() const;
  std::size_t total_bytes() const;

 private:
  int device_ = 0;
  int devices_ = 0;
  std::string name_;
  cudaStream_t compute_ = nullptr;
  cudaStream_t comm_ = nullptr;
  std::vector<cudaEvent_t> events_;  // a ring of ordering events
  std::size_t next_event_ = 0;
};

}  // namespace pp::cuda
