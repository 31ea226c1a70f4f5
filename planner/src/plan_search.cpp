#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "pp/error.h"
#include "pp/planner/plan_search.h"
#include "pp/planner/plan_simulation.h"

namespace pp {

std::string describe_layout(const Layout& l) {
  std::string text = l.cp > 1 ? fmt::format("tp={} cp={} pp={} dp={}", l.tp, l.cp, l.pp, l.dp)
                              : fmt::format("tp={} pp={} dp={}", l.tp, l.pp, l.dp);
  text += fmt::format(", micro-batch {} x {}, {}", l.microbatch_size, l.microbatches, l.schedule);
  if (l.virtual_stages > 1) text += fmt::format(" V={}", l.virtual_stages);
  if (l.checkpoint_interval == 0) {
    text += l.selective_recompute ? ", selective recompute" : ", no recompute";
  } else {
    text += fmt::format(", recompute every {}", l.checkpoint_interval);
    if (l.selective_recompute) text += " (selective in the others)";
  }
  if (l.distributed_optimizer) text += ", distributed optimizer";
  if (l.tp_overlap) text += ", tp overlap";
  return text;
}

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

class ProfileCache {
 public:
  explicit ProfileCache(const PlanRequest& r) : r_(r) {}
  const ModelProfile& at(int b) {
    auto it = cache_.find(b);
    if (it != cache_.end()) return it->second;
    ModelProfile p = r_.measured ? measured_profile(r_.model, *r_.measured, b, r_.seq_len, r_.profile_origin)
                                 : analytic_profile(r_.model, b, r_.seq_len);
    return cache_.emplace(b, std::move(p)).first->second;
  }

 private:
  const PlanRequest& r_;
  std::map<int, ModelProfile> cache_;
};

struct Scored {
  Candidate candidate;
  double step_ms = 0;
  double bubble = 0;
  double recompute_share = 0;
  double tp_share = 0;
  double step_end_ms = 0;  // the slowest rank's exposed reductions + optimizer step
};

void predict(const PlanRequest& r, const ModelProfile& profile, double step_ms, double bubble,
             Plan* plan) {
  double recompute_flops = 0;
  int block = 0;
  for (const LayerProfile& l : profile.layers) {
    if (l.kind != LayerKind::kBlock) continue;
    if (is_recomputed(block++, plan->layout.checkpoint_interval)) {
      recompute_flops += l.forward_flops;
    } else if (plan->layout.selective_recompute) {
      recompute_flops += l.attention_flops;
    }
  }
  const double sequences_per_mb = profile.microbatch_size;
  const double model_flops = 3 * profile.forward_flops() / sequences_per_mb * r.global_batch;
  const double hardware_flops = model_flops + recompute_flops / sequences_per_mb * r.global_batch;
  PlanPrediction& p = plan->predicted;
  p.step_time_s = step_ms / 1e3;
  p.bubble_fraction = bubble;
  p.tokens_per_s = double(r.global_batch) * r.seq_len / p.step_time_s;
  p.model_tflops_per_gpu = model_flops / p.step_time_s / r.gpus / 1e12;
  p.hardware_tflops_per_gpu = hardware_flops / p.step_time_s / r.gpus / 1e12;
  p.mfu = p.model_tflops_per_gpu * 1e12 / r.cluster.gpu.peak_flops.at("bf16");
  p.peak_memory_bytes = 0;
  for (const StagePlan& s : plan->stages) p.peak_memory_bytes = std::max(p.peak_memory_bytes, s.peak_memory_bytes);
}

void fill_plan_header(const PlanRequest& r, Plan* plan) {
  plan->model = r.model.name;
  plan->cluster = r.cluster.name;
  plan->model_config = r.model;
  plan->cluster_spec = r.cluster;
  plan->gpus = r.gpus;
  plan->global_batch = r.global_batch;
  plan->seq_len = r.seq_len;
  plan->profile = r.profile_origin;
  plan->precision = r.memory.fp8 ? "fp8" : "bf16";
  plan->grad_dtype = r.memory.gradient_bytes == 2 ? "bf16" : "fp32";
}

// The busiest rank's share of time in tensor-parallel communication and in recompute.
void shares(const Candidate& c, Scored* s) {
  std::vector<double> total(c.layout.pp, 0), tp(c.layout.pp, 0), recompute(c.layout.pp, 0);
  for (const StagePlan& st : c.plan.stages) {
    for (int i = st.first_layer; i <= st.last_layer; ++i) {
      total[st.rank] += c.costs[i].forward_ms + c.costs[i].backward_ms;
      tp[st.rank] += c.costs[i].tp_comm_ms;
      recompute[st.rank] += c.costs[i].recompute_ms;
    }
  }
  const auto busiest = std::max_element(total.begin(), total.end()) - total.begin();
  for (int rank = 0; rank < c.layout.pp; ++rank) {
    s->step_end_ms = std::max(s->step_end_ms, c.plan.reduce_ms[static_cast<std::size_t>(rank)] +
                                                  c.plan.optimizer_ms[static_cast<std::size_t>(rank)]);
  }
  s->tp_share = total[busiest] > 0 ? tp[busiest] / total[busiest] : 0;
  s->recompute_share = total[busiest] > 0 ? recompute[busiest] / total[busiest] : 0;
}

// Simulates a finalist; re-partitions once with the simulated live activations when the closed
// form under-estimated them. Returns false when it no longer fits.
bool score(const PlanRequest& r, ProfileCache& profiles, Candidate c, Scored* out) {
  const ModelProfile& profile = profiles.at(c.layout.microbatch_size);
  fill_plan_header(r, &c.plan);
  SimulationResult sim = simulate_plan(c.plan);
  std::vector<double> inflight;
  bool larger = false;
  for (const RankMetrics& m : sim.metrics.ranks) {
    inflight.push_back(m.peak_inflight_microbatches);
    larger |= m.peak_inflight_microbatches > c.inflight[m.rank] + 1e-9;
  }
  if (larger) {
    c = evaluate_layout(r, profile, c.layout, &inflight);
    if (!c.fits) return false;
    fill_plan_header(r, &c.plan);
    sim = simulate_plan(c.plan);
  }
  c.inflight = inflight;
  predict(r, profile, sim.metrics.makespan_ms, sim.metrics.bubble_fraction, &c.plan);
  out->step_ms = sim.metrics.makespan_ms;
  out->bubble = sim.metrics.bubble_fraction;
  shares(c, out);
  out->candidate = std::move(c);
  return true;
}

// #1's figures, and against the runner-up, what #1 gains where the runner-up loses most.
std::string why_best(const PlanRequest& r, const std::vector<Scored>& scored) {
  const Scored& s = scored.front();
  const double spare = r.memory_limit_bytes - s.candidate.plan.predicted.peak_memory_bytes;
  std::string text = fmt::format("fastest: {:.1f}% bubble, {:.0f}% of compute in tensor-parallel "
                                 "communication, {:.0f}% recompute, {:.3g} ms step end "
                                 "(gradient reduction + optimizer); {:.1f} GiB to spare",
                                 100 * s.bubble, 100 * s.tp_share, 100 * s.recompute_share,
                                 s.step_end_ms, spare / kGiB);
  if (scored.size() > 1 && scored[1].bubble + 0.005 < s.bubble && scored[1].step_end_ms > s.step_end_ms) {
    text += fmt::format("; #2 has less bubble ({:.1f}%) but a longer step end ({:.3g} ms)",
                        100 * scored[1].bubble, scored[1].step_end_ms);
  }
  return text;
}

// Where `s` loses most against `best`: bubble, recompute, tensor-parallel communication or the
// step end, as "+x.x% step time vs <label>: <reason>".
std::string why_behind(const RankedPlan& best, const RankedPlan& s, const std::string& label) {
  const PlanPrediction& b = best.plan.predicted;
  const PlanPrediction& x = s.plan.predicted;
  const double slower = 100 * (x.step_time_s / b.step_time_s - 1);
  struct Reason {
    double weight;
    std::string text;
  };
  std::vector<Reason> reasons = {
      {x.bubble_fraction - b.bubble_fraction,
       fmt::format("more pipeline bubble ({:.1f}% vs {:.1f}%)", 100 * x.bubble_fraction, 100 * b.bubble_fraction)},
      {s.recompute_share - best.recompute_share,
       fmt::format("recompute takes {:.0f}% of its compute (vs {:.0f}%)", 100 * s.recompute_share,
                   100 * best.recompute_share)},
      {s.tp_comm_share - best.tp_comm_share,
       fmt::format("tensor-parallel communication takes {:.0f}% (vs {:.0f}%)", 100 * s.tp_comm_share,
                   100 * best.tp_comm_share)},
      {(s.step_end_ms - best.step_end_ms) / (1e3 * b.step_time_s),
       fmt::format("a longer step end, gradient reduction + optimizer ({:.3g} ms vs {:.3g} ms)",
                   s.step_end_ms, best.step_end_ms)},
  };
  const auto top = std::max_element(reasons.begin(), reasons.end(),
                                    [](const Reason& a, const Reason& c) { return a.weight < c.weight; });
  const std::string reason = top->weight > 0.005 ? top->text : "slower stages at this shape";
  return fmt::format("{:+.1f}% step time vs {}: {}", slower, label, reason);
}

RankedPlan ranked_of(const Scored& s) {
  RankedPlan ranked;
  ranked.plan = s.candidate.plan;
  ranked.tp_comm_share = s.tp_share;
  ranked.recompute_share = s.recompute_share;
  ranked.step_end_ms = s.step_end_ms;
  return ranked;
}

bool any_choice_fixed(const PlanChoices& f) {
  return f.tp || f.cp || f.pp || f.dp || f.microbatch_size || f.microbatches || f.schedule || f.virtual_stages ||
         f.checkpoint_interval || f.selective_recompute || f.distributed_optimizer || f.tp_overlap;
}

// The search with every choice auto, set beside the fixed request's best plan.
std::optional<AutoComparison> versus_auto(const PlanRequest& r, const RankedPlan& fixed_best) {
  PlanRequest free = r;
  free.fixed = PlanChoices{};
  free.top = 1;
  const PlanSearchResult result = search_plans(free);
  if (result.plans.empty()) return std::nullopt;
  AutoComparison c{result.plans.front(), ""};
  const double fixed_s = fixed_best.plan.predicted.step_time_s;
  const double auto_s = c.plan.plan.predicted.step_time_s;
  if (describe_layout(c.plan.plan.layout) == describe_layout(fixed_best.plan.layout)) {
    c.why = "the fixed choices' #1 is the plan the auto search picks";
  } else if (auto_s < fixed_s * (1 - 1e-9)) {
    c.why = "the fixed choices' #1 is " + why_behind(c.plan, fixed_best, "every choice auto");
  } else {
    c.why = fmt::format("the fixed choices' #1 is as fast or faster ({:.3g} s vs {:.3g} s): the auto search, "
                        "which simulates only its {} best by the closed form, did not reach it",
                        fixed_s, auto_s, r.simulate_top);
  }
  return c;
}

// Estimate-only search for "what would fit" suggestions.
std::optional<Layout> best_fitting(PlanRequest r) {
  r.estimate_only = true;
  r.top = 1;
  const PlanSearchResult result = search_plans(r);
  if (result.plans.empty()) return std::nullopt;
  return result.plans.front().plan.layout;
}

std::vector<std::string> what_would_fit(const PlanRequest& r) {
  std::vector<std::string> out;
  const PlanChoices none{};
  auto relaxed = [&](auto change, const std::string& label) {
    PlanRequest alternative = r;
    change(alternative);
    if (auto layout = best_fitting(alternative)) {
      out.push_back(fmt::format("fits {}: {}", label, describe_layout(*layout)));
      return true;
    }
    return false;
  };
  if (any_choice_fixed(r.fixed)) relaxed([&](PlanRequest& a) { a.fixed = none; }, "with every choice left to auto");
  if (r.fixed.checkpoint_interval.value_or(1) != 1) {
    relaxed([](PlanRequest& a) { a.fixed.checkpoint_interval = 1; },
            "with full activation checkpointing (--ckpt-interval 1)");
  }
  if (!r.fixed.distributed_optimizer.value_or(true)) {
    relaxed([](PlanRequest& a) { a.fixed.distributed_optimizer = true; },
            "with the optimizer state sharded over data parallelism (--distributed-optimizer on)");
  }
  if (r.fixed.microbatch_size.value_or(1) != 1) {
    relaxed([](PlanRequest& a) { a.fixed.microbatch_size = 1; a.fixed.microbatches.reset(); },
            "with micro-batch size 1");
  }
  for (int factor : {2, 4, 8}) {
    if (relaxed([&](PlanRequest& a) { a.gpus = r.gpus * factor; a.fixed.dp.reset(); },
                fmt::format("on {} GPUs", r.gpus * factor))) {
      break;
    }
  }
  if (out.empty()) out.push_back("nothing tried fits: a larger memory, more GPUs (over 8x) or a smaller model");
  return out;
}

std::vector<std::string> infeasible_reasons(const PlanRequest& r, const std::vector<Layout>& layouts,
                                            const Candidate* closest) {
  std::vector<std::string> reasons;
  if (layouts.empty()) {
    reasons.push_back(fmt::format(
        "no layout: --global-batch {} on {} GPUs admits no tp x cp x pp x dp with dp dividing the "
        "batch, tp dividing the {} heads, pp at most the {} layers, pp x V x micro-batches at "
        "most {}, and the fixed choices",
        r.global_batch, r.gpus, r.model.heads, r.model.layers + 2, kMaxPlanStageMicrobatches));
  } else if (closest != nullptr) {
    reasons.push_back(fmt::format("memory: the closest layout ({}) does not fit: {}",
                                  describe_layout(closest->layout), closest->why_not));
  }
  if (!r.estimate_only) {
    for (std::string& s : what_would_fit(r)) reasons.push_back(std::move(s));
  }
  return reasons;
}

}  // namespace

PlanSearchResult search_plans(const PlanRequest& r) {
  check_plan_request(r);
  PlanSearchResult result;
  const std::vector<Layout> layouts = enumerate_layouts(r);
  result.layouts = static_cast<long long>(layouts.size());
  ProfileCache profiles(r);
  std::vector<Candidate> fitting;
  std::optional<Candidate> closest;
  for (const Layout& layout : layouts) {
    Candidate c = evaluate_layout(r, profiles.at(layout.microbatch_size), layout);
    if (c.fits) {
      fitting.push_back(std::move(c));
    } else if (!closest || (c.needed_bytes > 0 && c.needed_bytes < closest->needed_bytes)) {
      closest = std::move(c);
    }
  }
  result.fitting = static_cast<long long>(fitting.size());
  if (fitting.empty()) {
    result.infeasible = infeasible_reasons(r, layouts, closest ? &*closest : nullptr);
    return result;
  }
  std::sort(fitting.begin(), fitting.end(),
            [](const Candidate& a, const Candidate& b) { return a.estimate_ms < b.estimate_ms; });
  std::vector<Scored> scored;
  const std::size_t finalists = std::min<std::size_t>(fitting.size(), r.estimate_only ? r.top : r.simulate_top);
  for (std::size_t i = 0; i < finalists; ++i) {
    Scored s;
    if (r.estimate_only) {
      s.candidate = fitting[i];
      s.step_ms = fitting[i].estimate_ms;
      fill_plan_header(r, &s.candidate.plan);
      predict(r, profiles.at(s.candidate.layout.microbatch_size), s.step_ms, 0, &s.candidate.plan);
      scored.push_back(std::move(s));
    } else if (score(r, profiles, fitting[i], &s)) {
      ++result.simulated;
      scored.push_back(std::move(s));
    }
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const Scored& a, const Scored& b) { return a.step_ms < b.step_ms; });
  for (std::size_t i = 0; i < scored.size() && static_cast<int>(i) < r.top; ++i) {
    RankedPlan ranked = ranked_of(scored[i]);
    ranked.why = i == 0 ? why_best(r, scored) : why_behind(result.plans.front(), ranked, "#1");
    result.plans.push_back(std::move(ranked));
  }
  if (!result.plans.empty() && !r.estimate_only && any_choice_fixed(r.fixed)) {
    result.versus_auto = versus_auto(r, result.plans.front());
  }
  if (result.plans.empty()) {
    result.infeasible = {"memory: every candidate that fit by the closed form needed more once "
                         "simulated (the schedule keeps more micro-batches alive)"};
  }
  return result;
}

}  // namespace pp
