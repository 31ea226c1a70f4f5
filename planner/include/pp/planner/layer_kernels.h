#pragma once
// A layer's forward and backward as the kernels a Megatron-style implementation runs on one GPU
// of a tensor-parallel group, each timed by kernel_time.h: GEMMs by shape, attention fused or not,
// every elementwise kernel by the bytes it moves, and the tensor-parallel collectives, less what
// the backward overlaps with its GEMMs. docs/cost-model.md ("Time") lists each kernel's bytes.
//
// Shapes: b sequences of s tokens per micro-batch, n = b*s/cp tokens per GPU; h hidden, f the MLP width, kv
// the key/value width, a heads of width d = h/a, V the vocabulary, t the tensor-parallel degree.
// With sequence parallelism (t > 1) the norms, residual adds and dropouts run on n/t tokens.

#include <vector>

#include "pp/cluster.h"
#include "pp/model.h"
#include "pp/planner/layer_profile.h"

namespace pp {

// kCommunication: tensor-parallel collectives; kContextRing: context parallelism's key/value ring.
enum class KernelKind { kGemm, kAttention, kMemory, kCommunication, kContextRing };

struct Kernel {
  const char* name = "";  // e.g. "qkv", "qkv wgrad", "softmax", "mlp all-reduce"
  KernelKind kind = KernelKind::kMemory;
  double ms = 0;                  // exposed time (communication: less its overlap)
  bool weight_gradient = false;   // part of the backward's weight-gradient pass (W)
  bool attention_core = false;    // recomputed under selective recompute (QK^T .. AV)
};

struct LayerKernels {
  std::vector<Kernel> forward, backward;
  double forward_ms() const;
  double backward_ms() const;
  double wgrad_ms() const;                // the backward's weight-gradient kernels
  double communication_ms() const;        // tensor-parallel, forward and backward, exposed
  double attention_core_forward_ms() const;
};

struct KernelContext {
  const ModelConfig* model = nullptr;
  int microbatch_size = 1;  // b
  int seq_len = 1;          // s
  int tp = 1;               // t
  bool sequence_parallel = true;
  bool flash_attention = true;
  bool dropout = false;
  const GpuSpec* gpu = nullptr;
  const LinkSpec* tp_link = nullptr;  // the tensor-parallel group's link
  // With sequence parallelism: each all-gather and reduce-scatter runs beside the GEMM that
  // consumes or produces it (forward and backward), paying only what that GEMM does not hide.
  bool tp_overlap = false;
  // The blocks' linear layers (forward, dgrad, wgrad GEMMs) in FP8, each operand cast (and
  // transposed, for the other GEMM that reads it) by a 4-byte-per-element kernel; the attention
  // core and the LM head stay bf16, as Megatron-LM with Transformer Engine runs them.
  bool fp8 = false;
  // Context parallelism (needs flash attention): each GPU holds s/cp of every sequence's tokens
  // (n = b*s/cp), does 1/cp of the causal attention work (Megatron-LM's load-balanced split) and
  // passes the key/value chunks around the cp ring in cp-1 steps beside it (in the backward the
  // key/value chunks and their gradients), over cp_link.
  int cp = 1;
  const LinkSpec* cp_link = nullptr;
};

// The kernels of one layer of the given kind on one GPU.
LayerKernels layer_kernels(LayerKind kind, const KernelContext& context);

}  // namespace pp
