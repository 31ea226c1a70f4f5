#include "simulate_command.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/gate.h"
#include "pp/plan.h"
#include "pp/planner/bubble_model.h"
#include "pp/planner/plan_simulation.h"
#include "pp/planner/schedule_search.h"
#include "pp/planner/simulation_request.h"
#include "pp/schedule_file.h"
#include "pp/timeline_json.h"
#include "pp/timeline_render.h"
#include "simulate_outputs.h"
#include "number_text.h"
#include "terminal.h"

namespace pp::cli {
namespace {

constexpr const char* kExamples = R"(
Examples:
  pp simulate --stages 4 --microbatches 8 --schedule 1f1b
  pp simulate --stages 4 --microbatches 8 --schedule interleaved --virtual-stages 2 --svg pipe.svg
  pp simulate --stages 4 --microbatches 16 --schedule zb-h1 --fwd-ms 1 --bwd-ms 2 --wgrad-ms 1
  pp simulate --stages 4 --fwd-ms 1.2,1,1,1.5 --bwd-ms 2.4,2,2,3 --p2p-ms 0.1 --trace trace.json
  pp simulate --compare --stages 8 --microbatches 8,16,32 --schedule all
  pp simulate --stages 8 --microbatches 32 --schedule auto --memory-limit 4 --fwd-ms 1,1,1,1,1,1,1,1.6
  pp simulate --schedule-file my_schedule.json --json
  pp simulate --plan plan.json --svg plan.svg
  pp simulate --stages 4 --microbatches 8 --schedule zb-h1 --save-schedule start.json
  pp simulate --plan plan.json --check --max-bubble 0.15 --max-inflight 4   # a CI gate (docs/ci.md)

Costs are per stage per micro-batch; a comma list gives one value per stage (one per stage
boundary for --p2p-ms). In an interleaved schedule each of a rank's V chunks costs 1/V of its
stage. Give - as a file name to write to standard output.
Exit codes: 0 ok; 1 internal error; 2 invalid input (flags, file contents, an invalid schedule);
4 a file cannot be read or written; 6 a --check rule is violated (docs/ci.md). Details: docs/exit-codes.md.)";

// The largest cost a flag accepts, in ms (11.6 days): with it, even the largest schedule pp
// simulates has a finite makespan, and the pictures a finite time axis.
constexpr double kMaxCostMs = 1e9;

// Each value of a cost flag: a finite number of milliseconds in 0..kMaxCostMs.
CLI::Validator milliseconds() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::optional<double> value = number_in(text);
        if (!value) return fmt::format("'{}' is not a number of milliseconds", text);
        if (!std::isfinite(*value) || *value < 0 || *value > kMaxCostMs) {
          return fmt::format("{} is outside 0..1e9 ms", text);  // kMaxCostMs
        }
        return "";
      },
      "");
}

PerRankCosts costs_of(const SimulateOptions& o) {
  return {o.fwd_ms, o.bwd_ms, o.wgrad_ms, o.p2p_ms, o.reduce_ms, o.optimizer_ms};
}

std::vector<std::string> expand_schedule_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (name == "all") {
      for (const auto& g : schedule_generators()) out.emplace_back(g.name);
      out.emplace_back("auto");
    } else {
      out.push_back(name);
    }
  }
  return out;
}

SimulationRequest request_of(const SimulateOptions& o) {
  SimulationRequest request;
  request.costs = costs_of(o);
  if (!o.schedule_file.empty()) {
    request.custom = load_schedule_file(o.schedule_file);
    return request;
  }
  if (o.schedules.size() != 1 || o.schedules[0] == "all") {
    throw_invalid("--schedule: give one schedule (several, or 'all', go with --compare)");
  }
  if (o.microbatches.size() != 1) {
    throw_invalid("--microbatches: give one count (several go with --compare)");
  }
  request.schedule_name = o.schedules[0];
  request.spec = {o.stages, o.microbatches[0], o.virtual_stages};
  return request;
}

bool wants_auto(const SimulateOptions& o) {
  return o.schedule_file.empty() && o.plan.empty() && o.schedules.size() == 1 && o.schedules[0] == "auto";
}

AutoScheduleRequest auto_request(const SimulateOptions& o, int microbatches) {
  return {o.stages, microbatches, costs_of(o), o.memory_limit};
}

std::string plural(long long n, std::string_view word) {
  const bool es = word.back() == 'h';  // micro-batch -> micro-batches
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : es ? "es" : "s");
}

bool uniform(const std::vector<double>& values) {
  for (double v : values) {
    if (v != values.front()) return false;
  }
  return true;
}

std::string closed_form_note(const SimulateOptions& o, const SimulationResult& r) {
  const bool free_comm = o.p2p_ms.size() == 1 && o.p2p_ms[0] == 0;
  if (!o.schedule_file.empty() || !o.plan.empty() || !free_comm || !uniform(o.fwd_ms) || !uniform(o.bwd_ms) ||
      (!o.wgrad_ms.empty() && !uniform(o.wgrad_ms)) || o.reduce_ms > 0 || o.optimizer_ms > 0) {
    return "";
  }
  const double w = o.wgrad_ms.empty() ? o.bwd_ms[0] / 2 : o.wgrad_ms[0];
  const auto closed = closed_form_bubble_fraction(r.schedule.name, r.schedule.ranks,
                                                  r.schedule.microbatches,
                                                  r.schedule.chunks_per_rank, o.fwd_ms[0],
                                                  o.bwd_ms[0], w);
  return closed ? fmt::format(" (closed form {:.2f}%)", 100 * *closed) : "";
}

std::string rank_table(const TimelineMetrics& m) {
  std::string out = fmt::format("{:>6} {:>11} {:>11} {:>7} {:>11} {:>11} {:>11} {:>12} {:>9}\n",
                                "rank", "busy ms", "idle ms", "bubble", "warm-up ms", "drain ms",
                                "comm ms", "imbalance ms", "peak live");
  for (const RankMetrics& r : m.ranks) {
    out += fmt::format("{:>6} {:>11.3f} {:>11.3f} {:>6.1f}% {:>11.3f} {:>11.3f} {:>11.3f} {:>12.3f} "
                       "{:>9.4g}\n",
                       r.rank, r.busy_ms, r.idle_ms, 100 * r.bubble_fraction, r.causes.warmup_ms,
                       r.causes.drain_ms, r.causes.comm_ms, r.causes.imbalance_ms,
                       r.peak_inflight_microbatches);
  }
  return out + "(peak live: micro-batches of activations alive at once on the rank)\n";
}

std::string auto_text(const AutoScheduleResult& a) {
  std::string out = fmt::format("auto: {}; peak live {:.4g} of a limit of {:.4g} micro-batches per rank\n",
                                a.built_by, a.peak, a.memory_limit);
  if (a.best_catalogue) {
    const CatalogueCandidate& c = *a.best_catalogue;
    out += fmt::format("  best catalogue schedule within the limit: {}{} {:.3f} ms (auto {:+.2f}%)\n", c.name,
                       c.chunks > 1 ? fmt::format(" V={}", c.chunks) : "", c.makespan_ms,
                       100 * (a.makespan_ms / c.makespan_ms - 1));
  } else {
    out += "  no catalogue schedule stays within the limit\n";
  }
  out += fmt::format("  lower bound on any schedule: {:.3f} ms (auto {:+.2f}%)\n", a.lower_bound_ms,
                     100 * (a.makespan_ms / a.lower_bound_ms - 1));
  return out;
}

nlohmann::ordered_json auto_json(const AutoScheduleResult& a) {
  nlohmann::ordered_json doc = {{"built_by", a.built_by},
                                {"memory_limit", a.memory_limit},
                                {"peak_inflight_microbatches", a.peak},
                                {"makespan_ms", a.makespan_ms},
                                {"lower_bound_ms", a.lower_bound_ms},
                                {"improving_moves", a.improving_moves}};
  if (a.best_catalogue) {
    doc["best_catalogue"] = {{"schedule", a.best_catalogue->name},
                             {"virtual_stages", a.best_catalogue->chunks},
                             {"makespan_ms", a.best_catalogue->makespan_ms},
                             {"peak_inflight_microbatches", a.best_catalogue->peak}};
  }
  return doc;
}

void print_text(const SimulateOptions& o, const SimulationResult& r) {
  const Schedule& s = r.schedule;
  fmt::print("{}: {}, {}{}; {} actions\n", s.name, plural(s.ranks, "stage"),
             plural(s.microbatches, "micro-batch"),
             s.chunks_per_rank > 1 ? fmt::format(" ({} per rank, {})", plural(s.chunks_per_rank, "chunk"),
                                                 plural(s.stage_count(), "virtual stage"))
                                   : "",
             s.action_count());
  fmt::print("makespan {:.3f} ms, bubble {:.2f}%{}\n", r.metrics.makespan_ms,
             100 * r.metrics.bubble_fraction, closed_form_note(o, r));
  fmt::print("steady state (optimizer step not synchronising the ranks): step {:.3f} ms, bubble "
             "{:.2f}%\n\n",
             r.metrics.steady_step_ms, 100 * r.metrics.steady_bubble_fraction);
  const GanttOptions gantt{o.width > 0 ? o.width : terminal_width(),
                           !o.no_color && color_terminal()};
  fmt::print("{}\n{}", render_gantt(r.timeline, gantt), rank_table(r.metrics));
}

nlohmann::ordered_json json_summary(const SimulationResult& r) {
  nlohmann::ordered_json doc = {{"schema", "pp.simulate"},
                        {"version", 1},
                        {"schedule", r.schedule.name},
                        {"stages", r.schedule.ranks},
                        {"microbatches", r.schedule.microbatches},
                        {"virtual_stages", r.schedule.chunks_per_rank},
                        {"actions", r.schedule.action_count()}};
  const nlohmann::ordered_json metrics = metrics_to_json(r.metrics);
  for (const auto& [key, value] : metrics.items()) doc[key] = value;
  return doc;
}

// The unlowered schedule --save-schedule writes, or nothing when it is not asked for.
std::optional<Schedule> schedule_to_save(const SimulateOptions& o, const SimulationRequest& request,
                                         const Plan* plan) {
  if (o.save_schedule.empty()) return std::nullopt;
  if (plan != nullptr) {
    const Layout& l = plan->layout;
    return generate_schedule(l.schedule, {l.pp, l.microbatches, l.virtual_stages});
  }
  if (request.custom) return *request.custom;
  return generate_schedule(request.schedule_name, request.spec);
}

void run_single(const SimulateOptions& o) {
  check_simulate_outputs(o);
  SimulationResult result;
  SimulationRequest request;
  std::optional<Plan> plan;
  std::optional<AutoScheduleResult> automatic;
  if (o.memory_limit > 0 && !wants_auto(o)) throw_invalid("--memory-limit goes with --schedule auto");
  if (wants_auto(o)) {
    if (o.microbatches.size() != 1) throw_invalid("--microbatches: give one count (several go with --compare)");
    check_schedule_size("v-half", {o.stages, o.microbatches[0], 2});  // the largest the search builds
    automatic = auto_schedule(auto_request(o, o.microbatches[0]));
    request.costs = costs_of(o);
    request.custom = automatic->schedule;
    result = run_simulation(request);
  } else if (!o.plan.empty()) {
    plan = load_plan(o.plan);
    const Layout& l = plan->layout;
    check_schedule_size(l.schedule, {l.pp, l.microbatches, l.virtual_stages});
    result = simulate_plan(*plan);
  } else {
    request = request_of(o);
    result = run_simulation(request);
  }
  const std::optional<Schedule> saved = schedule_to_save(o, request, plan ? &*plan : nullptr);
  write_simulate_outputs(o, result, saved ? &*saved : nullptr);
  const bool stdout_taken = o.trace == "-" || o.svg == "-" || o.save_schedule == "-";
  const std::optional<CheckReport> gate =
      o.gate.check ? std::optional<CheckReport>(check_timeline(result.metrics, o.gate.policy)) : std::nullopt;
  if (o.json) {
    nlohmann::ordered_json doc = json_summary(result);
    if (automatic) doc["auto"] = auto_json(*automatic);
    if (gate) doc["check"] = check_report_json(*gate);
    std::cout << doc.dump(2) << "\n";
  } else if (!stdout_taken) {
    print_text(o, result);
    if (automatic) fmt::print("\n{}", auto_text(*automatic));
  }
  if (gate) report_check(*gate, "the " + result.schedule.name + " schedule");
}

// --compare prints a table of many simulations; the flags that name one schedule's files or a
// plan do not apply to it.
void check_compare_flags(const SimulateOptions& o) {
  std::vector<std::string> refused;
  if (!o.schedule_file.empty()) refused.emplace_back("--schedule-file");
  if (!o.plan.empty()) refused.emplace_back("--plan");
  if (o.gate.check) refused.emplace_back("--check");
  for (const NamedPath& out : simulate_outputs(o)) {
    if (!out.path.empty()) refused.push_back(out.flag);
  }
  if (!refused.empty()) {
    throw_invalid(fmt::format("--compare prints a table and cannot go with {} (simulate one "
                              "schedule without --compare for those)",
                              fmt::join(refused, ", ")));
  }
}

// Per-rank peaks, "4 3.5 3 2.5"; past 8 ranks the first four, "...", and the last two.
std::string peak_cells(const std::vector<double>& peaks) {
  std::vector<std::string> cells;
  for (std::size_t r = 0; r < peaks.size(); ++r) {
    if (peaks.size() > 8 && r >= 4 && r + 2 < peaks.size()) {
      if (r == 4) cells.emplace_back("...");
      continue;
    }
    cells.push_back(fmt::format("{:.4g}", peaks[r]));
  }
  return fmt::format("{}", fmt::join(cells, " "));
}

void run_compare(const SimulateOptions& o) {
  check_compare_flags(o);
  const auto rows = compare_schedules(expand_schedule_names(o.schedules), o.microbatches, o.stages,
                                      o.virtual_stages, costs_of(o), o.memory_limit);
  if (o.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const ComparisonRow& row : rows) {
      nlohmann::ordered_json item = {{"schedule", row.schedule}, {"microbatches", row.microbatches},
                             {"virtual_stages", row.virtual_stages}};
      if (row.unsupported.empty()) {
        item["makespan_ms"] = row.makespan_ms;
        item["bubble_fraction"] = row.bubble_fraction;
        item["steady_bubble_fraction"] = row.steady_bubble_fraction;
        item["peak_inflight_microbatches"] = row.peak_inflight_microbatches;
        item["peak_inflight_per_rank"] = row.peak_per_rank;
      } else {
        item["unsupported"] = row.unsupported;
      }
      out.push_back(item);
    }
    std::cout << nlohmann::ordered_json{{"schema", "pp.compare"}, {"version", 1}, {"stages", o.stages},
                                {"rows", out}}
                     .dump(2)
              << "\n";
    return;
  }
  fmt::print("{} stages; costs per stage per micro-batch: F {} ms, B {} ms\n\n", o.stages,
             fmt::join(o.fwd_ms, ","), fmt::join(o.bwd_ms, ","));
  fmt::print("{:<12} {:>3} {:>6} {:>13} {:>8} {:>8}  {}\n", "schedule", "V", "M", "makespan ms",
             "bubble", "steady", "peak live per rank (rank 0 first)");
  for (const ComparisonRow& row : rows) {
    if (!row.unsupported.empty()) {
      fmt::print("{:<12} {:>3} {:>6}   n/a: {}\n", row.schedule, row.virtual_stages,
                 row.microbatches, row.unsupported);
      continue;
    }
    fmt::print("{:<12} {:>3} {:>6} {:>13.3f} {:>7.2f}% {:>7.2f}%  {}\n", row.schedule,
               row.virtual_stages, row.microbatches, row.makespan_ms, 100 * row.bubble_fraction,
               100 * row.steady_bubble_fraction, peak_cells(row.peak_per_rank));
  }
  fmt::print("\nsteady: the bubble step after step when the optimizer step does not hold the ranks "
             "together (docs/metrics.md)\n");
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  auto options = std::make_shared<SimulateOptions>();
  CLI::App* cmd = app.add_subcommand("simulate", "Show what a pipeline schedule does over time");
  cmd->footer(kExamples);
  auto* stages = cmd->add_option("-k,--stages", options->stages, "Pipeline stages (ranks) K")
                     ->check(CLI::Validator(CLI::TypeValidator<int>()).description(""))
                     ->check(CLI::Range(1, 4096))
                     ->capture_default_str();
  auto* mbs = cmd->add_option("-m,--microbatches", options->microbatches,
                              "Micro-batches per global batch M (a list with --compare)")
                  ->delimiter(',')
                  ->check(CLI::Validator(CLI::TypeValidator<int>()).description(""))
                  ->check(CLI::Range(1, 1 << 20))
                  ->capture_default_str();
  auto* schedule =
      cmd->add_option("-s,--schedule", options->schedules,
                      fmt::format("{}, or auto (built for these costs); a list or 'all' with --compare",
                                  schedule_names()))
          ->delimiter(',')
          ->capture_default_str();
  auto* virt = cmd->add_option("-v,--virtual-stages", options->virtual_stages,
                               "Model chunks per rank V (interleaved, zb1p, looped-bfs; the V-shape ones run 2)")
                   ->check(CLI::Validator(CLI::TypeValidator<int>()).description(""))
                   ->check(CLI::Range(1, 64))
                   ->capture_default_str();
  cmd->add_option("--fwd-ms", options->fwd_ms, "Forward ms per micro-batch (one, or one per stage)")
      ->delimiter(',')
      ->check(milliseconds())
      ->capture_default_str();
  cmd->add_option("--bwd-ms", options->bwd_ms, "Full backward ms per micro-batch")
      ->delimiter(',')
      ->check(milliseconds())
      ->capture_default_str();
  cmd->add_option("--wgrad-ms", options->wgrad_ms,
                  "Weight-gradient part of the backward (default: half of --bwd-ms)")
      ->delimiter(',')
      ->check(milliseconds());
  cmd->add_option("--p2p-ms", options->p2p_ms,
                  "Transfer ms of one activation or gradient (one, or one per stage boundary)")
      ->delimiter(',')
      ->check(milliseconds())
      ->capture_default_str();
  cmd->add_option("--reduce-ms", options->reduce_ms, "Step-end gradient reduction ms per rank")
      ->check(milliseconds());
  cmd->add_option("--optimizer-ms", options->optimizer_ms, "Optimizer step ms per rank")
      ->check(milliseconds());
  cmd->add_option("--memory-limit", options->memory_limit,
                  "--schedule auto: the most micro-batches of activations alive per rank (default: stages, as 1F1B)")
      ->check(CLI::Range(1.0, 1e6));
  cmd->add_option("--schedule-file", options->schedule_file,
                  "Validate and simulate a schedule file (docs/schedule-format.md)")
      ->excludes(stages)
      ->excludes(mbs)
      ->excludes(schedule)
      ->excludes(virt);
  cmd->add_option("--plan", options->plan, "Simulate a plan written by pp plan -o")
      ->excludes(stages)
      ->excludes(mbs)
      ->excludes(schedule)
      ->excludes(virt)
      ->excludes("--schedule-file");
  cmd->add_option("--save-schedule", options->save_schedule,
                  "Write the (unlowered) schedule as a schedule file to start a custom one from");
  cmd->add_option("--trace", options->trace, "Write a Chrome/Perfetto trace (JSON)");
  cmd->add_option("--svg", options->svg, "Write an SVG picture of the timeline");
  cmd->add_flag("--json", options->json, "Print a JSON summary on stdout instead of the chart");
  cmd->add_flag("--compare", options->compare,
                "Table of makespan, bubble and peak live activations per schedule and M");
  cmd->add_option("--width", options->width, "Chart width in columns (80-200; default: terminal)")
      ->check(CLI::Range(80, 200));
  cmd->add_flag("--no-color", options->no_color, "No ANSI colours (also: NO_COLOR=1)");
  add_timeline_check_flags(cmd, &options->gate);
  cmd->callback([options] { run_simulate(*options); });
}

void run_simulate(const SimulateOptions& options) {
  check_gate_flags(options.gate);
  if (options.compare) {
    run_compare(options);
  } else {
    run_single(options);
  }
}

}  // namespace pp::cli
