#include "pp/plan.h"

#include <nlohmann/json.hpp>

#include "json_fields.h"
#include "pp/file_io.h"

namespace pp {
namespace {

using ojson = nlohmann::ordered_json;

ojson stage_to_json(const StagePlan& s) {
  return {{"stage", s.stage},
          {"rank", s.rank},
          {"layers", {s.first_layer, s.last_layer}},
          {"forward_ms", s.forward_ms},
          {"backward_ms", s.backward_ms},
          {"wgrad_ms", s.wgrad_ms},
          {"p2p_ms", s.p2p_ms},
          {"peak_memory_bytes", s.peak_memory_bytes}};
}

StagePlan stage_from_json(const nlohmann::json& j, const std::string& origin, std::size_t i) {
  const JsonFields f(j, origin, fmt::format("stages[{}].", i));
  StagePlan s;
  s.stage = static_cast<int>(f.integer("stage", 0, 1 << 20));
  s.rank = static_cast<int>(f.integer("rank", 0, 1 << 20));
  if (!j.contains("layers") || !j.at("layers").is_array() || j.at("layers").size() != 2 ||
      !j.at("layers")[0].is_number_integer() || !j.at("layers")[1].is_number_integer()) {
    f.fail("layers", "must be [first, last]");
  }
  s.first_layer = j.at("layers")[0].get<int>();
  s.last_layer = j.at("layers")[1].get<int>();
  if (s.first_layer < 0 || s.last_layer < s.first_layer) f.fail("layers", "must be [first, last] with 0 <= first <= last");
  s.forward_ms = f.number("forward_ms", 0, 1e12);
  s.backward_ms = f.number("backward_ms", 0, 1e12);
  s.wgrad_ms = f.number("wgrad_ms", 0, s.backward_ms);
  s.p2p_ms = f.number("p2p_ms", 0, 1e12);
  s.peak_memory_bytes = f.number("peak_memory_bytes", 0, 1e18);
  return s;
}

std::vector<double> numbers(const nlohmann::json& doc, const JsonFields& f, const char* key) {
  if (!doc.contains(key) || !doc.at(key).is_array()) f.fail(key, "must be a list of numbers");
  std::vector<double> out;
  for (const auto& v : doc.at(key)) {
    if (!v.is_number() || v.get<double>() < 0) f.fail(key, "must be a list of non-negative numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

}  // namespace

std::string plan_to_json_text(const Plan& p) {
  const Layout& l = p.layout;
  ojson stages = ojson::array();
  for (const StagePlan& s : p.stages) stages.push_back(stage_to_json(s));
  const PlanPrediction& r = p.predicted;
  ojson doc = {{"schema", "pp.plan"},
               {"version", 1},
               {"model", p.model},
               {"cluster", p.cluster},
               {"gpus", p.gpus},
               {"global_batch", p.global_batch},
               {"seq_len", p.seq_len},
               {"profile", p.profile},
               {"tp", l.tp},
               {"pp", l.pp},
               {"dp", l.dp},
               {"microbatch_size", l.microbatch_size},
               {"microbatches", l.microbatches},
               {"schedule", l.schedule},
               {"virtual_stages", l.virtual_stages},
               {"checkpoint_interval", l.checkpoint_interval},
               {"stages", std::move(stages)},
               {"reduce_ms", p.reduce_ms},
               {"optimizer_ms", p.optimizer_ms},
               {"predicted",
                {{"step_time_s", r.step_time_s},
                 {"bubble_fraction", r.bubble_fraction},
                 {"tokens_per_s", r.tokens_per_s},
                 {"model_tflops_per_gpu", r.model_tflops_per_gpu},
                 {"hardware_tflops_per_gpu", r.hardware_tflops_per_gpu},
                 {"mfu", r.mfu},
                 {"peak_memory_bytes", r.peak_memory_bytes}}}};
  return doc.dump(2) + "\n";
}

Plan parse_plan(const std::string& text, const std::string& origin) {
  const nlohmann::json doc = parse_json_document(text, origin);
  const JsonFields f(doc, origin);
  f.require_schema("pp.plan", 1);
  Plan p;
  p.model = f.text("model");
  p.cluster = f.text("cluster");
  p.gpus = static_cast<int>(f.integer("gpus", 1, 1 << 24));
  p.global_batch = static_cast<int>(f.integer("global_batch", 1, 1 << 30));
  p.seq_len = static_cast<int>(f.integer("seq_len", 1, 1 << 24));
  if (f.has("profile")) p.profile = f.text("profile");
  Layout& l = p.layout;
  l.tp = static_cast<int>(f.integer("tp", 1, 1 << 16));
  l.pp = static_cast<int>(f.integer("pp", 1, 4096));
  l.dp = static_cast<int>(f.integer("dp", 1, 1 << 24));
  l.microbatch_size = static_cast<int>(f.integer("microbatch_size", 1, 1 << 20));
  l.microbatches = static_cast<int>(f.integer("microbatches", 1, 1 << 20));
  l.schedule = f.text("schedule");
  l.virtual_stages = static_cast<int>(f.integer("virtual_stages", 1, 64));
  l.checkpoint_interval = static_cast<int>(f.integer("checkpoint_interval", 0, 1 << 20));
  if (!doc.contains("stages") || !doc.at("stages").is_array()) f.fail("stages", "must be a list");
  for (std::size_t i = 0; i < doc.at("stages").size(); ++i) {
    if (!doc.at("stages")[i].is_object()) f.fail(fmt::format("stages[{}]", i), "must be an object");
    p.stages.push_back(stage_from_json(doc.at("stages")[i], origin, i));
  }
  if (static_cast<int>(p.stages.size()) != l.pp * l.virtual_stages) {
    f.fail("stages", fmt::format("expected pp x virtual_stages = {} entries, found {}",
                                 l.pp * l.virtual_stages, p.stages.size()));
  }
  p.reduce_ms = numbers(doc, f, "reduce_ms");
  p.optimizer_ms = numbers(doc, f, "optimizer_ms");
  if (f.has("predicted")) {
    const JsonFields r = f.object("predicted");
    p.predicted.step_time_s = r.number("step_time_s", 0, 1e12);
    p.predicted.bubble_fraction = r.number("bubble_fraction", 0, 1);
    p.predicted.tokens_per_s = r.number("tokens_per_s", 0, 1e18);
    p.predicted.model_tflops_per_gpu = r.number("model_tflops_per_gpu", 0, 1e9);
    p.predicted.hardware_tflops_per_gpu = r.number("hardware_tflops_per_gpu", 0, 1e9);
    p.predicted.mfu = r.number("mfu", 0, 10);
    p.predicted.peak_memory_bytes = r.number("peak_memory_bytes", 0, 1e18);
  }
  return p;
}

Plan load_plan(const std::string& path) { return parse_plan(read_text_file(path, "plan"), path); }

}  // namespace pp
