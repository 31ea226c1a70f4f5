#pragma once
// A cluster description: the GPU's rates and memory, and the links between GPUs.
// File format: docs/cost-model.md ("Cluster file"); shipped files under configs/clusters/.

#include <map>
#include <string>

namespace pp {

struct LinkSpec {
  double bandwidth_bytes_per_s = 0;  // per GPU, one direction (what a ring step can use)
  double latency_s = 0;              // per message
};

struct GpuSpec {
  std::string name;
  std::map<std::string, double> peak_flops;  // dense peak per precision: "bf16", "fp16", "fp32", ...
  double achievable_fraction = 0.5;          // of peak, for large matrix products
  double memory_bytes = 0;                   // HBM capacity
  double memory_bandwidth_bytes_per_s = 0;   // HBM bandwidth
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
