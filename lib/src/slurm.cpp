#include "pp/slurm.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "pp/error.h"

namespace pp {
namespace {

// A whole number in [low, high] spelled by all of `text`, or nothing.
std::optional<int> whole(std::string_view text, int low, int high) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) return std::nullopt;
  return value;
}

constexpr int kMaxTasks = 1 << 24;

std::optional<int> number_variable(const std::function<const char*(const char*)>& env, const char* name, int low) {
  const char* text = env(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  const std::optional<int> value = whole(text, low, kMaxTasks);
  if (!value) throw_invalid(fmt::format("Slurm's {}='{}' is not a whole number of at least {}", name, text, low));
  return value;
}

// SLURM_GPUS_PER_TASK may name a type: "h100:1".
std::optional<int> gpu_count_variable(const std::function<const char*(const char*)>& env, const char* name) {
  const char* text = env(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  std::string_view view(text);
  if (const auto colon = view.rfind(':'); colon != std::string_view::npos) view = view.substr(colon + 1);
  const std::optional<int> value = whole(view, 0, kMaxTasks);
  if (!value) throw_invalid(fmt::format("Slurm's {}='{}' is not a GPU count", name, text));
  return value;
}

std::string plural(int n, const char* word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

}  // namespace

std::vector<int> expand_tasks_per_node(const std::string& text) {
  std::vector<int> counts;
  std::string_view rest(text);
  const auto bad = [&text] {
    throw_invalid(fmt::format("Slurm's tasks per node '{}' is not of the form '4(x2),3'", text));
  };
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    int repeat = 1;
    if (const std::size_t paren = item.find("(x"); paren != std::string_view::npos) {
      if (item.back() != ')') bad();
      const std::optional<int> times = whole(item.substr(paren + 2, item.size() - paren - 3), 1, kMaxTasks);
      if (!times) bad();
      repeat = *times;
      item = item.substr(0, paren);
    }
    const std::optional<int> count = whole(item, 0, kMaxTasks);
    if (!count || counts.size() + repeat > std::size_t(kMaxTasks)) bad();
    counts.insert(counts.end(), repeat, *count);
  }
  if (counts.empty()) bad();
  return counts;
}

std::optional<SlurmAllocation> read_slurm_allocation(const std::function<const char*(const char*)>& env) {
  if (env("SLURM_STEP_NUM_TASKS") == nullptr || env("SLURM_PROCID") == nullptr) return std::nullopt;
  if (env("OMPI_COMM_WORLD_SIZE") != nullptr) return std::nullopt;  // started by mpirun
  SlurmAllocation a;
  a.job_id = env("SLURM_JOB_ID") != nullptr ? env("SLURM_JOB_ID") : "";
  a.tasks = *number_variable(env, "SLURM_STEP_NUM_TASKS", 1);
  a.task_id = number_variable(env, "SLURM_PROCID", 0).value_or(0);
  a.restart_count = number_variable(env, "SLURM_RESTART_COUNT", 0).value_or(0);
  const char* per_node = env("SLURM_STEP_TASKS_PER_NODE");
  a.tasks_per_node = per_node != nullptr ? expand_tasks_per_node(per_node) : std::vector<int>{a.tasks};
  a.gpus_per_task = gpu_count_variable(env, "SLURM_GPUS_PER_TASK");
  a.gpus_on_node = gpu_count_variable(env, "SLURM_GPUS_ON_NODE");
  return a;
}

std::vector<std::string> allocation_mismatches(const SlurmAllocation& a, const Plan& plan, bool gpus) {
  std::vector<std::string> out;
  const Layout& l = plan.layout;
  const int ranks = l.tp * l.pp * l.dp;
  if (a.tasks != ranks) {
    out.push_back(fmt::format("Slurm started {} but the plan needs tp x pp x dp = {} x {} x {} = {} (srun -n {}, "
                              "or make the plan for this allocation: pp plan --gpus {})",
                              plural(a.tasks, "task"), l.tp, l.pp, l.dp, ranks, ranks, a.tasks));
  }
  const int nodes = static_cast<int>(a.tasks_per_node.size());
  const int per_node = plan.cluster_spec.gpus_per_node;
  for (int node = 0; node < nodes; ++node) {
    const int here = a.tasks_per_node[node];
    if (nodes > 1 && l.tp > 1 && here % l.tp != 0) {
      out.push_back(fmt::format("node {} of the step runs {}, not a multiple of the plan's tp {}: a "
                                "tensor-parallel group would span nodes (--ntasks-per-node a multiple of {})",
                                node, plural(here, "task"), l.tp, l.tp));
      break;
    }
    if (per_node > 0 && here > per_node) {
      out.push_back(fmt::format("node {} of the step runs {} but the plan's cluster {} has {} per node "
                                "(--ntasks-per-node {}, or a cluster file for these nodes)",
                                node, plural(here, "task"), plan.cluster_spec.name, plural(per_node, "GPU"), per_node));
      break;
    }
  }
  if (gpus && a.gpus_per_task && *a.gpus_per_task != 1) {
    out.push_back(fmt::format("each task has {}, but pp run drives one GPU per task (--gpus-per-task=1)",
                              plural(*a.gpus_per_task, "GPU")));
  }
  if (gpus && a.gpus_on_node && !a.tasks_per_node.empty()) {
    const int most = *std::max_element(a.tasks_per_node.begin(), a.tasks_per_node.end());
    if (*a.gpus_on_node < most) {
      out.push_back(fmt::format("a node has {} for its {} (one GPU per task: --gpus-per-task=1)",
                                plural(*a.gpus_on_node, "GPU"), plural(most, "task")));
    }
  }
  return out;
}

}  // namespace pp
