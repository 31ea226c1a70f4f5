// The CPU backend: host memory, StageModel on OpenBLAS, AdamW on the host.
#include <fmt/format.h>

#include <algorithm>

#include "pp/error.h"
#include "pp/runtime/backend.h"
#include "pp/runtime/safetensors.h"
#include "pp/runtime/stage_model.h"

namespace pp {
namespace {


class CpuChunk : public TrainableChunk {
 public:
  explicit CpuChunk(const ChunkSpec& s)
      : tp_rank_(s.tp_group == nullptr ? 0 : s.tp_group->rank()),
        parameters_(initialised_parameters(*s.model, s.first_layer, s.last_layer, s.init_seed, tp_rank_,
                                                s.tp_group == nullptr ? 1 : s.tp_group->size())),
        optimizer_(parameters_, s.adamw),
        model_(*s.model, s.first_layer, s.last_layer, s.microbatch_size, s.seq_len, s.checkpoint_interval,
               &parameters_, s.tp_group, s.sequence_parallel) {}

  StageCompute& compute() override { return model_; }
  std::size_t tensor_count() const override { return parameters_.tensors.size(); }
  const std::string& tensor_name(std::size_t i) const override { return parameters_.tensors.at(i).name; }
  Buffer gradient(std::size_t i) override {
    Tensor& t = parameters_.tensors.at(i);
    return Buffer::on_host(t.grad.data(), t.grad.size());
  }
  bool replicated(std::size_t i) const override { return parameters_.tensors.at(i).shard.replicated(); }
  void zero_grad() override { parameters_.zero_grad(); }

  double squared_grad_norm(const std::string& skip) override {
    return pp::squared_grad_norm(parameters_, skip, tp_rank_ == 0);
  }
  void optimizer_step(float grad_scale) override { optimizer_.step(&parameters_, grad_scale); }

  void load(const std::string& path, bool with_optimizer_state) override {
    load_safetensors(path, &parameters_, true);
    if (!with_optimizer_state) return;
    ParameterSet state;
    state.tensors = optimizer_.state_tensors();  // names and shapes to fill
    load_safetensors(path, &state, true);
    optimizer_.load_state(state);
  }
  std::vector<TensorRef> weights() override {
    std::vector<TensorRef> refs;
    for (const Tensor& t : parameters_.tensors) refs.push_back(ref_of(t));
    return refs;
  }
  std::vector<TensorRef> optimizer_state() override { return optimizer_.state_refs(); }

 private:
  int tp_rank_ = 0;
  ParameterSet parameters_;
  AdamW optimizer_;
  StageModel model_;
};

class CpuBackend : public Backend {
 public:
  std::unique_ptr<TrainableChunk> make_chunk(const ChunkSpec& spec) override {
    return std::make_unique<CpuChunk>(spec);
  }
  std::unique_ptr<BufferPool> activation_pool(std::size_t floats) override { return make_host_buffer_pool(floats); }
  void accumulate(const Buffer& y, const Buffer& x) override {
    check_same(y, x);
    float* out = y.host_data();
    const float* in = x.host_data();
    for (std::size_t k = 0; k < y.count(); ++k) out[k] += in[k];
  }
  void copy(const Buffer& to, const Buffer& from) override {
    check_same(to, from);
    std::copy(from.host_data(), from.host_data() + from.count(), to.host_data());
  }
  std::unique_ptr<Transport> transport_for(std::unique_ptr<Transport> host_group, TransportKind kind) override {
    if (kind != TransportKind::kMpi) {
      throw Error(ErrorCategory::kInternal, fmt::format("the CPU backend moves host memory over MPI, not {}", to_string(kind)));
    }
    return host_group;
  }
  void synchronize() override {}
  double peak_memory_bytes() const override { return 0; }
  std::string describe() const override { return "CPU, OpenBLAS float32, one process"; }

 private:
  static void check_same(const Buffer& a, const Buffer& b) {
    if (a.count() != b.count()) throw Error(ErrorCategory::kInternal, "buffers of different lengths");
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace pp
