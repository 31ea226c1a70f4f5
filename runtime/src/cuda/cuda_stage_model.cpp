#include "cuda/cuda_stage_model.h"

#include <fmt/format.h>

#include <vector>

#include "cuda/cuda_check.h"
#include "model/stage_checks.h"
#include "pp/error.h"

namespace pp::cuda {
namespace {

[[noreturn]] void internal(const std::string& message) { throw Error(ErrorCategory::kInternal, message); }

const DeviceTensor& at(const std::map<std::string, DeviceTensor>& tensors, const std::string& name) {
  auto it = tensors.find(name);
  if (it == tensors.end()) internal(fmt::format("the CUDA stage has no tensor '{}'", name));
  return it->second;
}

BlockParams block_params(const std::map<std::string, DeviceTensor>& t, int j) {
  const std::string h = fmt::format("h.{}.", j);
  return {at(t, h + "ln_1.weight"),        at(t, h + "ln_1.bias"),      at(t, h + "attn.c_attn.weight"),
          at(t, h + "attn.c_attn.bias"),   at(t, h + "attn.c_proj.weight"), at(t, h + "attn.c_proj.bias"),
          at(t, h + "ln_2.weight"),        at(t, h + "ln_2.bias"),      at(t, h + "mlp.c_fc.weight"),
          at(t, h + "mlp.c_fc.bias"),      at(t, h + "mlp.c_proj.weight"), at(t, h + "mlp.c_proj.bias")};
}

// One micro-batch's device state, from forward() until backward_weight().
struct Microbatch {
  DeviceFloats tokens;          // (N) int32, embedding stages
  std::vector<BlockCache> blocks;
  HeadCache head;
  DeviceFloats d_embedding;     // (N, C), after I on an embedding stage
  bool forward_done = false;
  bool input_done = false;
};

}  // namespace

struct CudaStageModel::Impl {
  CudaStageSpec spec;
  LayerContext ctx;
  DeviceFloatPool pool;
  LtMatmul* matmul = nullptr;
  bool embedding = false;  // the stage holds layer 0
  DeviceTensor wte, wpe;   // embedding stages (copies: the caller's map does not outlive the constructor)
  std::vector<BlockParams> blocks;
  std::vector<bool> recomputed;
  std::unique_ptr<HeadParams> head;
  std::map<int, Microbatch> live;

  std::size_t floats() const { return static_cast<std::size_t>(ctx.rows()) * ctx.channels; }

  Microbatch& state(int mb, const char* caller) {
    auto it = live.find(mb);
    if (it == live.end() || !it->second.forward_done) internal(fmt::format("{} of micro-batch {} before its forward", caller, mb));
    return it->second;
  }

  void release(Microbatch* st) {
    for (BlockCache& c : st->blocks) block_release(ctx, &c);
    head_release(ctx, &st->head);
    pool.give(&st->d_embedding);
    pool.give(&st->tokens);
    st->forward_done = st->input_done = false;
  }

  // The stage input into a pooled buffer: the embedding of the tokens, or a copy of the input.
  DeviceFloats stage_input(Microbatch* st, const std::int32_t* tokens, const Buffer& input) {
    DeviceFloats x = pool.take(floats());
    if (embedding) {
      if (tokens == nullptr) internal("an embedding stage's forward needs tokens");
      embedding_forward(ctx, wte, wpe, tokens, &st->tokens, x.data);
    } else {
      if (input.empty() || input.space() != MemorySpace::kDevice) internal("a CUDA stage needs a device input");
      PP_CUDA_CHECK(cudaMemcpyAsync(x.data, input.address(), input.bytes(), cudaMemcpyDeviceToDevice, ctx.stream));
    }
    return x;
  }

  DeviceFloats blocks_forward(Microbatch* st, DeviceFloats x) {
    st->blocks.resize(blocks.size());
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      BlockCache& cache = st->blocks[i];
      pool.give(&cache.x);
      cache.x = x;
      x = pool.take(floats());
      block_forward(ctx, blocks[i], &cache, x.data);
      if (recomputed[i]) block_keep_input_only(ctx, &cache);
    }
    return x;
  }

  void blocks_backward_input(Microbatch* st, float* d) {
    for (std::size_t i = blocks.size(); i-- > 0;) {
      BlockCache& cache = st->blocks[i];
      if (recomputed[i]) {
        DeviceFloats discarded = pool.take(floats());
        block_forward(ctx, blocks[i], &cache, discarded.data);
        pool.give(&discarded);
      }
      block_backward_input(ctx, blocks[i], &cache, d);
    }
  }
};

CudaStageModel::CudaStageModel(const CudaStageSpec& spec, const std::map<std::string, DeviceTensor>& tensors,
                               DeviceContext* device, LtMatmul* matmul)
    : impl_(std::make_unique<Impl>()) {
  const ModelConfig& model = spec.model;
  check_stage_arguments(model, spec.first_layer, spec.last_layer, spec.microbatch_size, spec.seq_len,
                        spec.checkpoint_interval, "CUDA", false);
  const int head_dim = static_cast<int>(model.hidden) / model.heads;
  if (head_dim != 16 && head_dim != 32 && head_dim != 64 && head_dim != 128) {
    throw_invalid(fmt::format("the GPU's attention takes head dimensions 16, 32, 64 or 128, not {} (hidden {} / {} heads)",
                              head_dim, model.hidden, model.heads));
  }
  Impl& m = *impl_;
  m.spec = spec;
  m.matmul = matmul;
  m.ctx = {matmul, &m.pool, device->compute(), spec.microbatch_size, spec.seq_len, static_cast<int>(model.hidden),
           model.heads, static_cast<int>(model.vocab)};
  if (spec.first_layer == 0) {
    m.embedding = true;
    m.wte = at(tensors, "wte.weight");
    m.wpe = at(tensors, "wpe.weight");
  }
  const int k = spec.checkpoint_interval;
  for (int layer = std::max(spec.first_layer, 1); layer <= std::min(spec.last_layer, model.layers); ++layer) {
    const int j = layer - 1;
    m.blocks.push_back(block_params(tensors, j));
    m.recomputed.push_back(k >= 1 && j % k == k - 1);
  }
  if (spec.last_layer == model.layers + 1) {
    m.head = std::make_unique<HeadParams>(
        HeadParams{at(tensors, "ln_f.weight"), at(tensors, "ln_f.bias"), at(tensors, "wte.weight")});
  }
}

CudaStageModel::~CudaStageModel() {
  for (auto& [mb, st] : impl_->live) {
    impl_->release(&st);
    impl_->pool.give(&st.head.loss_sum);
  }
}

bool CudaStageModel::has_embedding() const { return impl_->embedding; }
bool CudaStageModel::has_head() const { return impl_->head != nullptr; }
std::size_t CudaStageModel::activation_floats() const { return impl_->floats(); }
std::size_t CudaStageModel::cached_bytes() const { return impl_->pool.in_use_bytes(); }
std::size_t CudaStageModel::activation_bytes_held() const { return impl_->pool.held_bytes(); }

void CudaStageModel::forward(int mb, const std::int32_t* tokens, const Buffer& input, const std::int32_t* targets,
                             const Buffer& output) {
  Impl& m = *impl_;
  const auto rows = static_cast<std::size_t>(m.ctx.rows());
  if (m.embedding && tokens != nullptr) check_ids(tokens, rows, m.spec.model.vocab, "token");
  if (m.head && targets != nullptr) check_ids(targets, rows, m.spec.model.vocab, "target");
  Microbatch& st = m.live[mb];
  if (st.forward_done) internal(fmt::format("a second forward of live micro-batch {}", mb));
  DeviceFloats x = m.blocks_forward(&st, m.stage_input(&st, tokens, input));
  if (m.head) {
    if (targets == nullptr) internal("a head stage's forward needs targets");
    m.pool.give(&st.head.x);
    st.head.x = x;
    head_forward(m.ctx, *m.head, targets, &st.head);
  } else {
    if (output.empty() || output.space() != MemorySpace::kDevice) internal("a CUDA stage needs a device output");
    PP_CUDA_CHECK(cudaMemcpyAsync(output.address(), x.data, output.bytes(), cudaMemcpyDeviceToDevice, m.ctx.stream));
    m.pool.give(&x);
  }
  st.forward_done = true;
}

double CudaStageModel::loss_sum(int mb) const {
  auto it = impl_->live.find(mb);
  if (!impl_->head || it == impl_->live.end() || it->second.head.loss_sum.data == nullptr) {
    internal(fmt::format("no loss for micro-batch {}", mb));
  }
  return read_loss_sum(impl_->ctx, it->second.head);
}

void CudaStageModel::backward_input(int mb, const Buffer& grad_output, float loss_scale, const Buffer& grad_input) {
  Impl& m = *impl_;
  Microbatch& st = m.state(mb, "backward_input");
  if (st.input_done) internal(fmt::format("a second backward_input of micro-batch {}", mb));
  DeviceFloats d = m.pool.take(m.floats());
  if (m.head) {
    head_backward_input(m.ctx, *m.head, loss_scale, &st.head, d.data);
  } else {
    if (grad_output.empty() || grad_output.space() != MemorySpace::kDevice) internal("a CUDA stage needs a device gradient");
    PP_CUDA_CHECK(cudaMemcpyAsync(d.data, grad_output.address(), grad_output.bytes(), cudaMemcpyDeviceToDevice,
                                  m.ctx.stream));
  }
  m.blocks_backward_input(&st, d.data);
  if (m.embedding) {
    st.d_embedding = d;  // for W
  } else {
    if (grad_input.empty() || grad_input.space() != MemorySpace::kDevice) internal("a CUDA stage needs a device grad_input");
    PP_CUDA_CHECK(cudaMemcpyAsync(grad_input.address(), d.data, grad_input.bytes(), cudaMemcpyDeviceToDevice,
                                  m.ctx.stream));
    m.pool.give(&d);
  }
  st.input_done = true;
}

void CudaStageModel::backward_weight(int mb) {
  Impl& m = *impl_;
  Microbatch& st = m.state(mb, "backward_weight");
  if (!st.input_done) internal(fmt::format("backward_weight of micro-batch {} before its backward_input", mb));
  if (m.head) head_backward_weight(m.ctx, *m.head, st.head);
  for (std::size_t i = m.blocks.size(); i-- > 0;) block_backward_weight(m.ctx, m.blocks[i], st.blocks[i]);
  if (m.embedding) embedding_backward_weight(m.ctx, m.wte, m.wpe, st.tokens, st.d_embedding.data);
  m.release(&st);  // the loss sum stays until the next forward of this id
}

}  // namespace pp::cuda
