#include "pp/cluster.h"

#include <cstdlib>
#include <filesystem>

#include "config_json.h"
#include "json_fields.h"
#include "pp/file_io.h"
#include "pp/model.h"

namespace pp {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

LinkSpec read_link(const JsonFields& f) {
  LinkSpec link{f.number("bandwidth_gb_per_s", 1e-6, 1e6) * 1e9, f.number("latency_us", 0, 1e6) * 1e-6};
  link.bus_bandwidth_bytes_per_s = f.has("bus_bandwidth_gb_per_s")
                                       ? f.number("bus_bandwidth_gb_per_s", 1e-6, 1e6) * 1e9
                                       : link.bandwidth_bytes_per_s;
  return link;
}

// The optional kernel-efficiency fields of "gpu" (defaults: KernelEfficiency's).
KernelEfficiency read_kernels(const JsonFields& f) {
  KernelEfficiency k;
  if (f.has("sm_count")) k.sm_count = static_cast<int>(f.integer("sm_count", 1, 1 << 20));
  if (f.has("gemm_tile")) {
    const auto& tile = f.raw().at("gemm_tile");
    if (!tile.is_array() || tile.size() != 2 || !tile[0].is_number_integer() ||
        !tile[1].is_number_integer() || tile[0].get<long long>() < 1 || tile[1].get<long long>() < 1 ||
        tile[0].get<long long>() > 4096 || tile[1].get<long long>() > 4096) {
      f.fail("gemm_tile", "must be [rows, columns], two integers 1..4096");
    }
    k.tile_m = tile[0].get<int>();
    k.tile_n = tile[1].get<int>();
  }
  if (f.has("gemm_k_overhead")) k.gemm_k_overhead = f.number("gemm_k_overhead", 0, 1e6);
  if (f.has("memory_fraction")) k.memory_fraction = f.number("memory_fraction", 0.01, 1.0);
  if (f.has("attention_fraction")) k.attention_fraction = f.number("attention_fraction", 0.01, 1.0);
  if (f.has("overlap_cost")) k.overlap_cost = f.number("overlap_cost", 0, 1);
  if (f.has("fp8_fraction")) k.fp8_fraction = f.number("fp8_fraction", 0.01, 1.0);
  if (f.has("kernel_launch_us")) k.kernel_launch_s = f.number("kernel_launch_us", 0, 1e6) * 1e-6;
  return k;
}

GpuSpec read_gpu(const JsonFields& f) {
  GpuSpec gpu;
  gpu.name = f.text("name");
  const JsonFields peaks = f.object("peak_tflops");
  for (const auto& item : peaks.raw().items()) {
    gpu.peak_flops[item.key()] = peaks.number(item.key().c_str(), 1e-6, 1e9) * 1e12;
  }
  if (!gpu.peak_flops.count("bf16")) peaks.fail("bf16", "is missing (pp plans in bf16)");
  gpu.achievable_fraction = f.number("achievable_fraction", 0.01, 1.0);
  gpu.memory_bytes = f.number("memory_gib", 1e-3, 1e6) * kGiB;
  gpu.memory_bandwidth_bytes_per_s = f.number("memory_bandwidth_gb_per_s", 1e-3, 1e9) * 1e9;
  gpu.kernels = read_kernels(f);
  return gpu;
}

// `si` (the spec's SI value) in the file's unit of `si_per_unit` SI units, to 15 significant
// digits: the unit conversions are inexact in binary (0.1 us -> 1e-7 s -> 0.09999999999999999 us),
// and without the rounding every read and write of a cluster (or a plan carrying one) would drift
// it by an ulp, possibly out of the range the parser accepts.
double in_file_units(double si, double si_per_unit) {
  return std::strtod(fmt::format("{:.15g}", si / si_per_unit).c_str(), nullptr);
}

nlohmann::ordered_json link_to_json(const LinkSpec& link) {
  return {{"bandwidth_gb_per_s", in_file_units(link.bandwidth_bytes_per_s, 1e9)},
          {"latency_us", in_file_units(link.latency_s, 1e-6)},
          {"bus_bandwidth_gb_per_s", in_file_units(link.bus_bandwidth_bytes_per_s, 1e9)}};
}

nlohmann::ordered_json gpu_to_json(const GpuSpec& gpu) {
  nlohmann::ordered_json peaks = nlohmann::ordered_json::object();
  for (const auto& [precision, flops] : gpu.peak_flops) peaks[precision] = in_file_units(flops, 1e12);
  const KernelEfficiency& k = gpu.kernels;
  nlohmann::ordered_json out = {
      {"name", gpu.name},
      {"peak_tflops", std::move(peaks)},
      {"achievable_fraction", gpu.achievable_fraction},
      {"memory_gib", in_file_units(gpu.memory_bytes, kGiB)},
      {"memory_bandwidth_gb_per_s", in_file_units(gpu.memory_bandwidth_bytes_per_s, 1e9)},
      {"gemm_tile", {k.tile_m, k.tile_n}},
      {"gemm_k_overhead", k.gemm_k_overhead},
      {"memory_fraction", k.memory_fraction},
      {"kernel_launch_us", in_file_units(k.kernel_launch_s, 1e-6)},
      {"overlap_cost", k.overlap_cost}};
  if (k.sm_count > 0) out["sm_count"] = k.sm_count;
  if (k.attention_fraction > 0) out["attention_fraction"] = k.attention_fraction;
  if (k.fp8_fraction > 0) out["fp8_fraction"] = k.fp8_fraction;
  return out;
}

}  // namespace

ClusterSpec read_cluster(const JsonFields& f, const std::string& default_name) {
  f.require_schema("pp.cluster", 1);
  ClusterSpec c;
  c.name = f.has("name") ? f.text("name") : default_name;
  if (f.has("source")) c.source = f.text("source");
  c.gpu = read_gpu(f.object("gpu"));
  if (f.has("device_kind")) {
    const std::string kind = f.text("device_kind");
    if (kind != "gpu" && kind != "cpu") f.fail("device_kind", "must be \"gpu\" or \"cpu\"");
    c.device_kind = kind == "cpu" ? DeviceKind::kCpu : DeviceKind::kGpu;
  }
  c.gpus_per_node = static_cast<int>(f.integer("gpus_per_node", 1, 1 << 16));
  c.intra_node = read_link(f.object("intra_node"));
  c.inter_node = read_link(f.object("inter_node"));
  return c;
}

ClusterSpec parse_cluster(const std::string& text, const std::string& origin) {
  const nlohmann::json doc = parse_json_document(text, origin);
  return read_cluster(JsonFields(doc, origin), std::filesystem::path(origin).stem().string());
}

nlohmann::ordered_json cluster_to_json(const ClusterSpec& c) {
  return {{"schema", "pp.cluster"},
          {"version", 1},
          {"name", c.name},
          {"source", c.source},
          {"device_kind", c.device_kind == DeviceKind::kCpu ? "cpu" : "gpu"},
          {"gpu", gpu_to_json(c.gpu)},
          {"gpus_per_node", c.gpus_per_node},
          {"intra_node", link_to_json(c.intra_node)},
          {"inter_node", link_to_json(c.inter_node)}};
}

std::string cluster_to_json_text(const ClusterSpec& cluster) {
  return cluster_to_json(cluster).dump(2) + "\n";
}

const char* device_noun(const ClusterSpec& cluster) {
  return cluster.device_kind == DeviceKind::kCpu ? "CPU rank" : "GPU";
}

ClusterSpec load_cluster(const std::string& name_or_path) {
  const std::string path = resolve_config(name_or_path, "clusters", "--cluster");
  return parse_cluster(read_text_file(path, "cluster file"), path);
}

}  // namespace pp
