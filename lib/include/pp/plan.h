#pragma once
// A training layout and what pp predicts for it: the plan file (schema "pp.plan", version 2)
// written by `pp plan -o` and read by `pp simulate --plan` and `pp run --plan`. Version 2 carries
// the model's config and the cluster inside ("model_config", "cluster_spec"), so a plan needs no
// other file; version 1 plans are still read, their model and cluster loaded by name.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pp/cluster.h"
#include "pp/model.h"
#include "pp/schedule_generators.h"

namespace pp {

// Bounds a plan file's fields are checked against, beside the schedule's (kMaxRanks for pp,
// kMaxVirtualStages, kMaxMicrobatches, kMaxStageMicrobatches); pp plan writes no plan outside them.
inline constexpr int kMaxMicrobatchSize = 1 << 20;  // sequences per micro-batch
inline constexpr int kMaxTensorParallel = 1 << 16;  // tp

struct Layout {
  int tp = 1;                   // tensor-parallel degree
  int cp = 1;                   // context-parallel degree: each sequence's tokens over cp GPUs
  int pp = 1;                   // pipeline stages (ranks of one pipeline)
  int dp = 1;                   // data-parallel replicas (GPUs: tp x cp x pp x dp)
  int microbatch_size = 1;      // sequences per micro-batch
  int microbatches = 1;         // micro-batches per global batch per replica
  std::string schedule = "1f1b";
  int virtual_stages = 1;       // model chunks per pipeline rank
  int checkpoint_interval = 0;  // 0: none; k: blocks with index % k == k-1 are recomputed
  // With tp > 1: norms and residual adds split along the tokens over the tensor-parallel ranks
  // (Korthikanti et al. 2022), as the planner's memory model assumes; false: replicated.
  bool sequence_parallel = true;
  // Selective recompute (Korthikanti et al. 2022): blocks not recomputed whole keep no attention
  // scores and recompute their attention core (QK^T, softmax, dropout, AV) in the backward.
  bool selective_recompute = false;
  // The distributed optimizer (ZeRO-1, Megatron-LM's --use-distributed-optimizer): fp32 master
  // weights and Adam state divided over the dp replicas; gradients reduce-scattered, parameters
  // all-gathered after the step. Changes memory and communication, not the weights.
  bool distributed_optimizer = false;
  // Tensor-parallel communication overlapped with the GEMMs beside it (with sequence
  // parallelism: all-gathers under the column-parallel GEMM, reduce-scatters under the
  // row-parallel one, as Megatron-LM's --tp-comm-overlap). Changes time, not the weights.
  bool tp_overlap = false;
};

// One virtual stage (a chunk of a pipeline rank). Layers are indices into the model's layer
// list: 0 = embedding, 1..L = blocks, L+1 = head.
struct StagePlan {
  int stage = 0;                // virtual stage, 0..pp*V-1
  int rank = 0;                 // pipeline rank holding it
  int first_layer = 0;
  int last_layer = 0;           // inclusive
  double forward_ms = 0;        // per micro-batch
  double backward_ms = 0;       // full backward, recompute included
  double wgrad_ms = 0;          // weight-gradient part of backward_ms
  double p2p_ms = 0;            // transfer to the next stage (0 for the last)
  double peak_memory_bytes = 0; // of the rank holding it
  // Of the rank holding it: the activations alive at the schedule's peak (its in-flight
  // micro-batches times each of the rank's stages' activations), part of peak_memory_bytes.
  double activation_bytes = 0;
};

struct PlanPrediction {
  double step_time_s = 0;
  double bubble_fraction = 0;
  double tokens_per_s = 0;
  double model_tflops_per_gpu = 0;     // 3 x forward FLOPs of the model per step / time / GPUs
  double hardware_tflops_per_gpu = 0;  // with recompute
  double mfu = 0;                      // model FLOP/s over the GPU's bf16 dense peak
  double peak_memory_bytes = 0;        // the largest over ranks
};

struct Plan {
  std::string model;    // the model's name
  std::string cluster;  // the cluster's name
  ModelConfig model_config;  // the model itself (embedded in version 2 files)
  ClusterSpec cluster_spec;  // the cluster itself (embedded in version 2 files)
  int gpus = 1;
  int global_batch = 1;  // sequences per optimizer step
  int seq_len = 1;
  Layout layout;
  std::vector<StagePlan> stages;
  std::vector<double> reduce_ms;     // per pipeline rank: exposed step-end reductions
  std::vector<double> optimizer_ms;  // per pipeline rank
  PlanPrediction predicted;
  std::string profile;  // "analytic" or the measured profile's path
  std::string precision = "bf16";  // of the blocks' linear GEMMs the prediction assumes: bf16 | fp8
  std::string grad_dtype = "fp32";  // of the main gradients the prediction assumes: fp32 | bf16
};

// Why `pp run` cannot execute this plan today (a tp that does not divide the heads or a
// micro-batch's tokens, or exceeds the vocabulary); empty when it can. Each reason names what to
// change ("--tp 1").
std::vector<std::string> pp_run_obstacles(const Plan& plan);

// What `pp run` does differently from the plan's assumptions without changing the weights it
// trains (the optimizer state kept whole on every replica, communication not overlapped with
// GEMMs), so that its memory or time may differ from the prediction; empty when none.
std::vector<std::string> pp_run_differences(const Plan& plan);

// The layout's fields as a plan file writes them ("tp", "cp", ..., "tp_overlap").
nlohmann::ordered_json layout_to_json(const Layout& layout);

// A version 2 plan file, with "runnable_by_pp_run", "pp_run_obstacles" and "pp_run_differences"
// (derived, not read back).
std::string plan_to_json_text(const Plan& plan);
// Throws pp::Error(kInvalidInput) naming the field, prefixed with `origin`. Checks that stage i
// has stage == i, rank == i % pp, layers that continue the previous stage's (from 0 to the head),
// and pp entries in reduce_ms and optimizer_ms. A version 1 plan loads its model and cluster by
// name (load_model, load_cluster), which may throw pp::Error(kIo).
Plan parse_plan(const std::string& text, const std::string& origin);
Plan load_plan(const std::string& path);

}  // namespace pp
