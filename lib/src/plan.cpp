#include "pp/plan.h"

#include <nlohmann/json.hpp>

#include "config_json.h"
#include "json_fields.h"
#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/schedule_generators.h"

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
          {"peak_memory_bytes", s.peak_memory_bytes},
          {"activation_bytes", s.activation_bytes}};
}

// Reads "layers": [first, last] with both in 0..max_layer (no silent narrowing to int).
void read_layers(const nlohmann::json& j, const JsonFields& f, int max_layer, StagePlan* s) {
  const auto& v = j.contains("layers") ? j.at("layers") : nlohmann::json();
  const auto in_range = [&](const nlohmann::json& x) {
    return x.is_number_integer() && !(x.is_number_unsigned() && x.get<std::uint64_t>() > 1ULL << 40) &&
           x.get<long long>() >= 0 && x.get<long long>() <= max_layer;
  };
  if (!v.is_array() || v.size() != 2 || !in_range(v[0]) || !in_range(v[1])) {
    f.fail("layers", fmt::format("must be [first, last], whole numbers in 0..{}", max_layer));
  }
  s->first_layer = v[0].get<int>();
  s->last_layer = v[1].get<int>();
  if (s->last_layer < s->first_layer) f.fail("layers", "must be [first, last] with first <= last");
}

StagePlan stage_from_json(const nlohmann::json& j, const std::string& origin, std::size_t i,
                          int max_layer) {
  const JsonFields f(j, origin, fmt::format("stages[{}].", i));
  StagePlan s;
  s.stage = static_cast<int>(f.integer("stage", 0, 1 << 20));
  s.rank = static_cast<int>(f.integer("rank", 0, 1 << 20));
  read_layers(j, f, max_layer, &s);
  s.forward_ms = f.number("forward_ms", 0, 1e12);
  s.backward_ms = f.number("backward_ms", 0, 1e12);
  s.wgrad_ms = f.number("wgrad_ms", 0, s.backward_ms);
  s.p2p_ms = f.number("p2p_ms", 0, 1e12);
  s.peak_memory_bytes = f.number("peak_memory_bytes", 0, 1e18);
  s.activation_bytes = f.has("activation_bytes") ? f.number("activation_bytes", 0, s.peak_memory_bytes) : 0;
  return s;
}

// The schedule is known and defined for the layout; returns the rank of each virtual stage from
// its placement.
std::vector<int> stage_ranks(const Layout& l, const JsonFields& f) {
  const ScheduleGenerator* generator = nullptr;
  for (const ScheduleGenerator& g : schedule_generators()) {
    if (g.name == l.schedule) generator = &g;
  }
  if (generator == nullptr) f.fail("schedule", fmt::format("unknown schedule '{}' (known: {})", l.schedule, schedule_names()));
  const ScheduleSpec spec{l.pp, l.microbatches, l.virtual_stages};
  if (std::string why = generator->unsupported(spec); !why.empty()) f.fail("schedule", fmt::format("'{}' {}", l.schedule, why));
  return rank_of_each_stage(generator->placement(spec));
}

// Stage i is virtual stage i on the rank the schedule's placement gives it, and the stages cover
// the layers 0..last in order.
void check_stages(const Plan& p, const JsonFields& f) {
  const std::vector<int> rank_of = stage_ranks(p.layout, f);
  int next_layer = 0;
  for (std::size_t i = 0; i < p.stages.size(); ++i) {
    const StagePlan& s = p.stages[i];
    const std::string key = fmt::format("stages[{}]", i);
    if (s.stage != static_cast<int>(i)) f.fail(key + ".stage", fmt::format("must be {}", i));
    if (s.rank != rank_of[i]) {
      f.fail(key + ".rank", fmt::format("must be {} (where schedule {} places stage {})", rank_of[i],
                                        p.layout.schedule, i));
    }
    if (s.first_layer != next_layer) {
      f.fail(key + ".layers", fmt::format("must start at layer {}, where the previous stage ends", next_layer));
    }
    next_layer = s.last_layer + 1;
  }
  const int layers = p.model_config.layers + 2;
  if (next_layer != layers) {
    f.fail("stages", fmt::format("cover layers 0..{}, but {} has {} (embedding, {} blocks, head)",
                                 next_layer - 1, p.model_config.name, layers, p.model_config.layers));
  }
}

std::vector<double> numbers(const nlohmann::json& doc, const JsonFields& f, const char* key,
                            std::size_t count) {
  if (!doc.contains(key) || !doc.at(key).is_array()) f.fail(key, "must be a list of numbers");
  std::vector<double> out;
  for (const auto& v : doc.at(key)) {
    if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1e12)) {
      f.fail(key, "must be a list of numbers in 0..1e12");
    }
    out.push_back(v.get<double>());
  }
  if (out.size() != count) f.fail(key, fmt::format("must have one entry per pipeline rank ({}), not {}", count, out.size()));
  return out;
}

// Version 2 carries the model and cluster; version 1 names them only.
void read_configs(const JsonFields& f, const std::string& origin, long long version, Plan* p) {
  if (version >= 2) {
    p->model_config = read_model_config(f.object("model_config"), p->model);
    p->cluster_spec = read_cluster(f.object("cluster_spec"), p->cluster);
    return;
  }
  try {
    p->model_config = load_model(p->model);
    p->cluster_spec = load_cluster(p->cluster);
  } catch (const Error& e) {
    throw Error(e.category(), fmt::format("{}: a version 1 plan names its model and cluster only, "
                                          "and they cannot be loaded ({}); run pp plan again to write "
                                          "a version 2 plan, which carries them",
                                          origin, e.what()));
  }
}

PlanPrediction read_prediction(const JsonFields& r) {
  // Any finite non-negative figure pp plan may write is accepted (a profile can claim any speed).
  constexpr double kHuge = 1e300;
  PlanPrediction x;
  x.step_time_s = r.number("step_time_s", 0, kHuge);
  x.bubble_fraction = r.number("bubble_fraction", 0, 1);
  x.tokens_per_s = r.number("tokens_per_s", 0, kHuge);
  x.model_tflops_per_gpu = r.number("model_tflops_per_gpu", 0, kHuge);
  x.hardware_tflops_per_gpu = r.number("hardware_tflops_per_gpu", 0, kHuge);
  x.mfu = r.number("mfu", 0, kHuge);
  x.peak_memory_bytes = r.number("peak_memory_bytes", 0, kHuge);
  return x;
}

void read_layout(const JsonFields& f, Layout* l) {
  l->tp = static_cast<int>(f.integer("tp", 1, kMaxTensorParallel));
  l->cp = f.has("cp") ? static_cast<int>(f.integer("cp", 1, kMaxTensorParallel)) : 1;
  l->pp = static_cast<int>(f.integer("pp", 1, kMaxRanks));
  l->dp = static_cast<int>(f.integer("dp", 1, 1 << 24));
  l->microbatch_size = static_cast<int>(f.integer("microbatch_size", 1, kMaxMicrobatchSize));
  l->microbatches = static_cast<int>(f.integer("microbatches", 1, kMaxMicrobatches));
  l->schedule = f.text("schedule");
  l->virtual_stages = static_cast<int>(f.integer("virtual_stages", 1, kMaxVirtualStages));
  l->checkpoint_interval = static_cast<int>(f.integer("checkpoint_interval", 0, 1 << 20));
  l->sequence_parallel = f.has("sequence_parallel") ? f.boolean("sequence_parallel") : true;
  l->selective_recompute = f.has("selective_recompute") && f.boolean("selective_recompute");
  l->distributed_optimizer = f.has("distributed_optimizer") && f.boolean("distributed_optimizer");
  l->tp_overlap = f.has("tp_overlap") && f.boolean("tp_overlap");
  if (l->tp_overlap && !(l->sequence_parallel && l->tp > 1)) {
    f.fail("tp_overlap", "needs tp above 1 with sequence_parallel");
  }
}

}  // namespace

std::vector<std::string> pp_run_obstacles(const Plan& p) {
  std::vector<std::string> out;
  const int tp = p.layout.tp;
  if (tp > 1 && (p.model_config.heads % tp != 0 || p.model_config.kv_heads % tp != 0)) {
    out.push_back(fmt::format("tp {} does not divide the model's {} attention heads ({} key/value heads): pass a "
                              "--tp that does",
                              tp, p.model_config.heads, p.model_config.kv_heads));
  }
  if (tp > 1 && p.model_config.gated_mlp() && p.model_config.ffn_hidden % tp != 0) {
    out.push_back(fmt::format("tp {} does not divide the model's MLP width ({}): pass a --tp that does", tp,
                              p.model_config.ffn_hidden));
  }
  if (tp > 1 && (1LL * p.layout.microbatch_size * p.seq_len) % tp != 0) {
    out.push_back(fmt::format("tp {} does not divide a micro-batch's {} tokens (micro-batch size x sequence length), "
                              "which pp run splits over the tensor-parallel ranks: pass a --tp that does",
                              tp, 1LL * p.layout.microbatch_size * p.seq_len));
  }
  if (const std::string gap = runtime_model_gap(p.model_config); !gap.empty()) out.push_back(gap);
  if (p.layout.cp > 1) {
    out.push_back(fmt::format("context parallelism (cp {}): pp run keeps each sequence on one rank (plan with --cp 1)",
                              p.layout.cp));
  }
  if (p.layout.selective_recompute) {
    out.push_back("selective recompute: pp run recomputes whole blocks only (plan with --selective-recompute off)");
  }
  if (tp > p.model_config.vocab) {
    out.push_back(fmt::format("tp {} exceeds the vocabulary ({}): pass a smaller --tp", tp, p.model_config.vocab));
  }
  return out;
}

nlohmann::ordered_json layout_to_json(const Layout& l) {
  return {{"tp", l.tp},
          {"cp", l.cp},
          {"pp", l.pp},
          {"dp", l.dp},
          {"microbatch_size", l.microbatch_size},
          {"microbatches", l.microbatches},
          {"schedule", l.schedule},
          {"virtual_stages", l.virtual_stages},
          {"checkpoint_interval", l.checkpoint_interval},
          {"sequence_parallel", l.sequence_parallel},
          {"selective_recompute", l.selective_recompute},
          {"distributed_optimizer", l.distributed_optimizer},
          {"tp_overlap", l.tp_overlap}};
}

std::vector<std::string> pp_run_differences(const Plan& p) {
  std::vector<std::string> out;
  if (p.layout.distributed_optimizer && p.layout.dp > 1) {
    out.push_back("distributed optimizer: pp run keeps the whole optimizer state on every data-parallel rank, "
                  "so it needs more memory than predicted (the weights are the same)");
  }
  if (p.precision == "fp8") {
    out.push_back("FP8: pp run computes in fp32 on the CPU (and its --precision on GPUs), not FP8, so its steps "
                  "are slower than predicted");
  }
  if (p.layout.tp_overlap) {
    out.push_back("tensor-parallel overlap: pp run does not overlap tensor-parallel communication with GEMMs, "
                  "so its steps take longer than predicted (the weights are the same)");
  }
  return out;
}

std::string plan_to_json_text(const Plan& p) {
  const Layout& l = p.layout;
  ojson stages = ojson::array();
  for (const StagePlan& s : p.stages) stages.push_back(stage_to_json(s));
  const PlanPrediction& r = p.predicted;
  const std::vector<std::string> obstacles = pp_run_obstacles(p);
  ojson doc = {{"schema", "pp.plan"},
               {"version", 2},
               {"model", p.model},
               {"cluster", p.cluster},
               {"gpus", p.gpus},
               {"global_batch", p.global_batch},
               {"seq_len", p.seq_len},
               {"profile", p.profile},
               {"precision", p.precision},
               {"grad_dtype", p.grad_dtype}};
  const ojson layout = layout_to_json(l);
  for (auto it = layout.begin(); it != layout.end(); ++it) doc[it.key()] = it.value();
  const ojson rest = {{"stages", std::move(stages)},
                      {"reduce_ms", p.reduce_ms},
                      {"optimizer_ms", p.optimizer_ms},
                      {"predicted",
                       {{"step_time_s", r.step_time_s},
                        {"bubble_fraction", r.bubble_fraction},
                        {"tokens_per_s", r.tokens_per_s},
                        {"model_tflops_per_gpu", r.model_tflops_per_gpu},
                        {"hardware_tflops_per_gpu", r.hardware_tflops_per_gpu},
                        {"mfu", r.mfu},
                        {"peak_memory_bytes", r.peak_memory_bytes}}},
                      {"runnable_by_pp_run", obstacles.empty()},
                      {"pp_run_obstacles", obstacles},
                      {"pp_run_differences", pp_run_differences(p)},
                      {"model_config", model_config_to_json(p.model_config)},
                      {"cluster_spec", cluster_to_json(p.cluster_spec)}};
  for (auto it = rest.begin(); it != rest.end(); ++it) doc[it.key()] = it.value();
  return doc.dump(2) + "\n";
}

Plan parse_plan(const std::string& text, const std::string& origin) {
  const nlohmann::json doc = parse_json_document(text, origin);
  const JsonFields f(doc, origin);
  if (!f.has("schema") || f.text("schema") != "pp.plan") f.fail("schema", "must be \"pp.plan\"");
  const long long version = f.integer("version", 1, 2);
  Plan p;
  p.model = f.text("model");
  p.cluster = f.text("cluster");
  read_configs(f, origin, version, &p);
  p.gpus = static_cast<int>(f.integer("gpus", 1, 1 << 24));
  p.global_batch = static_cast<int>(f.integer("global_batch", 1, 1 << 30));
  p.seq_len = static_cast<int>(f.integer("seq_len", 1, 1 << 24));
  if (f.has("profile")) p.profile = f.text("profile");
  if (f.has("precision")) {
    p.precision = f.text("precision");
    if (p.precision != "bf16" && p.precision != "fp8") f.fail("precision", "must be \"bf16\" or \"fp8\"");
  }
  if (f.has("grad_dtype")) {
    p.grad_dtype = f.text("grad_dtype");
    if (p.grad_dtype != "fp32" && p.grad_dtype != "bf16") f.fail("grad_dtype", "must be \"fp32\" or \"bf16\"");
  }
  read_layout(f, &p.layout);
  const Layout& l = p.layout;
  if (l.cp > 1 && p.seq_len % (2 * l.cp) != 0) {
    f.fail("cp", fmt::format("{} needs seq_len a multiple of {} (2 x cp chunks)", l.cp, 2 * l.cp));
  }
  if (!doc.contains("stages") || !doc.at("stages").is_array()) f.fail("stages", "must be a list");
  const auto& stages = doc.at("stages");
  if (stages.size() != static_cast<std::size_t>(l.pp) * l.virtual_stages) {
    f.fail("stages", fmt::format("expected pp x virtual_stages = {} entries, found {}",
                                 l.pp * l.virtual_stages, stages.size()));
  }
  for (std::size_t i = 0; i < stages.size(); ++i) {
    if (!stages[i].is_object()) f.fail(fmt::format("stages[{}]", i), "must be an object");
    p.stages.push_back(stage_from_json(stages[i], origin, i, p.model_config.layers + 1));
  }
  check_stages(p, f);
  p.reduce_ms = numbers(doc, f, "reduce_ms", static_cast<std::size_t>(l.pp));
  p.optimizer_ms = numbers(doc, f, "optimizer_ms", static_cast<std::size_t>(l.pp));
  if (f.has("predicted")) p.predicted = read_prediction(f.object("predicted"));
  return p;
}

Plan load_plan(const std::string& path) { return parse_plan(read_text_file(path, "plan"), path); }

}  // namespace pp
