#include "pp/cluster.h"

#include <filesystem>

#include "json_fields.h"
#include "pp/file_io.h"
#include "pp/model.h"

namespace pp {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

LinkSpec read_link(const JsonFields& f) {
  return {f.number("bandwidth_gb_per_s", 1e-6, 1e6) * 1e9, f.number("latency_us", 0, 1e6) * 1e-6};
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
  return gpu;
}

}  // namespace

ClusterSpec parse_cluster(const std::string& text, const std::string& origin) {
  const nlohmann::json doc = parse_json_document(text, origin);
  const JsonFields f(doc, origin);
  f.require_schema("pp.cluster", 1);
  ClusterSpec c;
  c.name = f.has("name") ? f.text("name") : std::filesystem::path(origin).stem().string();
  if (f.has("source")) c.source = f.text("source");
  c.gpu = read_gpu(f.object("gpu"));
  c.gpus_per_node = static_cast<int>(f.integer("gpus_per_node", 1, 1 << 16));
  c.intra_node = read_link(f.object("intra_node"));
  c.inter_node = read_link(f.object("inter_node"));
  return c;
}

ClusterSpec load_cluster(const std::string& name_or_path) {
  const std::string path = resolve_config(name_or_path, "clusters", "--cluster");
  return parse_cluster(read_text_file(path, "cluster file"), path);
}

}  // namespace pp
