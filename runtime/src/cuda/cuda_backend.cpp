// The CUDA backend: weights, gradients and AdamW state in device memory (one allocation each,
// made when the chunk is built), the stage's compute on CudaStageModel, AdamW and the gradient
// norm in one launch each. A host copy of the parameters serves initialisation, loading and
// checkpoints (uploaded after init and load, downloaded for a checkpoint).
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cuda/adamw.cuh"
#include "cuda/add.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_stage_model.h"
#include "cuda/device_buffer_pool.h"
#include "cuda/norm.cuh"
#include "cuda/pinned_staging.h"
#ifdef PP_WITH_NCCL
#include "cuda/nccl_transport.h"
#endif
#include "pp/error.h"
#include "pp/runtime/safetensors.h"
#include "pp/runtime/staged_transport.h"

namespace pp::cuda {
namespace {

// A device allocation of n values of T, freed with the owner.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t n) : n_(n) {
    if (n > 0) PP_CUDA_CHECK(cudaMalloc(&data_, n * sizeof(T)));
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* data() const { return data_; }
  std::size_t size() const { return n_; }

 private:
  T* data_ = nullptr;
  std::size_t n_ = 0;
};


std::size_t total_count(const ParameterSet& p) {
  std::size_t n = 0;
  for (const Tensor& t : p.tensors) n += t.size();
  return n;
}

class CudaChunk : public TrainableChunk {
 public:
  CudaChunk(const ChunkSpec& s, DeviceContext* device, LtMatmul* matmul, std::vector<CudaChunk*>* registry)
      : registry_(registry), host_(initialised_gpt2_parameters(*s.model, s.first_layer, s.last_layer, s.init_seed)), optimizer_host_(host_, s.adamw), options_(s.adamw), device_(device),
        values_(total_count(host_)), grads_(total_count(host_)), exp_avg_(total_count(host_)),
        exp_avg_sq_(total_count(host_)), adamw_(host_.tensors.size()), norm_list_(host_.tensors.size()),
        norm_scratch_(squared_norm_scratch_doubles(static_cast<int>(host_.tensors.size()))), norm_total_(1) {
    std::map<std::string, DeviceTensor> tensors;
    std::vector<AdamWTensor> adamw;
    std::size_t offset = 0;
    for (const Tensor& t : host_.tensors) {
      const DeviceTensor d{values_.data() + offset, grads_.data() + offset, t.size()};
      tensors[t.name] = d;
      device_tensors_.push_back(d);
      adamw.push_back({d.value, d.grad, exp_avg_.data() + offset, exp_avg_sq_.data() + offset, t.size(),
                       t.decays() ? 1 : 0});
      max_count_ = std::max(max_count_, t.size());
      offset += t.size();
    }
    upload(adamw_.data(), adamw);
    PP_CUDA_CHECK(cudaMemsetAsync(exp_avg_.data(), 0, exp_avg_.size() * sizeof(float), device_->compute()));
    PP_CUDA_CHECK(cudaMemsetAsync(exp_avg_sq_.data(), 0, exp_avg_sq_.size() * sizeof(float), device_->compute()));
    upload_weights();
    model_ = std::make_unique<CudaStageModel>(
        CudaStageSpec{*s.model, s.first_layer, s.last_layer, s.microbatch_size, s.seq_len, s.checkpoint_interval},
        tensors, device, matmul);
    registry_->push_back(this);
  }
  ~CudaChunk() override { registry_->erase(std::find(registry_->begin(), registry_->end(), this)); }
  CudaChunk(const CudaChunk&) = delete;
  CudaChunk& operator=(const CudaChunk&) = delete;

  StageCompute& compute() override { return *model_; }
  std::size_t tensor_count() const override { return host_.tensors.size(); }
  const std::string& tensor_name(std::size_t i) const override { return host_.tensors.at(i).name; }
  bool replicated(std::size_t) const override { return true; }  // tp 1
  Buffer gradient(std::size_t i) override {
    const DeviceTensor& d = device_tensors_.at(i);
    return Buffer::on_device(d.grad, d.count);
  }
  void zero_grad() override {
    PP_CUDA_CHECK(cudaMemsetAsync(grads_.data(), 0, grads_.size() * sizeof(float), device_->compute()));
  }

  double squared_grad_norm(const std::string& skip) override {
    // The list without `skip` is uploaded once (the trainer skips the same name every step).
    if (skip != norm_skip_name_ || norm_count_ == 0) {
      std::vector<NormTensor> kept;
      for (std::size_t i = 0; i < host_.tensors.size(); ++i) {
        if (host_.tensors[i].name != skip) kept.push_back({device_tensors_[i].grad, device_tensors_[i].count});
      }
      upload(norm_list_.data(), kept);
      norm_skip_name_ = skip;
      norm_count_ = static_cast<int>(kept.size());
    }
    launch_squared_norm(norm_total_.data(), norm_list_.data(), norm_count_, norm_scratch_.data(),
                        device_->compute());
    double total = 0;
    PP_CUDA_CHECK(cudaMemcpyAsync(&total, norm_total_.data(), sizeof total, cudaMemcpyDeviceToHost,
                                  device_->compute()));
    PP_CUDA_CHECK(cudaStreamSynchronize(device_->compute()));
    return total;
  }

  void optimizer_step(float grad_scale) override {
    ++steps_;
    launch_adamw(adamw_.data(), static_cast<int>(adamw_.size()), max_count_, adamw_scalars(options_, steps_),
                 grad_scale, device_->compute());
  }

  void load(const std::string& path, bool with_optimizer_state) override {
    download_all();
    load_safetensors(path, &host_, true);
    upload_weights();
    if (!with_optimizer_state) return;
    ParameterSet state;
    state.tensors = optimizer_host_.state_tensors();
    load_safetensors(path, &state, true);
    optimizer_host_.load_state(state);  // checks names, sizes and the step
    steps_ = optimizer_host_.steps();
    std::size_t offset = 0;
    for (const Tensor& t : host_.tensors) {
      copy_to_device(exp_avg_.data() + offset, state.at(t.name + ".exp_avg").data);
      copy_to_device(exp_avg_sq_.data() + offset, state.at(t.name + ".exp_avg_sq").data);
      offset += t.size();
    }
  }

  std::vector<TensorRef> weights() override {
    download_all();
    std::vector<TensorRef> refs;
    for (const Tensor& t : host_.tensors) refs.push_back(ref_of(t));
    return refs;
  }

  std::vector<TensorRef> optimizer_state() override {
    download_all();
    std::vector<TensorRef> refs;
    for (std::size_t i = 0; i < host_.tensors.size(); ++i) {
      const Tensor& t = host_.tensors[i];
      refs.push_back({t.name + ".exp_avg", t.shape, host_exp_avg_[i].data(), t.size()});
      refs.push_back({t.name + ".exp_avg_sq", t.shape, host_exp_avg_sq_[i].data(), t.size()});
    }
    step_as_float_ = static_cast<float>(steps_);
    refs.push_back({"adamw.step", {1}, &step_as_float_, 1});
    return refs;
  }

  // Weights, gradients and AdamW state (16 bytes per parameter) and the stage's activation pool.
  std::size_t device_bytes() const { return 4 * values_.size() * sizeof(float) + model_->activation_bytes_held(); }

 private:
  template <class T>
  void upload(T* to, const std::vector<T>& from) {
    PP_CUDA_CHECK(cudaMemcpyAsync(to, from.data(), from.size() * sizeof(T), cudaMemcpyHostToDevice,
                                  device_->compute()));
    PP_CUDA_CHECK(cudaStreamSynchronize(device_->compute()));  // `from` may go away
  }
  void copy_to_device(float* to, const std::vector<float>& from) { upload(to, from); }

  void upload_weights() {
    std::size_t offset = 0;
    for (const Tensor& t : host_.tensors) {
      copy_to_device(values_.data() + offset, t.data);
      offset += t.size();
    }
  }

  // Weights and optimizer state into the host copies (waits for the device).
  void download_all() {
    host_exp_avg_.resize(host_.tensors.size());
    host_exp_avg_sq_.resize(host_.tensors.size());
    std::size_t offset = 0;
    const cudaStream_t s = device_->compute();
    for (std::size_t i = 0; i < host_.tensors.size(); ++i) {
      Tensor& t = host_.tensors[i];
      host_exp_avg_[i].resize(t.size());
      host_exp_avg_sq_[i].resize(t.size());
      const std::size_t bytes = t.size() * sizeof(float);
      PP_CUDA_CHECK(cudaMemcpyAsync(t.data.data(), values_.data() + offset, bytes, cudaMemcpyDeviceToHost, s));
      PP_CUDA_CHECK(cudaMemcpyAsync(host_exp_avg_[i].data(), exp_avg_.data() + offset, bytes,
                                    cudaMemcpyDeviceToHost, s));
      PP_CUDA_CHECK(cudaMemcpyAsync(host_exp_avg_sq_[i].data(), exp_avg_sq_.data() + offset, bytes,
                                    cudaMemcpyDeviceToHost, s));
      offset += t.size();
    }
    PP_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  std::vector<CudaChunk*>* registry_;  // the backend's list of live chunks
  ParameterSet host_;       // names, shapes; values as of the last upload or download
  AdamW optimizer_host_;    // the state's names and checks for loading (its values are unused)
  AdamWOptions options_;
  DeviceContext* device_;
  DeviceArray<float> values_, grads_, exp_avg_, exp_avg_sq_;  // every tensor, in order
  DeviceArray<AdamWTensor> adamw_;
  DeviceArray<NormTensor> norm_list_;  // the tensors the norm counts
  std::string norm_skip_name_;
  int norm_count_ = 0;
  DeviceArray<double> norm_scratch_;
  DeviceArray<double> norm_total_;
  std::vector<DeviceTensor> device_tensors_;
  std::size_t max_count_ = 0;
  std::int64_t steps_ = 0;
  float step_as_float_ = 0;
  std::vector<std::vector<float>> host_exp_avg_, host_exp_avg_sq_;
  std::unique_ptr<CudaStageModel> model_;
};

class CudaBackend : public Backend {
 public:
  CudaBackend(int node_rank, bool allow_tf32)
      : device_(node_rank),
        matmul_(LtMatmulOptions{allow_tf32, true, std::size_t{32} << 20}),
        staging_(&device_) {}

  std::unique_ptr<TrainableChunk> make_chunk(const ChunkSpec& spec) override {
    if (spec.tp_group != nullptr && spec.tp_group->size() > 1) {
      throw_invalid(fmt::format("the CUDA backend runs tp 1 in this version (the plan has tp {}): use --device cpu, "
                                "or a plan with --tp 1",
                                spec.tp_group->size()));
    }
    auto chunk = std::make_unique<CudaChunk>(spec, &device_, &matmul_, &chunks_);
    return chunk;
  }
  std::unique_ptr<BufferPool> activation_pool(std::size_t floats) override {
    return std::make_unique<DeviceBufferPool>(floats, &message_bytes_);
  }
  void accumulate(const Buffer& y, const Buffer& x) override {
    check(y, x);
    launch_accumulate(y.address(), x.address(), y.count(), device_.compute());
  }
  void copy(const Buffer& to, const Buffer& from) override {
    check(to, from);
    PP_CUDA_CHECK(cudaMemcpyAsync(to.address(), from.address(), to.bytes(), cudaMemcpyDeviceToDevice,
                                  device_.compute()));
  }
  std::unique_ptr<Transport> transport_for(std::unique_ptr<Transport> host_group, TransportKind kind) override {
    if (host_group == nullptr) return nullptr;
    switch (kind) {
      case TransportKind::kStagedMpi: return staged(std::move(host_group), &staging_);
      case TransportKind::kNccl:
#ifdef PP_WITH_NCCL
        return nccl_transport(std::move(host_group), &device_);
#else
        throw Error(ErrorCategory::kInternal, "this pp was built without NCCL");
#endif
      case TransportKind::kMpi: break;
    }
    throw Error(ErrorCategory::kInternal, "device memory cannot cross plain MPI: stage it or use NCCL");
  }
  // Also samples the device memory held for the model, whose peak peak_memory_bytes() reports.
  void synchronize() override {
    PP_CUDA_CHECK(cudaStreamSynchronize(device_.compute()));
    double bytes = double(message_bytes_ + matmul_.options().workspace_bytes);
    for (const CudaChunk* c : chunks_) bytes += double(c->device_bytes());
    peak_bytes_ = std::max(peak_bytes_, bytes);
  }
  double peak_memory_bytes() const override { return peak_bytes_; }
  std::string describe() const override {
    return fmt::format("{} (cuda:{}), float32{}", device_.name(), device_.device(),
                       matmul_.options().allow_tf32 ? " with TF32 matrix products" : "");
  }

 private:
  static void check(const Buffer& a, const Buffer& b) {
    if (a.count() != b.count() || a.on_host() || b.on_host()) {
      throw Error(ErrorCategory::kInternal, "CUDA backend: buffers of different lengths or in host memory");
    }
  }
  DeviceContext device_;
  LtMatmul matmul_;
  PinnedStaging staging_;
  std::vector<CudaChunk*> chunks_;  // not owned: each chunk is listed while it lives
  std::size_t message_bytes_ = 0;   // held by the executor's buffer pools
  double peak_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int node_rank, bool allow_tf32) {
  return std::make_unique<CudaBackend>(node_rank, allow_tf32);
}

}  // namespace pp::cuda
