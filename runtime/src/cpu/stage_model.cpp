#include "pp/runtime/stage_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "block_stack.h"
#include "buffer_pool.h"
#include "embedding.h"
#include "head.h"
#include "tensor_parallel.h"
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
  cpu::StackCaches blocks;              // one per block of the stage
  cpu::HeadCache head;                  // head stages
  std::vector<float> d_embedding;       // (n_l, C) gradient of the embedding output, after I
  bool input_done = false;              // backward_input ran
};

[[noreturn]] void internal(const std::string& message) { throw Error(ErrorCategory::kInternal, message); }

// Every tensor's data and grad match its shape, and the shapes the kernels index by are the
// model's (the parameter set of the same model and layers, cut for the same tp).
void check_shapes(const ParameterSet& parameters, const ModelConfig& model) {
  const long long c = model.hidden;
  const std::vector<std::int64_t> table{model.vocab, c};
  for (const Tensor& t : parameters.tensors) {
    std::size_t n = 1;
    for (std::int64_t d : t.shape) n *= static_cast<std::size_t>(d);
    bool ok = t.data.size() == n && t.grad.size() == n;
    const std::vector<std::int64_t>& whole = t.full_shape();
    if (t.name == "wte.weight" || t.name.ends_with("embed_tokens.weight") || t.name == "lm_head.weight") {
      ok = ok && whole == table;
    }
    if (t.name == "wpe.weight") ok = ok && whole == std::vector<std::int64_t>{model.max_positions, c};
    if (t.name.ends_with("mlp.c_fc.weight")) ok = ok && whole == std::vector<std::int64_t>{c, 4 * c};
    if (t.name.ends_with("mlp.gate_proj.weight")) ok = ok && whole == std::vector<std::int64_t>{model.ffn_hidden, c};
    if (!ok) internal(fmt::format("parameter {} does not have the shape the model {} needs", t.name, model.name));
  }
}

// A micro-batch's dimensions: b sequences of T tokens of C features.
struct Dims {
  int batch = 0;
  int seq = 0;
  int hidden = 0;
  int rows() const { return batch * seq; }
};

// What the layers assume of a tensor-parallel split (pp run's layout check says it to the user).
void check_tensor_parallel(const ModelConfig& model, int rows, const cpu::TensorParallel& tp) {
  const int n = tp.size();
  if (model.heads % n != 0 || model.kv_heads % n != 0 || rows % n != 0 || model.vocab < n ||
      (model.gated_mlp() && model.ffn_hidden % n != 0)) {
    internal(fmt::format("tp {} does not divide the heads ({}, {} key/value), the MLP ({}) or the micro-batch's "
                         "tokens ({}), or exceeds the vocabulary ({})",
                         n, model.heads, model.kv_heads, model.ffn_hidden, rows, model.vocab));
  }
}

}  // namespace

struct StageModel::Impl {
  ModelConfig model;
  int first_layer = 0;
  int last_layer = 0;
  int checkpoint_interval = 0;
  cpu::TensorParallel tp;
  Dims shape;
  Tensor* wte = nullptr;      // embedding stages: the token table
  Tensor* wpe = nullptr;      // GPT-2's learned positions (Llama: null, rotary in the blocks)
  std::optional<cpu::BlockStack> blocks;
  std::vector<bool> recomputed;  // per block of the stage
  std::optional<cpu::HeadParams> head;
  cpu::BufferPool pool;  // every float buffer of the micro-batches and the temporaries
  std::vector<std::unique_ptr<MicrobatchState>> slots;  // live and free, as many as were live at once
  std::map<int, double> losses;  // kept after backward_weight; overwritten by the next forward

  std::size_t rows() const { return static_cast<std::size_t>(shape.rows()); }
  std::size_t local_rows() const { return static_cast<std::size_t>(tp.local_rows(shape.rows())); }
  // The residual stream this rank holds: (n_l, C).
  std::size_t local_floats() const { return local_rows() * shape.hidden; }
  // A message between stages: this rank's 1/tp of the rows, (N / tp, C).
  std::size_t message_floats() const { return rows() / tp.size() * shape.hidden; }
  cpu::HeadShape head_shape() const { return {shape.rows(), shape.hidden, tp.share(model.vocab)}; }

  // x (n_l, C) from a message (N / tp, C): a copy with sequence parallelism, else every rank's
  // rows gathered.
  void from_message(const float* message, float* x) const {
    if (tp.sequence_parallel()) {
      std::copy(message, message + message_floats(), x);
    } else {
      tp.gather(message, x, message_floats());
    }
  }
  // A message (N / tp, C) from x (n_l, C): this rank's rows of it.
  void to_message(const float* x, float* message) const {
    const float* mine = tp.sequence_parallel() ? x : x + tp.rank() * message_floats();
    std::copy(mine, mine + message_floats(), message);
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
    blocks->release(&st->blocks, &pool);
    cpu::head_release(&st->head, &pool);
    pool.give(&st->d_embedding);
    st->input_done = false;
    st->mb = -1;
  }

  std::size_t bytes(const MicrobatchState& st) const {
    std::size_t n = st.tokens.size() * sizeof(std::int32_t) + st.d_embedding.size() * sizeof(float);
    n += blocks->bytes(st.blocks);
    return n + (head ? cpu::head_cache_bytes(st.head) : 0);
  }

  std::vector<float> stage_input(MicrobatchState* st, const std::int32_t* tokens, const float* input) {
    std::vector<float> x = pool.take(local_floats());
    if (wte != nullptr) {
      if (tokens == nullptr) internal("an embedding stage's forward needs tokens");
      check_ids(tokens, rows(), model.vocab, "token");
      st->tokens.assign(tokens, tokens + rows());
      embed(tokens, x.data());
    } else {
      if (input == nullptr) internal("a stage without the embedding needs an input activation");
      from_message(input, x.data());
    }
    return x;
  }

  // x (n_l, C) = the token embedding (vocabulary-parallel: reduced over the group) plus positions.
  void embed(const std::int32_t* tokens, float* x) {
    const int c = shape.hidden;
    std::vector<float> partial = pool.take(rows() * c);  // (N, C)
    cpu::token_embedding_forward(partial.data(), tokens, wte->data.data(), tp.share(model.vocab), rows(), c);
    tp.reduce_rows(partial.data(), x, shape.rows(), c);
    pool.give(&partial);
    if (wpe == nullptr) return;
    cpu::position_embedding_forward(x, wpe->data.data(), tp.first_local_row(shape.rows()), local_rows(), shape.seq,
                                    c);
  }

  // W of the embedding from d_embedding (n_l, C): wte's rows from all N rows, wpe's from the local.
  void embedding_backward_weight(const MicrobatchState& st) {
    const int c = shape.hidden;
    std::vector<float> full;
    const float* d_all = st.d_embedding.data();
    if (tp.sequence_parallel()) {
      full = pool.take(rows() * c);
      tp.gather_rows(st.d_embedding.data(), full.data(), shape.rows(), c);
      d_all = full.data();
    }
    cpu::token_embedding_backward(wte->grad.data(), d_all, st.tokens.data(), tp.share(model.vocab), rows(), c);
    if (wpe != nullptr) {
      cpu::position_embedding_backward(wpe->grad.data(), st.d_embedding.data(), tp.first_local_row(shape.rows()),
                                       local_rows(), shape.seq, c);
    }
    if (!full.empty()) pool.give(&full);
  }

  std::vector<float> blocks_forward(MicrobatchState* st, std::vector<float> x) {
    blocks->prepare(&st->blocks);
    for (std::size_t i = 0; i < blocks->size(); ++i) {
      std::vector<float>& input = blocks->input(&st->blocks, i);
      pool.give(&input);
      input = std::move(x);
      x = pool.take(local_floats());  // overwritten by the block
      blocks->forward(i, &st->blocks, x.data(), &pool);
      if (recomputed[i]) blocks->keep_input_only(i, &st->blocks, &pool);
    }
    return x;
  }

  void blocks_backward_input(MicrobatchState* st, float* d) {
    for (std::size_t i = blocks->size(); i-- > 0;) {
      if (recomputed[i]) {
        std::vector<float> discarded = pool.take(local_floats());
        blocks->forward(i, &st->blocks, discarded.data(), &pool);
        pool.give(&discarded);
      }
      blocks->backward_input(i, &st->blocks, d, &pool);
    }
  }
};

StageModel::StageModel(const ModelConfig& model, int first_layer, int last_layer, int microbatch_size,
                       int seq_len, int checkpoint_interval, ParameterSet* parameters, Transport* tp_group,
                       bool sequence_parallel)
    : impl_(std::make_unique<Impl>()) {
  check_stage_arguments(model, first_layer, last_layer, microbatch_size, seq_len, checkpoint_interval, "CPU", true);
  if (parameters == nullptr) internal("StageModel needs parameters");
  check_shapes(*parameters, model);
  Impl& m = *impl_;
  m.model = model;
  m.first_layer = first_layer;
  m.last_layer = last_layer;
  m.checkpoint_interval = checkpoint_interval;
  m.tp = cpu::TensorParallel(tp_group, sequence_parallel);
  check_tensor_parallel(model, microbatch_size * seq_len, m.tp);
  m.shape = {microbatch_size, seq_len, static_cast<int>(model.hidden)};
  const bool gpt2 = model.family == ModelFamily::kGpt2;
  if (first_layer == 0) {
    m.wte = &parameters->at(gpt2 ? "wte.weight" : "model.embed_tokens.weight");
    if (gpt2) m.wpe = &parameters->at("wpe.weight");
  }
  // Blocks j in [first_block, last_block), model-wide 0-based (layer - 1), as the planner counts.
  const int first_block = std::max(first_layer, 1) - 1;
  const int last_block = std::min(last_layer, model.layers);
  m.blocks.emplace(model, parameters, first_block, std::max(first_block, last_block), microbatch_size, seq_len, &m.tp);
  for (int j = first_block; j < last_block; ++j) {
    m.recomputed.push_back(checkpoint_interval >= 1 && j % checkpoint_interval == checkpoint_interval - 1);
  }
  if (last_layer == model.layers + 1) m.head = cpu::head_params(parameters, model);
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
    m.losses[mb] = cpu::head_forward(*m.head, m.head_shape(), m.tp, targets, &st.head, &m.pool);
  } else {
    m.to_message(x.data(), output);
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
  std::vector<float> d = m.pool.take(m.local_floats());
  if (m.head) {
    cpu::head_backward_input(*m.head, m.head_shape(), m.tp, loss_scale, &st.head, d.data(), &m.pool);
  } else {
    m.from_message(grad_output, d.data());
  }
  m.blocks_backward_input(&st, d.data());
  if (has_embedding()) {
    m.pool.give(&st.d_embedding);
    st.d_embedding = std::move(d);
  } else {
    m.to_message(d.data(), grad_input);
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
  if (m.head) cpu::head_backward_weight(*m.head, m.head_shape(), m.tp, st.head, &m.pool);
  for (std::size_t i = m.blocks->size(); i-- > 0;) m.blocks->backward_weight(i, st.blocks, &m.pool);
  if (has_embedding()) m.embedding_backward_weight(st);
  m.release(&st);
}

std::size_t StageModel::activation_floats() const { return impl_->message_floats(); }

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
