#pragma once
// A cluster description: the GPU's rates and memory, and the links between GPUs.
// File format: docs/cost-model.md ("Cluster file"); shipped files under configs/clusters/.

#include <map>
#include <string>

namespace pp {

struct LinkSpec {
  double bandwidth_bytes_per_s = 0;  // per GPU, one direction (what a ring step can use)
  double latency_s = 0;              // per message
  // What NCCL's collectives attain over the link (nccl-tests' "bus bandwidth"), per GPU and
  // direction; the file's optional "bus_bandwidth_gb_per_s", else bandwidth_bytes_per_s.
  double bus_bandwidth_bytes_per_s = 0;
};

// How the GPU's kernels attain its peaks (docs/cost-model.md, "Time"). Every field is optional in
// a cluster file; the defaults say "no effect" (no wave quantisation, no fixed cost per tile or
// kernel, full HBM bandwidth), which only a calibrated file should change.
struct KernelEfficiency {
  // Streaming multiprocessors and the GEMM output tile (rows x columns) for wave quantisation:
  // a GEMM's tiles run in waves of sm_count, the last one partly idle. 0: not modelled.
  int sm_count = 0;
  int tile_m = 256, tile_n = 128;
  // A GEMM's fixed cost per output tile (prologue, epilogue) as this many extra elements of its
  // reduction dimension k: efficiency k / (k + gemm_k_overhead).
  double gemm_k_overhead = 0;
  double memory_fraction = 1.0;     // of HBM bandwidth attained by elementwise kernels
  double attention_fraction = 0;    // of the bf16 peak attained by fused (flash) attention;
                                    // 0: half of achievable_fraction
  double kernel_launch_s = 0;       // gap per kernel launch, seconds
  // A collective hidden behind a GEMM still slows it by this fraction of the collective's time
  // (NCCL's kernels take SMs and HBM bandwidth from it). 0: overlap is free.
  double overlap_cost = 0;
  // Of the fp8 peak attained by large FP8 GEMMs (as achievable_fraction is of the bf16 peak);
  // 0: achievable_fraction.
  double fp8_fraction = 0;
};

struct GpuSpec {
  std::string name;
  std::map<std::string, double> peak_flops;  // dense peak per precision: "bf16", "fp16", "fp32", ...
  double achievable_fraction = 0.5;  // of peak, by large GEMMs with full waves and a long k
  double memory_bytes = 0;                   // HBM capacity
  double memory_bandwidth_bytes_per_s = 0;   // HBM bandwidth
  KernelEfficiency kernels;
};

// What a cluster's ranks are: GPUs, or CPU processes (pp run's CPU backend, e.g. cpu-local).
// A cluster file says "device_kind": "cpu" for the latter; the default is "gpu".
enum class DeviceKind { kGpu, kCpu };

struct ClusterSpec {
  std::string name;
  std::string source;  // datasheets the figures come from
  DeviceKind device_kind = DeviceKind::kGpu;
  GpuSpec gpu;
  int gpus_per_node = 8;
  LinkSpec intra_node;  // e.g. NVLink/NVSwitch
  LinkSpec inter_node;  // e.g. InfiniBand, per GPU
};

// Parses a cluster file (schema "pp.cluster", version 1). Throws pp::Error(kInvalidInput) naming
// the field, prefixed with `origin`.
ClusterSpec parse_cluster(const std::string& text, const std::string& origin);

// The cluster file text that parse_cluster() reads back to the same spec (to unit rounding).
std::string cluster_to_json_text(const ClusterSpec& cluster);

// "GPU" or "CPU rank": what one device of the cluster is called in messages.
const char* device_noun(const ClusterSpec& cluster);

// A path, or the name of a shipped cluster under <config_dir>/clusters/<name>.json.
ClusterSpec load_cluster(const std::string& name_or_path);

}  // namespace pp
