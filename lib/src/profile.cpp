#include "pp/profile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "json_fields.h"
#include "pp/file_io.h"

namespace pp {
namespace {

constexpr double kLeastTotalMs = 1e-6;  // 1 ns

bool mentions_cpu(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.find("cpu") != std::string::npos;
}

}  // namespace

MeasuredProfile parse_profile(const std::string& text, const std::string& origin) {
  const nlohmann::json doc = parse_json_document(text, origin);
  const JsonFields f(doc, origin);
  f.require_schema("pp.profile", 1);
  MeasuredProfile p;
  p.microbatch_size = static_cast<int>(f.integer("microbatch_size", 1, 1 << 20));
  p.seq_len = static_cast<int>(f.integer("seq_len", 1, 1 << 24));
  if (f.has("device")) p.device = f.text("device");
  if (!f.has("layers") || !doc.at("layers").is_array() || doc.at("layers").empty()) {
    f.fail("layers", "must be a non-empty list");
  }
  const auto& layers = doc.at("layers");
  double total_ms = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string prefix = fmt::format("layers[{}].", i);
    if (!layers[i].is_object()) f.fail(fmt::format("layers[{}]", i), "must be an object");
    const JsonFields l(layers[i], origin, prefix);
    LayerMeasurement m;
    m.name = l.has("name") ? l.text("name") : fmt::format("layer {}", i);
    m.fwd_ms = l.number("fwd_ms", 0, 1e9);
    m.bwd_ms = l.number("bwd_ms", 0, 1e9);
    m.wgrad_ms = l.number("wgrad_ms", 0, m.bwd_ms);
    m.param_bytes = l.number("param_bytes", 0, 1e18);
    m.activation_bytes = l.number("activation_bytes", 0, 1e18);
    m.output_bytes = l.number("output_bytes", 0, 1e18);
    p.layers.push_back(m);
    total_ms += m.fwd_ms + m.bwd_ms;
  }
  if (!(total_ms >= kLeastTotalMs)) {
    f.fail("layers", fmt::format("measure {} ms per micro-batch in all (fwd_ms + bwd_ms); a profile "
                                 "must measure at least {} ms",
                                 total_ms, kLeastTotalMs));
  }
  return p;
}

MeasuredProfile load_profile(const std::string& path) {
  return parse_profile(read_text_file(path, "profile"), path);
}

std::string profile_to_json_text(const MeasuredProfile& p) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerMeasurement& m : p.layers) {
    layers.push_back({{"name", m.name},
                      {"fwd_ms", m.fwd_ms},
                      {"bwd_ms", m.bwd_ms},
                      {"wgrad_ms", m.wgrad_ms},
                      {"param_bytes", m.param_bytes},
                      {"activation_bytes", m.activation_bytes},
                      {"output_bytes", m.output_bytes}});
  }
  nlohmann::ordered_json doc = {{"schema", "pp.profile"},
                                {"version", 1},
                                {"microbatch_size", p.microbatch_size},
                                {"seq_len", p.seq_len},
                                {"device", p.device},
                                {"layers", std::move(layers)}};
  return doc.dump(2) + "\n";
}

std::string profile_device_mismatch(const MeasuredProfile& profile, const ClusterSpec& cluster) {
  if (profile.device.empty()) return "";
  const bool cpu_profile = mentions_cpu(profile.device);
  const bool cpu_cluster = cluster.device_kind == DeviceKind::kCpu;
  if (cpu_profile == cpu_cluster) return "";
  return fmt::format("the profile was measured on '{}', but {} has {}s ({}): its times will not "
                     "be this cluster's; measure a profile there, or plan without --profile",
                     profile.device, cluster.name, device_noun(cluster), cluster.gpu.name);
}

}  // namespace pp
