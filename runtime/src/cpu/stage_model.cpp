#include "pp/runtime/stage_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "block.h"
#include "buffer_pool.h"
#include "embedding.h"
#include "head.h"
#include "model/stage_checks.h"
#include "pp/error.h"

namespace pp {
namespace {

// One micro-batch's state, from forward() until backward_weight(). A slot is reused by later
// micro-batches: its float buffers go back to the stage's pool at backward_weight(), the rest
// (tokens, the vector of block caches) keeps its capacity.
struct MicrobatchState {
  int mb = -1;                          // the micro-batch id; -1: a free slot
  std::vector<std::int32_t> tokens;     // (b, T), embedding stages
  std::vector<cpu::BlockCache> blocks;  // one per block of the stage
  cpu::HeadCache head;                  // head stages
  std::vector<float> d_embedding;       // (N, C) gradient of the embedding output, after I
  bool input_done = false;              // backward_input ran
};

[[noreturn]] void internal(const std::string& message) { throw Error(ErrorCategory::kInternal, message); }

// Every tensor's data and grad match its shape, and the shapes the kernels index by are GPT-2's.
void check_shapes(const ParameterSet& parameters, const ModelConfig& model) {
  const long long c = model.hidden;
  for (const Tensor& t : parameters.tensors) {
    std::size_t n = 1;
    for (std::int64_t d : t.shape) n *= static_cast<std::size_t>(d);
    bool ok = t.data.size() == n && t.grad.size() == n;
    if (t.name == "wte.weight") ok = ok && t.shape == std::vector<std::int64_t>{model.vocab, c};
    if (t.name == "wpe.weight") ok = ok && t.shape == std::vector<std::int64_t>{model.max_positions, c};
    if (t.name.ends_with("mlp.c_fc.weight")) ok = ok && t.shape == std::vector<std::int64_t>{c, 4 * c};
    if (!ok) internal(fmt::format("parameter {} does not have the shape the model {} needs", t.name, model.name));
  }
}

}  // namespace

struct StageModel::Impl {
  ModelConfig model;
  int first_layer = 0;
  int last_layer = 0;
  int checkpoint_interval = 0;
  cpu::AttentionShape shape;  // b, T, C, H
  Tensor* wte = nullptr;      // embedding stages
  Tensor* wpe = nullptr;
  std::vector<cpu::BlockParams> blocks;
  std::vector<bool> recomputed;  // per block of the stage
  std::optional<cpu::HeadParams> head;
  cpu::BufferPool pool;  // every float buffer of the micro-batches and the temporaries
  std::vector<std::unique_ptr<MicrobatchState>> slots;  // live and free, as many as were live at once
  std::map<int, double> losses;  // kept after backward_weight; overwritten by the next forward

  std::size_t rows() const { return static_cast<std::size_t>(shape.batch) * shape.seq; }
  std::size_t floats() const { return rows() * shape.channels; }
  cpu::HeadShape head_shape() const {
    return {static_cast<int>(rows()), shape.channels, static_cast<int>(model.vocab)};
  }

  MicrobatchState* find(int mb) const {
    for (const auto& slot : slots) {
      if (slot->mb == mb) return slot.get();
    }
    return nullptr;
  }

  MicrobatchState& state(int mb, const char* caller) const {
    MicrobatchState* st = mb >= 0 ? find(mb) : nullptr;
    if (st == nullptr) internal(fmt::format("{} of micro-batch {} before its forward", caller, mb));
    return *st;
  }

  MicrobatchState& free_slot() {
    if (MicrobatchState* st = find(-1)) return *st;
    slots.push_back(std::make_unique<MicrobatchState>());
    return *slots.back();
  }

  // Gives the slot's float buffers back to the pool and frees the slot.
  void release(MicrobatchState* st) {
    for (cpu::BlockCache& cache : st->blocks) cpu::block_release(&cache, &pool);
    cpu::head_release(&st->head, &pool);
    pool.give(&st->d_embedding);
    st->input_done = false;
    st->mb = -1;
  }

  std::size_t bytes(const MicrobatchState& st) const {
    std::size_t n = st.tokens.size() * sizeof(std::int32_t) + st.d_embedding.size() * sizeof(float);
    for (const cpu::BlockCache& cache : st.blocks) n += cpu::block_cache_bytes(cache);
    return n + (head ? cpu::head_cache_bytes(st.head) : 0);
  }

  std::vector<float> stage_input(MicrobatchState* st, const std::int32_t* tokens, const float* input) {
    std::vector<float> x = pool.take(floats());
    if (wte != nullptr) {
      if (tokens == nullptr) internal("an embedding stage's forward needs tokens");
      check_ids(tokens, rows(), model.vocab, "token");
      st->tokens.assign(tokens, tokens + rows());
      cpu::embedding_forward(x.data(), tokens, wte->data.data(), wpe->data.data(), shape.batch, shape.seq,
                             shape.channels);
    } else {
      if (input == nullptr) internal("a stage without the embedding needs an input activation");
      std::copy(input, input + floats(), x.begin());
    }
    return x;
  }

  std::vector<float> blocks_forward(MicrobatchState* st, std::vector<float> x) {
    st->blocks.resize(blocks.size());
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      cpu::BlockCache& cache = st->blocks[i];
      pool.give(&cache.x);
      cache.x = std::move(x);
      x = pool.take(floats());  // overwritten by the block
      cpu::block_forward(blocks[i], shape, &cache, x.data(), &pool);
      if (recomputed[i]) cpu::block_keep_input_only(&cache, &pool);
    }
    return x;
  }

  void blocks_backward_input(MicrobatchState* st, float* d) {
    for (std::size_t i = blocks.size(); i-- > 0;) {
      cpu::BlockCache& cache = st->blocks[i];
      if (recomputed[i]) {
        std::vector<float> discarded = pool.take(floats());
        cpu::block_forward(blocks[i], shape, &cache, discarded.data(), &pool);
        pool.give(&discarded);
      }
      cpu::block_backward_input(blocks[i], shape, &cache, d, &pool);
    }
  }
};

StageModel::StageModel(const ModelConfig& model, int first_layer, int last_layer, int microbatch_size,
                       int seq_len, int checkpoint_interval, ParameterSet* parameters)
    : impl_(std::make_unique<Impl>()) {
  check_stage_arguments(model, first_layer, last_layer, microbatch_size, seq_len, checkpoint_interval, "CPU");
  if (parameters == nullptr) internal("StageModel needs parameters");
  check_shapes(*parameters, model);
  Impl& m = *impl_;
  m.model = model;
  m.first_layer = first_layer;
  m.last_layer = last_layer;
  m.checkpoint_interval = checkpoint_interval;
  m.shape = {microbatch_size, seq_len, static_cast<int>(model.hidden), model.heads};
  if (first_layer == 0) {
    m.wte = &parameters->at("wte.weight");
    m.wpe = &parameters->at("wpe.weight");
  }
  for (int layer = std::max(first_layer, 1); layer <= std::min(last_layer, model.layers); ++layer) {
    const int j = layer - 1;  // the model-wide block index, as the planner counts it
    m.blocks.push_back(cpu::block_params(parameters, j));
    m.recomputed.push_back(checkpoint_interval >= 1 && j % checkpoint_interval == checkpoint_interval - 1);
  }
  if (last_layer == model.layers + 1) m.head = cpu::head_params(parameters);
}

StageModel::~StageModel() = default;

bool StageModel::has_embedding() const { return impl_->wte != nullptr; }
bool StageModel::has_head() const { return impl_->head.has_value(); }

void StageModel::forward(int mb, const std::int32_t* tokens, const float* input, const std::int32_t* targets,
                         float* output) {
  Impl& m = *impl_;
  if (mb < 0) internal(fmt::format("micro-batch id {} is negative", mb));
  if (m.find(mb) != nullptr) internal(fmt::format("forward of micro-batch {} ran twice", mb));
  if (m.head && targets == nullptr) internal("a head stage's forward needs targets");
  if (m.head) check_ids(targets, m.rows(), m.model.vocab, "target");
  if (!m.head && output == nullptr) internal("a stage without the head needs an output buffer");
  MicrobatchState& st = m.free_slot();
  std::vector<float> x = m.blocks_forward(&st, m.stage_input(&st, tokens, input));
  if (m.head) {
    m.pool.give(&st.head.x);
    st.head.x = std::move(x);
    m.losses[mb] = cpu::head_forward(*m.head, m.head_shape(), targets, &st.head, &m.pool);
  } else {
    std::copy(x.begin(), x.end(), output);
    m.pool.give(&x);
  }
  st.mb = mb;
}

double StageModel::loss_sum(int mb) const {
  if (!has_head()) internal("loss_sum on a stage without the head");
  auto it = impl_->losses.find(mb);
  if (it == impl_->losses.end()) internal(fmt::format("loss_sum of micro-batch {} before its forward", mb));
  return it->second;
}

void StageModel::backward_input(int mb, const float* grad_output, float loss_scale, float* grad_input) {
  Impl& m = *impl_;
  MicrobatchState& st = m.state(mb, "backward_input");
  if (st.input_done) internal(fmt::format("backward_input of micro-batch {} ran twice", mb));
  if (!m.head && grad_output == nullptr) internal("a stage without the head needs the output gradient");
  if (!has_embedding() && grad_input == nullptr) internal("a stage without the embedding needs a grad_input buffer");
  std::vector<float> d = m.pool.take(m.floats());
  if (m.head) {
    cpu::head_backward_input(*m.head, m.head_shape(), loss_scale, &st.head, d.data(), &m.pool);
  } else {
    std::copy(grad_output, grad_output + m.floats(), d.begin());
  }
  m.blocks_backward_input(&st, d.data());
  if (has_embedding()) {
    m.pool.give(&st.d_embedding);
    st.d_embedding = std::move(d);
  } else {
    std::copy(d.begin(), d.end(), grad_input);
    m.pool.give(&d);
  }
  st.input_done = true;
}

namespace {
// The host values of a Buffer, or null for the empty one.
float* host_or_null(const Buffer& b) { return b.empty() ? nullptr : b.host_data(); }
}  // namespace

void StageModel::forward(int mb, const std::int32_t* tokens, const Buffer& input, const std::int32_t* targets,
                         const Buffer& output) {
  forward(mb, tokens, host_or_null(input), targets, host_or_null(output));
}

void StageModel::backward_input(int mb, const Buffer& grad_output, float loss_scale, const Buffer& grad_input) {
  backward_input(mb, host_or_null(grad_output), loss_scale, host_or_null(grad_input));
}

void StageModel::backward_weight(int mb) {
  Impl& m = *impl_;
  MicrobatchState& st = m.state(mb, "backward_weight");
  if (!st.input_done) internal(fmt::format("backward_weight of micro-batch {} before its backward_input", mb));
  if (m.head) cpu::head_backward_weight(*m.head, m.head_shape(), st.head, &m.pool);
  for (std::size_t i = m.blocks.size(); i-- > 0;) {
    cpu::block_backward_weight(m.blocks[i], m.shape, st.blocks[i], &m.pool);
  }
  if (has_embedding()) {
    cpu::embedding_backward(m.wte->grad.data(), m.wpe->grad.data(), st.d_embedding.data(), st.tokens.data(),
                            m.shape.batch, m.shape.seq, m.shape.channels);
  }
  m.release(&st);
}

std::size_t StageModel::activation_floats() const { return impl_->floats(); }

std::size_t StageModel::cached_microbatches() const {
  std::size_t n = 0;
  for (const auto& slot : impl_->slots) n += slot->mb >= 0 ? 1 : 0;
  return n;
}

std::size_t StageModel::cached_bytes() const {
  std::size_t n = 0;
  for (const auto& slot : impl_->slots) n += slot->mb >= 0 ? impl_->bytes(*slot) : 0;
  return n;
}

std::size_t StageModel::buffer_allocations() const { return impl_->pool.allocations(); }

}  // namespace pp
